// Keyboard shortcuts of the chats view (docs/console.md). Alt with a key works anywhere, in the
// reply box too; `?` outside a text field lists them. event.code keeps them on the same keys
// whatever the keyboard layout (Option+letter types a character on a Mac).
import { h } from './dom.js'

export const SHORTCUTS = [
  ['Alt+↓', 'shortcut_next', 'ArrowDown'],
  ['Alt+↑', 'shortcut_previous', 'ArrowUp'],
  ['Alt+A', 'shortcut_claim', 'KeyA'],
  ['Alt+R', 'shortcut_reply', 'KeyR'],
  ['Alt+K', 'shortcut_canned', 'KeyK'],
  ['Alt+N', 'shortcut_note', 'KeyN'],
  ['Alt+E', 'shortcut_end', 'KeyE'],
  ['?', 'shortcut_help', null]
]

// actions: { next, previous, claim, reply, canned, note, end } → called with no arguments.
export function listen (t, actions, isActive) {
  const byCode = {
    ArrowDown: actions.next,
    ArrowUp: actions.previous,
    KeyA: actions.claim,
    KeyR: actions.reply,
    KeyK: actions.canned,
    KeyN: actions.note,
    KeyE: actions.end
  }
  const onKey = (event) => {
    if (!isActive() || event.defaultPrevented) return
    if (event.altKey && !event.ctrlKey && !event.metaKey && byCode[event.code]) {
      event.preventDefault()
      byCode[event.code]()
    } else if (event.key === '?' && !event.altKey && !event.ctrlKey && !typing(event.target)) {
      event.preventDefault()
      help(t)
    }
  }
  document.addEventListener('keydown', onKey)
  return () => document.removeEventListener('keydown', onKey)
}

function typing (target) {
  return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))
}

export function help (t) {
  const before = document.activeElement
  const close = h('button', { type: 'button', class: 'primary', onclick: () => dialog.close() }, t('close'))
  const dialog = h('dialog', { 'aria-labelledby': 'shortcuts-heading', class: 'shortcuts-dialog' },
    h('h2', { id: 'shortcuts-heading' }, t('shortcuts_heading')),
    h('dl', { class: 'shortcuts' }, SHORTCUTS.map(([keys, label]) => [
      h('dt', null, h('kbd', null, keys)), h('dd', null, t(label))])),
    h('p', { class: 'hint' }, t('shortcuts_hint')),
    close)
  dialog.addEventListener('close', () => {
    dialog.remove()
    if (before && before.isConnected) before.focus()
  })
  document.body.append(dialog)
  dialog.showModal()
  close.focus()
}
