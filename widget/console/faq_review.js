// The review list (admins; docs/bot.md "Learning from hand-offs"): visitors' questions the
// assistant handed off, offered choices for or answered with low confidence, grouped by the
// entry it picked or would have picked. Each can be added as an example question of an entry,
// added to the labelled questions (with its right entry or "none"), or dismissed. Only the
// text is copied, as the admin edits it here; what looks personal is flagged first, and the
// server refuses it until it is removed. The list disappears with the conversations.
import { h, clear, field } from './dom.js'
import { api } from './api.js'
import { languageName } from './format.js'

// The same checks as services/assistant/faq_review.py `flags`.
const FLAGS = [
  ['email', /[^\s@]+@[^\s@]+\.[^\s@]+/],
  ['phone', /(^|[^\w])\+?\d[\d \-()]{6,}\d(?!\w)/],
  ['digits', /\d{5,}/]
]

export function personalFlags (text) {
  return FLAGS.filter(([, pattern]) => pattern.test(text)).map(([name]) => name)
}

export function faqReviewView (app, view) {
  const t = app.t
  const status = h('p', { class: 'status', id: 'faq-status', role: 'status', 'aria-live': 'polite' })
  const list = h('div')
  let entries = []
  clear(view, h('h1', null, t('nav_faq_review')),
    h('p', { class: 'faq-warning', role: 'note' }, t('faq_review_warning')), status, list)

  async function load () {
    try {
      const [faq, review] = await Promise.all([api('GET', '/faq'), api('GET', '/faq/review')])
      entries = faq.entries
      if (faq.read_only) status.textContent = faq.read_only_reason
      if (!review.groups.length) return clear(list, h('p', { class: 'empty', id: 'faq-review-empty' }, t('faq_review_empty')))
      clear(list, review.groups.map((group) => h('section', { class: 'card faq-review-group' },
        h('h2', null, group.entry_id
          ? t('faq_review_group', { title: group.title || group.entry_id })
          : (group.wording ? t('faq_review_wording', { word: group.wording }) : t('faq_review_no_entry')),
          ' ', h('span', { class: 'meta' }, `(${group.items.length})`)),
        h('ul', { class: 'faq-review-items' }, group.items.map((item) => reviewItem(item, group.entry_id, faq.read_only))))))
    } catch (e) { clear(list, h('p', { class: 'error' }, e.message)) }
  }

  function reviewItem (item, guess, readOnly) {
    const id = 'faq-review-' + item.id
    const text = h('input', { type: 'text', id: id + '-text', value: item.text, maxlength: 500 })
    const warning = h('p', { class: 'faq-flags', id: id + '-flags', hidden: true })
    const showFlags = () => {
      const found = personalFlags(text.value)
      warning.hidden = !found.length
      warning.textContent = found.length ? t('faq_review_flags', { kinds: found.map((f) => t('faq_flag_' + f)).join(', ') }) : ''
    }
    text.addEventListener('input', showFlags)
    showFlags()
    const choices = entries.filter((e) => e[item.language])
    const entry = h('select', { id: id + '-entry' }, h('option', { value: '' }, t('faq_none')),
      choices.map((e) => h('option', { value: e.id }, (e[item.language].title || (e[item.language].questions || [e.id])[0]) + ` (${e.id})`)))
    entry.value = guess && choices.some((e) => e.id === guess) ? guess : ''
    const error = h('p', { class: 'error', hidden: true })
    const li = h('li', { class: 'faq-review-item', 'data-message': item.id },
      field(t('faq_question'), text)[0], warning,
      h('p', { class: 'meta' }, [languageName(t, item.language), t('faq_kind_' + item.kind),
        t('faq_confidence', { percent: Math.round(item.confidence * 100) })].join(' · ')),
      field(t('faq_review_entry'), entry)[0], error,
      h('div', { class: 'row' },
        readOnly ? null : h('button', { type: 'button', onclick: () => act('example') }, t('faq_review_example')),
        readOnly ? null : h('button', { type: 'button', onclick: () => act('labelled') }, t('faq_review_labelled')),
        h('button', { type: 'button', onclick: () => act('dismiss') }, t('dismiss'))))

    async function act (action, confirm) {
      if (action === 'example' && !entry.value) {
        error.hidden = false
        error.textContent = t('faq_review_pick_entry')
        entry.focus()
        return
      }
      try {
        const body = { action, confirm: !!confirm }
        if (action !== 'dismiss') body.text = text.value.trim()
        if (entry.value && action !== 'dismiss') body.entry_id = entry.value
        await api('POST', '/faq/review/' + item.id, body)
        li.remove()
        status.textContent = t('faq_review_done_' + action)
      } catch (err) {
        error.hidden = false
        error.textContent = err.message
        if (err.field === 'confirm') {
          error.append(' ', h('button', { type: 'button', class: 'danger', onclick: () => act(action, true) }, t('faq_save_anyway')))
        } else if (err.field === 'text') text.focus()
      }
    }
    return li
  }
  load()
}
