// History of closed conversations (with search) and the offline-message inbox.
import { h, clear, field } from './dom.js'
import { api, query } from './api.js'
import { messageItem, languageName, shortId, formatTime } from './format.js'

export function historyView (app, view) {
  const t = app.t
  const search = h('input', { type: 'search', id: 'history-q', maxlength: 200 })
  const results = h('div', { class: 'results', 'aria-live': 'polite' })
  const detail = h('section', { class: 'transcript', 'aria-labelledby': 'transcript-heading' })
  const form = h('form', { class: 'search', role: 'search', onsubmit: (e) => { e.preventDefault(); load() } },
    field(t('search_messages'), search, t('search_hint'))[0],
    h('button', { type: 'submit' }, t('search')))
  clear(view, h('h1', null, t('nav_history')), form, results, detail)

  async function load () {
    clear(results, h('p', null, t('loading')))
    try {
      const data = await api('GET', '/conversations' + query({ state: 'closed', q: search.value.trim(), limit: 100 }))
      if (!data.conversations.length) return clear(results, h('p', { class: 'empty' }, t('no_results')))
      clear(results, h('table', null,
        h('caption', { class: 'sr-only' }, t('nav_history')),
        h('thead', null, h('tr', null, [t('conversation'), t('language'), t('agent'), t('closed_at'), ''].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', null, data.conversations.map((c) => h('tr', null,
          h('td', null, t('visitor_label', { id: shortId(c.id) })),
          h('td', null, languageName(t, c.language)),
          h('td', null, c.agent ? c.agent.name : '–'),
          h('td', null, formatTime(c.closed_at, app.lang, true)),
          h('td', null, h('button', { type: 'button', onclick: () => open(c.id) }, t('open'),
            h('span', { class: 'sr-only' }, ' ' + t('visitor_label', { id: shortId(c.id) })))))))))
    } catch (e) {
      clear(results, h('p', { class: 'error' }, e.message))
    }
  }

  async function open (id) {
    try {
      const { conversation } = await api('GET', '/conversations/' + encodeURIComponent(id))
      clear(detail,
        h('h2', { id: 'transcript-heading', tabindex: '-1' }, t('chat_with', { id: shortId(id) })),
        h('p', null, languageName(t, conversation.language), ' · ', formatTime(conversation.created_at, app.lang, true)),
        conversation.rating ? h('p', { class: 'rating-comment' }, conversation.rating.score ? t('rating_score', { score: conversation.rating.score }) : t('rating_none'),
          conversation.rating.comment ? [' – ', h('q', null, conversation.rating.comment)] : null) : null,
        h('ol', { class: 'log' }, conversation.messages.map((m) => messageItem(t, m, app.lang))))
      detail.querySelector('h2').focus()
    } catch (e) {
      app.fail(e)
      load()
    }
  }
  load()
}

export function inboxView (app, view) {
  const t = app.t
  const showHandled = h('input', { type: 'checkbox', id: 'show-handled', onchange: () => load() })
  const list = h('div', { class: 'inbox', 'aria-live': 'polite' })
  clear(view, h('h1', null, t('nav_inbox')),
    h('p', { class: 'check' }, showHandled, h('label', { for: 'show-handled' }, t('show_handled'))),
    list)

  async function load () {
    clear(list, h('p', null, t('loading')))
    try {
      const data = await api('GET', '/offline-messages' + query({ handled: showHandled.checked ? '' : 'false', limit: 100 }))
      if (!data.offline_messages.length) return clear(list, h('p', { class: 'empty' }, t('inbox_empty')))
      clear(list, data.offline_messages.map(item))
    } catch (e) {
      clear(list, h('p', { class: 'error' }, e.status === 404 ? t('not_available') : e.message))
    }
  }

  function item (m) {
    const reply = h('textarea', { rows: 4, maxlength: 100000 })
    const status = h('p', { class: 'status', role: 'status' })
    const send = h('button', { type: 'submit', class: 'primary' }, t('send_reply'))
    const headingId = 'om-' + m.id
    return h('article', { class: 'offline-message' + (m.handled_at ? ' handled' : ''), 'aria-labelledby': headingId },
      h('h2', { id: headingId }, m.name, ' ', h('span', { class: 'email' }, '<' + m.email + '>')),
      h('p', { class: 'meta' }, formatTime(m.created_at, app.lang, true), ' · ', languageName(t, m.language),
        m.handled_at ? ' · ' + t('handled') : ''),
      h('p', { class: 'text' }, m.text),
      m.replies.length ? h('ul', { class: 'replies' }, m.replies.map((r) =>
        h('li', null, t('reply_status', { time: formatTime(r.created_at, app.lang, true), status: t('email_' + r.status) })))) : null,
      h('form', { onsubmit: async (e) => {
        e.preventDefault()
        if (!reply.value.trim()) { status.textContent = t('reply_empty'); return }
        send.disabled = true
        try {
          await api('POST', `/offline-messages/${encodeURIComponent(m.id)}/reply`, { text: reply.value })
          reply.value = ''
          app.notify(t('reply_queued', { email: m.email }), 'note')
          load()
        } catch (err) {
          status.textContent = err.message
        } finally { send.disabled = false }
      } }, field(t('reply_by_email'), reply)[0], status,
      h('div', { class: 'row' }, send,
        h('button', { type: 'button', onclick: () => mark(m, !m.handled_at) }, m.handled_at ? t('mark_unhandled') : t('mark_handled')))))
  }

  async function mark (m, handled) {
    try {
      await api('POST', `/offline-messages/${encodeURIComponent(m.id)}/handled`, { handled })
      load()
    } catch (e) { app.fail(e) }
  }
  load()
}
