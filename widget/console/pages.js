// History of conversations with the full-text search, and the offline-message inbox.
import { h, clear, field } from './dom.js'
import { api, query } from './api.js'
import { messageItem, languageName, shortId, formatTime, authorLabel } from './format.js'
import { assistantActions } from './faq_actions.js'

// History: closed conversations newest first, or, with words, a full-text search of stored
// messages and notes (GET /api/v1/search) with date and language filters; each result shows
// its matching line with the words marked, and opens the conversation with its notes.
export function historyView (app, view) {
  const t = app.t
  const words = h('input', { type: 'search', id: 'history-q', maxlength: 200 })
  const from = h('input', { type: 'date', id: 'history-from' })
  const to = h('input', { type: 'date', id: 'history-to' })
  const language = h('select', { id: 'history-language' }, h('option', { value: '' }, t('all_languages')),
    ['fi', 'sv', 'en'].map((code) => h('option', { value: code }, languageName(t, code))))
  const results = h('div', { class: 'results', 'aria-live': 'polite' })
  const detail = h('section', { class: 'transcript', 'aria-labelledby': 'transcript-heading' })
  const form = h('form', { class: 'search search-form', role: 'search', onsubmit: (e) => { e.preventDefault(); load() } },
    field(t('search_messages'), words, t('search_hint'))[0],
    h('div', { class: 'row' }, field(t('from_date'), from)[0], field(t('to_date'), to)[0],
      field(t('language'), language)[0], h('button', { type: 'submit', class: 'primary' }, t('search'))))
  clear(view, h('h1', null, t('nav_history')), form, results, detail)

  async function load () {
    clear(results, h('p', null, t('loading')))
    try {
      if (words.value.trim()) return await searchWords()
      const data = await api('GET', '/conversations' + query({ state: 'closed', limit: 100 }))
      if (!data.conversations.length) return clear(results, h('p', { class: 'empty' }, t('no_results')))
      clear(results, h('table', null,
        h('caption', { class: 'sr-only' }, t('nav_history')),
        h('thead', null, h('tr', null, [t('conversation'), t('language'), t('agent'), t('closed_at'), ''].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', null, data.conversations.map((c) => h('tr', null,
          h('td', null, t('visitor_label', { id: shortId(c.id) })),
          h('td', null, languageName(t, c.language)),
          h('td', null, c.agent ? c.agent.name : '–'),
          h('td', null, formatTime(c.closed_at, app.lang, true)),
          h('td', null, openButton(c.id)))))))
    } catch (e) {
      clear(results, h('p', { class: 'error' }, e.message))
    }
  }

  async function searchWords () {
    const data = await api('GET', '/search' + query({ q: words.value.trim(), from: from.value, to: to.value, language: language.value }))
    if (!data.results.length) return clear(results, h('p', { class: 'empty' }, t('no_results')))
    clear(results,
      h('p', { class: 'status' }, t('results_count', { count: data.results.length }) +
        (data.results.length >= data.limit ? ' ' + t('results_newest', { limit: data.limit }) : '')),
      h('ol', { class: 'search-results' }, data.results.map((r) => h('li', null,
        h('p', { class: 'meta' },
          r.kind === 'note' ? h('strong', null, t('note_tag') + ' · ') : null,
          authorLabel(t, r.author), ' · ', languageName(t, r.language), ' · ',
          h('time', { datetime: r.created_at }, formatTime(r.created_at, app.lang, true))),
        h('p', { class: 'snippet' }, r.snippet.map((piece) => piece.match ? h('mark', null, piece.text) : piece.text)),
        openButton(r.conversation_id)))))
  }

  function openButton (id) {
    return h('button', { type: 'button', onclick: () => open(id) }, t('open'),
      h('span', { class: 'sr-only' }, ' ' + t('visitor_label', { id: shortId(id) })))
  }

  async function open (id) {
    try {
      const { conversation } = await api('GET', '/conversations/' + encodeURIComponent(id))
      const items = []
      const notes = conversation.notes || []
      let n = 0
      for (const m of conversation.messages) {
        while (n < notes.length && notes[n].after_seq < m.seq) items.push(noteLine(notes[n++]))
        items.push(messageItem(t, m, app.lang))
      }
      while (n < notes.length) items.push(noteLine(notes[n++]))
      clear(detail,
        h('h2', { id: 'transcript-heading', tabindex: '-1' }, t('chat_with', { id: shortId(id) })),
        h('p', null, languageName(t, conversation.language), ' · ', formatTime(conversation.created_at, app.lang, true)),
        assistantActions(t, conversation.assistant),
        conversation.rating ? h('p', { class: 'rating-comment' }, conversation.rating.score ? t('rating_score', { score: conversation.rating.score }) : t('rating_none'),
          conversation.rating.comment ? [' – ', h('q', null, conversation.rating.comment)] : null) : null,
        h('ol', { class: 'log' }, items))
      detail.querySelector('h2').focus()
    } catch (e) {
      app.fail(e)
      load()
    }
  }

  function noteLine (note) {
    return h('li', { class: 'msg note' },
      h('p', { class: 'meta' }, h('span', { class: 'tag' }, t('note_tag')), ' · ',
        h('span', { class: 'author' }, note.author.name || t('agent')), ' ',
        h('time', { datetime: note.created_at }, formatTime(note.created_at, app.lang))),
      h('p', { class: 'text' }, note.text))
  }

  load()
  const wanted = new URLSearchParams(window.location.search).get('open')
  if (wanted) open(wanted)
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
