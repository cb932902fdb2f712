// The element builder is the widget's (text only ever as text nodes).
import { h } from '../src/dom.js'
export { h }

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
