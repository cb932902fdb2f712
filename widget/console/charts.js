// SVG charts drawn by the console itself (issue 22): no library, no request, nothing inline that
// the console's strict CSP would refuse (attributes only, no style elements). Each chart is
// decorative for assistive technology (aria-hidden): the same figures are in a table next to it.
const NS = 'http://www.w3.org/2000/svg'
const W = 720
const H = 220
const PAD = { left: 44, right: 12, top: 12, bottom: 36 }
export const COLORS = ['#0b57d0', '#b3261e', '#146c2e', '#7c4dff', '#8a5a00']

export function s (tag, attrs, ...children) {
  const el = document.createElementNS(NS, tag)
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value !== null && value !== undefined) el.setAttribute(key, String(value))
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue
    el.append(typeof child === 'string' || typeof child === 'number' ? String(child) : child)
  }
  return el
}

function frame (height = H) {
  return s('svg', { viewBox: `0 0 ${W} ${height}`, class: 'chart', 'aria-hidden': 'true', focusable: 'false', preserveAspectRatio: 'xMidYMid meet' })
}

function niceMax (value) {
  if (value <= 0) return 1
  const power = 10 ** Math.floor(Math.log10(value))
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (value <= step * power) return step * power
  }
  return 10 * power
}

function axes (svg, max, labels, format) {
  const plotH = H - PAD.top - PAD.bottom
  for (const part of [0, 0.5, 1]) {
    const y = PAD.top + plotH * (1 - part)
    svg.append(s('line', { x1: PAD.left, x2: W - PAD.right, y1: y, y2: y, class: 'grid' }),
      s('text', { x: PAD.left - 6, y: y + 4, 'text-anchor': 'end', class: 'tick' }, format(max * part)))
  }
  const every = Math.max(1, Math.ceil(labels.length / 8))
  const slot = (W - PAD.left - PAD.right) / Math.max(1, labels.length)
  labels.forEach((label, i) => {
    if (i % every) return
    svg.append(s('text', { x: PAD.left + slot * (i + 0.5), y: H - PAD.bottom + 16, 'text-anchor': 'middle', class: 'tick' }, label))
  })
  return slot
}

// One bar per label.
export function barChart (labels, values, format = (v) => String(Math.round(v * 10) / 10)) {
  const svg = frame()
  const max = niceMax(Math.max(0, ...values))
  const slot = axes(svg, max, labels, format)
  const plotH = H - PAD.top - PAD.bottom
  values.forEach((value, i) => {
    const height = plotH * value / max
    svg.append(s('rect', {
      x: PAD.left + slot * i + slot * 0.15, y: PAD.top + plotH - height, width: Math.max(1, slot * 0.7), height, fill: COLORS[0]
    }))
  })
  return svg
}

// Lines, one per series ({name, values}); a null value leaves a gap.
export function lineChart (labels, series, format = (v) => String(Math.round(v * 10) / 10)) {
  const svg = frame(H + 24)
  const all = series.flatMap((line) => line.values.filter((v) => v !== null))
  const max = niceMax(Math.max(0, ...all))
  const slot = axes(svg, max, labels, format)
  const plotH = H - PAD.top - PAD.bottom
  series.forEach((line, n) => {
    let points = []
    const flush = () => {
      if (points.length > 1) svg.append(s('polyline', { points: points.join(' '), fill: 'none', stroke: COLORS[n % COLORS.length], 'stroke-width': 2 }))
      points = []
    }
    line.values.forEach((value, i) => {
      if (value === null) return flush()
      const x = PAD.left + slot * (i + 0.5)
      const y = PAD.top + plotH * (1 - value / max)
      points.push(`${x.toFixed(1)},${y.toFixed(1)}`)
      svg.append(s('circle', { cx: x, cy: y, r: 3, fill: COLORS[n % COLORS.length] }))
    })
    flush()
    const x = PAD.left + n * 170
    svg.append(s('rect', { x, y: H + 6, width: 12, height: 12, fill: COLORS[n % COLORS.length] }),
      s('text', { x: x + 18, y: H + 16, class: 'tick' }, line.name))
  })
  return svg
}

// Rows × columns of cells, darker for more.
export function heatmap (rowLabels, columnLabels, values) {
  const cell = (W - PAD.left - PAD.right) / columnLabels.length
  const height = PAD.top + rowLabels.length * 22 + 28
  const svg = frame(height)
  const max = Math.max(1, ...values.flat())
  rowLabels.forEach((label, r) => {
    const y = PAD.top + r * 22
    svg.append(s('text', { x: PAD.left - 6, y: y + 15, 'text-anchor': 'end', class: 'tick' }, label))
    values[r].forEach((value, c) => {
      svg.append(s('rect', {
        x: PAD.left + c * cell + 1, y, width: cell - 2, height: 20, rx: 3,
        fill: COLORS[0], 'fill-opacity': value ? (0.15 + 0.85 * value / max).toFixed(2) : 0.04
      }))
    })
  })
  columnLabels.forEach((label, c) => {
    if (c % 3) return
    svg.append(s('text', { x: PAD.left + c * cell + cell / 2, y: PAD.top + rowLabels.length * 22 + 16, 'text-anchor': 'middle', class: 'tick' }, label))
  })
  return svg
}
