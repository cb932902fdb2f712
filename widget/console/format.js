// Shared formatting: messages, languages, times. Text only, never HTML.
import { h } from './dom.js'

export function languageName (t, code) {
  return t('lang_' + code) === 'lang_' + code ? code : t('lang_' + code)
}

export function shortId (id) {
  return String(id).slice(0, 6)
}

export function formatTime (iso, lang, withDate = false) {
  if (!iso) return ''
  const options = withDate
    ? { dateStyle: 'short', timeStyle: 'short' }
    : { hour: '2-digit', minute: '2-digit' }
  try {
    return new Intl.DateTimeFormat(lang, options).format(new Date(iso))
  } catch (e) {
    return iso
  }
}

export function authorLabel (t, author) {
  if (author.kind === 'agent') return author.name || t('agent')
  if (author.kind === 'bot') return t('assistant')
  if (author.kind === 'system') return t('system')
  return t('visitor')
}

export function messageItem (t, m, lang) {
  return h('li', { class: 'msg ' + m.author.kind },
    h('p', { class: 'meta' },
      h('span', { class: 'author' }, authorLabel(t, m.author)), ' ',
      h('time', { datetime: m.created_at }, formatTime(m.created_at, lang))),
    h('p', { class: 'text' }, m.text))
}
