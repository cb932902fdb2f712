// A tiny element builder. Text is always added as text nodes, never parsed as HTML, so names
// and message text from visitors cannot inject markup (and the CSP needs no exception).
export function h (tag, props, ...children) {
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

export function clear (el, ...children) {
  el.replaceChildren(...children.flat(Infinity).filter((c) => c != null && c !== false))
  return el
}

let counter = 0
export function uid (prefix) {
  counter += 1
  return `${prefix}-${counter}`
}

// A labelled form field: returns [wrapper, input].
export function field (label, input, hint) {
  const id = input.id || (input.id = uid('f'))
  const hintEl = hint ? h('p', { class: 'hint', id: id + '-hint' }, hint) : null
  if (hintEl) input.setAttribute('aria-describedby', hintEl.id)
  return [h('div', { class: 'field' }, h('label', { for: id }, label), input, hintEl), input]
}

export function randomId (prefix = 'c') {
  const bytes = new Uint8Array(12)
  window.crypto.getRandomValues(bytes)
  return prefix + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
}
