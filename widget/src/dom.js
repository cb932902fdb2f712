// A tiny element builder, shared with the console (widget/console/dom.js). Text is always added
// as text nodes, never parsed as HTML, so message text and names cannot inject markup (nor need a
// CSP exception).
export function h(tag, props, ...children) {
  const el = document.createElement(tag)
  for (const key in props || {}) {
    const value = props[key]
    if (value == null || value === false) continue
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value)
    else if (key === 'class') el.className = value
    else if (key === 'value') el.value = value
    else if (key === 'checked') el.checked = !!value
    else el.setAttribute(key, value === true ? '' : value)
  }
  for (const child of children.flat(Infinity)) if (child != null && child !== false) el.append(child)
  return el
}

const SVG = 'http://www.w3.org/2000/svg'

export function icon(path) {
  const svg = document.createElementNS(SVG, 'svg')
  svg.setAttribute('viewBox', '0 0 24 24')
  svg.setAttribute('aria-hidden', 'true')
  svg.setAttribute('focusable', 'false')
  const p = document.createElementNS(SVG, 'path')
  p.setAttribute('d', path)
  svg.append(p)
  return svg
}

export const CHAT_ICON = 'M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H8l-5 4V5a2 2 0 0 1 1-2zm3 6v2h10V9zm0-3v2h10V6zm0 6v2h7v-2z'
export const CLOSE_ICON = 'M6.4 5 5 6.4l5.6 5.6L5 17.6 6.4 19l5.6-5.6 5.6 5.6 1.4-1.4-5.6-5.6L19 6.4 17.6 5 12 10.6z'
export const MORE_ICON = 'M12 8a2 2 0 1 0 0-4 2 2 0 0 0 0 4zm0 2a2 2 0 1 0 0 4 2 2 0 0 0 0-4zm0 6a2 2 0 1 0 0 4 2 2 0 0 0 0-4z'

// Elements that take keyboard focus, in document order, that are currently rendered.
export function focusables(root) {
  return [...root.querySelectorAll('button,a[href],input,textarea,[tabindex="0"]')]
    .filter((el) => !el.disabled && el.getClientRects().length > 0)
}

// Colour helpers for WCAG contrast: pick readable text for the theme colour.
function luminance(hex) {
  const n = hex.length === 4 ? hex.replace(/[0-9a-f]/gi, (d) => d + d).slice(1) : hex.slice(1)
  const [r, g, b] = [0, 2, 4].map((i) => {
    const c = parseInt(n.slice(i, i + 2), 16) / 255
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4
  })
  return 0.2126 * r + 0.7152 * g + 0.0722 * b
}

export function contrast(a, b) {
  const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p)
  return (x + 0.05) / (y + 0.05)
}
