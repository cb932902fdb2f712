// The chats view's three panes, drawn from ChatsView's state (chats.js mixes these methods
// in): the list (the queue and my chats, each with its language, waiting time, last line,
// typing and unread count), the conversation (messages with the notes in place, the reply box
// named after the chat, the note box, transfer and end), and the details. On a phone-sized
// screen one pane shows at a time (`data-pane`, console.css).
import { h, clear, field } from './dom.js'
import { messageItem, languageName, shortId, formatTime, authorLabel } from './format.js'
import { showUnread } from './unread.js'
import { help } from './shortcuts.js'
import { assistantActions } from './faq_actions.js'

export const rendering = {
  isMounted () {
    return !!(this.el.root && this.el.root.isConnected)
  },

  mount (view) {
    const t = this.t
    this.el.queueHeading = h('h2', { id: 'queue-heading' })
    this.el.queue = h('ul', { class: 'queue-list' })
    this.el.tabs = h('ul', { class: 'chat-tabs' })
    this.el.panel = h('section', { class: 'chat-panel', 'aria-labelledby': 'chat-heading' })
    this.el.details = h('aside', { class: 'details-pane', 'aria-labelledby': 'details-heading' })
    this.el.root = h('div', { class: 'chats', 'data-pane': this.pane },
      h('h1', { class: 'sr-only' }, t('nav_chats')),
      h('section', { class: 'list-pane', 'aria-label': t('chat_list') },
        h('section', { class: 'queue', 'aria-labelledby': 'queue-heading' }, this.el.queueHeading, this.el.queue),
        h('section', { class: 'mine', 'aria-labelledby': 'mine-heading' },
          h('h2', { id: 'mine-heading' }, t('my_chats')), this.el.tabs),
        h('p', { class: 'hint' }, h('button', { type: 'button', class: 'link', onclick: () => help(t) }, t('shortcuts_heading')),
          ' ', t('shortcuts_key_hint'))),
      this.el.panel, this.el.details)
    clear(view, this.el.root)
    this.panelFor = undefined
    this.render()
  },

  render () {
    if (this.el.root) this.el.root.dataset.pane = this.selected ? this.pane : 'list'
    this.renderQueue()
    this.renderTabs()
    this.renderPanel()
    this.renderDetails()
  },

  showPane (pane, focusId) {
    this.pane = pane
    if (this.el.root) this.el.root.dataset.pane = pane
    const target = focusId && document.getElementById(focusId)
    if (target) target.focus()
  },

  renderQueue () {
    if (!this.isMounted()) return
    const t = this.t
    this.el.queueHeading.textContent = t('queue_heading', { count: this.queue.length })
    if (!this.queue.length) {
      clear(this.el.queue, h('li', { class: 'empty' }, t('queue_empty')))
      return
    }
    clear(this.el.queue, this.queue.map((conv) => {
      const claim = h('button', { type: 'button', class: 'primary', onclick: () => this.claim(conv.id, claim) },
        t('claim'), h('span', { class: 'sr-only' }, ' ' + t('visitor_label', { id: shortId(conv.id) })))
      return h('li', { class: 'queue-item' },
        h('span', { class: 'who' }, t('visitor_label', { id: shortId(conv.id) })),
        h('span', { class: 'lang' }, languageName(t, conv.language)),
        h('span', { class: 'wait' }, waiting(t, conv.queued_at || conv.created_at)),
        claim)
    }))
  },

  // Many changes in a row (a welcome's catch-up, a burst of messages) redraw the list once,
  // at the next frame.
  scheduleTabs () {
    if (this.tabsFrame) return
    this.tabsFrame = requestAnimationFrame(() => { this.tabsFrame = null; this.renderTabs() })
  },

  renderTabs () {
    const unread = this.unreadChats()
    const badge = document.getElementById('unread-total')
    if (badge) {
      badge.hidden = unread === 0
      badge.textContent = unread ? ' ' + t2(this.t, unread) : ''
    }
    showUnread(unread)
    if (!this.isMounted()) return
    const t = this.t
    if (!this.chats.size) {
      clear(this.el.tabs, h('li', { class: 'empty' }, t('no_chats')))
      return
    }
    clear(this.el.tabs, [...this.chats.values()].map((chat) => {
      const last = lastMessage(chat)
      const needsReply = !chat.closed && last && last.author.kind === 'visitor'
      const line = chat.typing && !chat.closed
        ? h('span', { class: 'last typing-now' }, t('visitor_typing'))
        : h('span', { class: 'last' }, last ? authorLabel(t, last.author) + ': ' + firstLine(last.text) : '')
      return h('li', null, h('button', {
        type: 'button',
        class: 'tab' + (chat.closed ? ' ended' : '') + (needsReply ? ' needs-reply' : ''),
        'aria-current': chat.conv.id === this.selected ? 'true' : null,
        onclick: () => this.select(chat.conv.id)
      },
      h('span', { class: 'who' }, t('visitor_label', { id: shortId(chat.conv.id) })),
      chat.unread ? h('span', { class: 'badge' }, t2(t, chat.unread)) : h('span'),
      h('span', { class: 'lang' }, languageName(t, chat.conv.language),
        chat.closed ? ' · ' + t('ended') : needsReply ? ' · ' + waiting(t, last.created_at, 'replied_minutes') : ''),
      h('span', { class: 'sr-only' }, needsReply ? ' · ' + t('visitor_wrote_last') : ''),
      line))
    }))
  },

  renderPanel () {
    if (!this.isMounted()) return
    const t = this.t
    const chat = this.chats.get(this.selected)
    if (!chat) {
      this.panelFor = null
      this.el = { ...this.el, log: null, textarea: null, noteArea: null, cannedSelect: null, end: null }
      clear(this.el.panel, h('h2', { id: 'chat-heading' }, t('no_chat_selected')), h('p', null, t('no_chat_hint')))
      return
    }
    if (this.panelFor !== chat.conv.id) this.buildPanel(chat)
    this.renderLog()
    this.renderTyping()
    this.renderPanelActions()
    this.el.textarea.disabled = chat.closed
    this.el.send.disabled = chat.closed
    this.el.note.textContent = chat.closed ? (chat.note || t('chat_ended')) : ''
    this.el.dismiss.hidden = !chat.closed
  },

  buildPanel (chat) {
    const t = this.t
    const conv = chat.conv
    const name = t('visitor_label', { id: shortId(conv.id) })
    this.panelFor = conv.id
    const area = h('textarea', { id: 'reply', rows: 3, maxlength: 4000 })
    area.value = this.drafts[conv.id] || ''
    area.addEventListener('input', () => { this.setDraft(conv.id, area.value); this.typing(chat) })
    area.addEventListener('keydown', (e) => {
      if (e.key === 'Tab' && !e.shiftKey) this.expandShortcut(chat, e)
      else if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); this.send() }
    })
    const noteArea = h('textarea', { id: 'note-text', rows: 2, maxlength: 4000 })
    noteArea.value = this.drafts['n:' + conv.id] || ''
    noteArea.addEventListener('input', () => this.setDraft('n:' + conv.id, noteArea.value))
    noteArea.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); this.addNote() }
    })
    this.el.textarea = area
    this.el.noteArea = noteArea
    this.el.noteButton = h('button', { type: 'submit' }, t('add_note'))
    this.el.send = h('button', { type: 'submit', class: 'primary' }, t('send'))
    this.el.cannedSelect = h('select', { id: 'canned', onchange: () => this.pickCanned(chat) })
    this.el.assistant = h('div', { class: 'assistant-actions' })
    this.el.log = h('ol', { class: 'log', 'aria-label': t('messages'), 'aria-live': 'polite', tabindex: '0' })
    this.el.typing = h('p', { class: 'typing', 'aria-live': 'polite' })
    this.el.actions = h('div', { class: 'chat-actions' })
    this.el.note = h('p', { class: 'note', role: 'status' })
    this.el.dismiss = h('button', { type: 'button', onclick: () => this.removeChat(conv.id) }, t('remove_from_list'))
    clear(this.el.panel,
      h('div', { class: 'chat-head' },
        h('button', { type: 'button', class: 'pane-nav', onclick: () => this.showPane('list') }, t('back_to_list')),
        h('h2', { id: 'chat-heading' }, t('chat_with', { id: shortId(conv.id) })),
        h('button', { type: 'button', class: 'pane-nav', id: 'show-details', onclick: () => this.showPane('details', 'details-heading') }, t('details'))),
      this.el.assistant, this.el.log, this.el.typing, this.el.pendingList = h('ul', { class: 'pending' }),
      this.el.note, this.el.dismiss,
      h('form', { class: 'composer', onsubmit: (e) => { e.preventDefault(); this.send() } },
        field(t('reply_to', { name }), area, t('composer_hint'))[0],
        h('div', { class: 'row' },
          field(t('canned_responses'), this.el.cannedSelect)[0],
          this.el.send)),
      h('form', { class: 'note-form', onsubmit: (e) => { e.preventDefault(); this.addNote() } },
        field(t('note_label', { name }), noteArea, t('note_hint'))[0],
        this.el.noteButton),
      this.el.actions)
    this.renderCannedSelect()
  },

  renderDetails () {
    if (!this.isMounted()) return
    const t = this.t
    const chat = this.chats.get(this.selected)
    if (!chat) return clear(this.el.details, h('h2', { id: 'details-heading', tabindex: '-1' }, t('details')), h('p', { class: 'empty' }, t('no_chat_selected')))
    const conv = chat.conv
    const rows = [
      [t('language'), languageName(t, conv.language)],
      [t('notice_version'), (conv.notice_version || '').slice(0, 12)],
      [t('started'), formatTime(conv.created_at, this.app.lang, true)]
    ]
    if (conv.claimed_at) rows.push([t('claimed_at'), formatTime(conv.claimed_at, this.app.lang, true)])
    if (conv.page_url) rows.push([t('page'), conv.page_url])
    if (conv.user_agent) rows.push([t('browser'), conv.user_agent])
    if (chat.rating) {
      rows.push([t('rating'), (chat.rating.score ? chat.rating.score + ' / 5' : '–') +
        (chat.rating.comment ? ' – “' + chat.rating.comment + '”' : '')])
    }
    const earlier = chat.earlier || []
    clear(this.el.details,
      h('h2', { id: 'details-heading', tabindex: '-1' }, t('details')),
      h('button', { type: 'button', class: 'pane-nav', onclick: () => this.showPane('chat', 'reply') }, t('back_to_chat')),
      h('dl', { class: 'details', 'aria-label': t('visitor_details') }, rows.map(([k, v]) => [h('dt', null, k), h('dd', null, v)])),
      h('h3', null, t('earlier_conversations')),
      earlier.length
        ? h('ul', { class: 'earlier' }, earlier.map((e) => h('li', null,
          h('a', { href: '/console/history?open=' + encodeURIComponent(e.id) }, formatTime(e.created_at, this.app.lang, true)),
          ' · ', languageName(t, e.language))))
        : h('p', { class: 'empty' }, t('no_earlier_conversations')))
  },

  renderCannedSelect () {
    const select = this.el.cannedSelect
    const chat = this.chats.get(this.selected)
    if (!select || !chat) return
    const items = this.canned.filter((c) => c.language === chat.conv.language)
    clear(select, h('option', { value: '' }, this.t('insert_canned')),
      items.map((c) => h('option', { value: String(c.id) }, '/' + c.shortcut + ' – ' + c.text.slice(0, 60))))
  },

  pickCanned (chat) {
    const item = this.canned.find((c) => String(c.id) === this.el.cannedSelect.value)
    this.el.cannedSelect.value = ''
    if (!item || chat.closed) return
    const area = this.el.textarea
    this.insertText(area.value.slice(0, area.selectionStart), item.text, area.value.slice(area.selectionEnd), chat)
  },

  // The messages in order, each note after the message it followed when it was written.
  renderLog () {
    if (!this.isMounted() || !this.el.log) return
    const chat = this.chats.get(this.selected)
    if (!chat) return
    const items = []
    let n = 0
    const notes = chat.notes
    for (const m of chat.messages) {
      while (n < notes.length && notes[n].after_seq < m.seq) items.push(noteItem(this.t, notes[n++], this.app.lang))
      items.push(messageItem(this.t, m, this.app.lang))
    }
    while (n < notes.length) items.push(noteItem(this.t, notes[n++], this.app.lang))
    clear(this.el.log, items)
    // What the FAQ assistant did before the hand-off (faq_actions.js), so no one asks again.
    if (this.el.assistant && this.el.assistant.dataset.count !== String((chat.assistant || []).length)) {
      this.el.assistant.dataset.count = String((chat.assistant || []).length)
      clear(this.el.assistant, assistantActions(this.t, chat.assistant))
    }
    this.renderPending()
    this.scrollLog()
  },

  renderPending () {
    if (!this.isMounted() || !this.el.pendingList) return
    const chat = this.chats.get(this.selected)
    if (!chat) return
    const t = this.t
    clear(this.el.pendingList, chat.pending.map((p) => h('li', { class: 'pending-item ' + p.status },
      h('p', { class: 'text' }, p.text),
      h('p', { class: 'status' }, p.status === 'failed' ? t('not_sent', { reason: p.error || '' })
        : p.status === 'waiting' ? t('waiting_connection') : t('sending')),
      p.status === 'failed' ? [
        h('button', { type: 'button', onclick: () => this.deliver(chat, p) }, t('retry')),
        h('button', { type: 'button', onclick: () => this.editFailed(chat, p) }, t('edit'))] : null)))
  },

  renderTyping () {
    if (!this.isMounted() || !this.el.typing) return
    const chat = this.chats.get(this.selected)
    this.el.typing.textContent = chat && chat.typing && !chat.closed ? this.t('visitor_typing') : ''
  },

  renderPanelActions () {
    if (!this.isMounted() || !this.el.actions) return
    const chat = this.chats.get(this.selected)
    if (!chat) return
    const t = this.t
    this.el.end = null
    if (chat.closed) return clear(this.el.actions)
    const others = this.online.filter((a) => a.id !== this.app.me.id)
    const select = h('select', { id: 'transfer-to' },
      h('option', { value: '' }, others.length ? t('choose_agent') : t('no_one_to_transfer')),
      others.map((a) => h('option', { value: String(a.id) }, a.name)))
    this.el.end = h('button', { type: 'button', class: 'danger', id: 'end-chat', onclick: () => this.close(chat) }, t('close_chat'))
    clear(this.el.actions,
      h('div', { class: 'row' },
        field(t('transfer_to'), select)[0],
        h('button', { type: 'button', disabled: !others.length, onclick: () => this.transfer(chat, select.value) }, t('transfer'))),
      this.el.end)
  },

  scrollLog () {
    if (this.el.log) this.el.log.scrollTop = this.el.log.scrollHeight
  }
}

function noteItem (t, note, lang) {
  return h('li', { class: 'msg note' },
    h('p', { class: 'meta' },
      h('span', { class: 'tag' }, t('note_tag')), ' · ',
      h('span', { class: 'author' }, note.author.name || t('agent')), ' ',
      h('time', { datetime: note.created_at }, formatTime(note.created_at, lang))),
    h('p', { class: 'text' }, note.text))
}

function lastMessage (chat) {
  for (let i = chat.messages.length - 1; i >= 0; i--) {
    if (chat.messages[i].author.kind !== 'system') return chat.messages[i]
  }
  return null
}

function firstLine (text) {
  const line = text.split('\n')[0]
  return line.length > 80 ? line.slice(0, 80) + '…' : line
}

function t2 (t, count) {
  return t('unread_count', { count })
}

function waiting (t, since, key = 'waiting_minutes') {
  const minutes = Math.floor((Date.now() - Date.parse(since)) / 60000)
  if (key !== 'waiting_minutes') return minutes < 1 ? t('needs_reply') : t(key, { minutes })
  return minutes < 1 ? t('waiting_under_minute') : t('waiting_minutes', { minutes })
}
