// The agent's live work: presence, the queue, claimed chats side by side (with unread counts,
// typing, canned responses, transfer and close), and the connection banner. Nothing typed is
// lost: drafts live in sessionStorage and unsent messages are resent after a reconnect with
// the same client_id (the server stores a retry once).
import { h, clear, field, randomId } from './dom.js'
import { api } from './api.js'
import { AgentSocket } from './socket.js'
import { messageItem, languageName, shortId, formatTime } from './format.js'

const DRAFTS = 'chatserver-console-drafts'

export class ChatsView {
  constructor (app, prefs, onRefused) {
    this.app = app
    this.t = app.t
    this.prefs = prefs
    this.queue = []
    this.left = new Set() // conversations that left the queue: they never come back to it
    this.seen = null
    this.chats = new Map()
    this.online = []
    this.canned = []
    this.selected = null
    this.connected = false
    this.everConnected = false
    this.drafts = loadDrafts()
    this.el = {}
    this.onRefused = onRefused
    this.socket = new AgentSocket({
      welcome: (d) => this.onWelcome(d),
      queue: (d) => this.onQueue(d.conversations),
      queue_update: (d) => this.onQueueUpdate(d),
      conversation: (d) => this.onConversation(d),
      message: (m) => this.onMessage(m),
      typing: (d) => this.onTyping(d),
      agents: (d) => { this.online = d.online; this.renderPanelActions() },
      status: () => this.setConnected(false),
      refused: (d) => { this.stop(); this.onRefused(d.message || this.t('session_ended')) }
    })
    this.timer = setInterval(() => this.renderQueue(), 30000)
    this.loadCanned()
  }

  stop () {
    clearInterval(this.timer)
    this.socket.close()
  }

  async loadCanned () {
    try {
      this.canned = (await api('GET', '/canned-responses')).canned_responses
      this.renderCannedSelect()
    } catch (e) { /* the composer still works; the admin page shows the error */ }
  }

  // --- connection ----------------------------------------------------------------------------
  setConnected (on) {
    const was = this.connected
    this.connected = on
    const banner = document.getElementById('banner')
    if (!banner) return
    if (!on) {
      clear(banner, h('p', { class: 'offline' }, this.t('reconnecting')))
    } else if (!was && this.everConnected) {
      clear(banner, h('p', { class: 'online' }, this.t('reconnected')))
      setTimeout(() => { if (this.connected) clear(banner) }, 4000)
    } else clear(banner)
    this.everConnected = this.everConnected || on
    if (this.el.send) this.el.send.disabled = false
  }

  async onWelcome (data) {
    this.setConnected(true)
    this.app.me = { ...this.app.me, ...data.agent }
    this.online = data.online || []
    this.onQueue(data.queue)
    const assigned = new Set()
    for (const conv of data.assigned) {
      assigned.add(conv.id)
      const chat = this.chats.get(conv.id) || this.addChat(conv, [])
      chat.conv = conv
      chat.closed = false
      await this.catchUp(chat)
    }
    for (const chat of this.chats.values()) {
      if (!assigned.has(chat.conv.id) && !chat.closed) {
        chat.closed = true
        chat.note = this.t('chat_gone')
      }
    }
    if (this.app.presenceSelect) this.app.presenceSelect.value = this.app.me.presence === 'away' ? 'away' : 'online'
    this.render()
    for (const chat of this.chats.values()) {
      for (const pending of chat.pending) if (pending.status !== 'failed') this.deliver(chat, pending)
    }
  }

  async catchUp (chat) {
    for (let round = 0; round < 50; round++) {
      const ack = await this.socket.call('history', { conversation_id: chat.conv.id, after_seq: chat.lastSeq })
      if (!ack.ok || !ack.messages.length) return
      for (const m of ack.messages) this.merge(chat, m, false)
    }
  }

  async setPresence (status) {
    const ack = await this.socket.call('presence', { status })
    if (!ack.ok) {
      this.app.notify(ack.error.message || this.t('error_offline'))
      if (this.app.presenceSelect) this.app.presenceSelect.value = this.app.me.presence || 'online'
    } else this.app.me.presence = status
  }

  // --- events --------------------------------------------------------------------------------
  // The whole queue: in `welcome`, right after it, and when asked for with `queue`.
  onQueue (all) {
    const conversations = all.filter((c) => !this.left.has(c.id))
    const fresh = conversations.filter((c) => this.seen && !this.seen.has(c.id))
    this.seen = new Set(conversations.map((c) => c.id))
    this.queue = conversations
    this.renderQueue()
    if (fresh.length) this.alertNewChat(this.t('new_chat_waiting'), languageName(this.t, fresh[0].language))
  }

  // A change of the queue. Deltas relayed from two nodes can overtake each other, so an id that
  // was removed is remembered and a late `added` for it is ignored (a conversation is queued
  // once in its life).
  onQueueUpdate ({ added, removed }) {
    for (const id of removed) {
      this.left.add(id)
      if (this.left.size > 10000) this.left.delete(this.left.values().next().value)
    }
    const next = this.queue.filter((c) => !this.left.has(c.id))
    const have = new Set(next.map((c) => c.id))
    for (const conv of added) if (!have.has(conv.id)) next.push(conv)
    next.sort((a, b) => (a.queued_at || '').localeCompare(b.queued_at || '') || a.id.localeCompare(b.id))
    this.onQueue(next)
  }

  onConversation (data) {
    const me = this.app.me.id
    const chat = this.chats.get(data.id)
    if (data.erased) {
      this.left.add(data.id)
      this.queue = this.queue.filter((c) => c.id !== data.id)
      if (chat) {
        this.removeChat(data.id)
        this.app.notify(this.t('chat_erased'), 'note')
      }
      this.renderQueue()
      return
    }
    if (data.agent && data.agent.id !== me) {
      if (chat) {
        this.removeChat(data.id)
        this.app.notify(this.t('transferred_to', { name: data.agent.name }), 'note')
      }
      return
    }
    if (data.state === 'closed') {
      if (chat) {
        chat.conv = { ...chat.conv, ...data }
        chat.closed = true
        chat.typing = false
        this.render()
      }
      return
    }
    if (data.state === 'active' && data.agent && data.agent.id === me) {
      if (!chat) {
        const added = this.addChat(data, data.messages || [])
        if (!data.messages) this.catchUp(added).then(() => this.render())
        if (!this.claiming) {
          this.alertNewChat(this.t('chat_transferred_to_you'), languageName(this.t, data.language))
          added.unread = Math.max(added.unread, 1)
        }
      } else {
        chat.conv = { ...chat.conv, ...data }
        for (const m of data.messages || []) this.merge(chat, m, false)
      }
      this.render()
    }
  }

  onMessage (m) {
    const chat = this.chats.get(m.conversation_id)
    if (!chat) return
    if (m.seq > chat.lastSeq + 1) {
      this.catchUp(chat).then(() => this.render())
      return
    }
    if (m.author.kind === 'visitor') chat.typing = false
    this.merge(chat, m, true)
    this.renderTyping()
  }

  onTyping (d) {
    const chat = this.chats.get(d.conversation_id)
    if (!chat) return
    chat.typing = !!d.typing
    clearTimeout(chat.typingTimer)
    if (chat.typing) chat.typingTimer = setTimeout(() => { chat.typing = false; this.renderTyping() }, 15000)
    this.renderTyping()
  }

  // --- state ---------------------------------------------------------------------------------
  addChat (conv, messages) {
    const chat = { conv, messages: [], lastSeq: 0, unread: 0, typing: false, pending: [], closed: conv.state === 'closed' }
    this.chats.set(conv.id, chat)
    for (const m of messages) this.merge(chat, m, false)
    if (!this.selected) this.selected = conv.id
    return chat
  }

  removeChat (id) {
    this.chats.delete(id)
    delete this.drafts[id]
    saveDrafts(this.drafts)
    if (this.selected === id) this.selected = this.chats.size ? this.chats.keys().next().value : null
    this.render()
  }

  merge (chat, m, live) {
    if (chat.messages.some((x) => x.seq === m.seq)) return
    chat.messages.push(m)
    chat.messages.sort((a, b) => a.seq - b.seq)
    chat.lastSeq = Math.max(chat.lastSeq, m.seq)
    if (!live) return
    const mine = m.author.kind === 'agent' && m.author.name === this.app.me.name
    const visible = this.selected === chat.conv.id && this.isMounted() && !document.hidden
    if (!mine && !visible) chat.unread += 1
    if (this.selected === chat.conv.id && this.isMounted()) {
      this.el.log.append(messageItem(this.t, m, this.app.lang))
      this.scrollLog()
    }
    this.renderTabs()
  }

  unreadTotal () {
    let total = 0
    for (const chat of this.chats.values()) total += chat.unread
    return total
  }

  alertNewChat (title, body) {
    if (this.prefs.get('sound')) beep()
    if (this.prefs.get('notify') && 'Notification' in window && Notification.permission === 'granted') {
      try { new Notification(title, { body, tag: 'chatserver-new-chat' }) } catch (e) { /* not shown */ }
    }
  }

  // --- actions -------------------------------------------------------------------------------
  async claim (id, button) {
    button.disabled = true
    this.claiming = true
    const ack = await this.socket.call('claim', { conversation_id: id })
    this.claiming = false
    button.disabled = false
    if (!ack.ok) return this.app.notify(ack.error.message || this.t('error_offline'))
    const chat = this.chats.get(id) || this.addChat(ack.conversation, [])
    chat.conv = ack.conversation
    for (const m of ack.conversation.messages) this.merge(chat, m, false)
    this.left.add(id)
    this.queue = this.queue.filter((c) => c.id !== id)
    this.select(id)
  }

  select (id) {
    this.selected = id
    const chat = this.chats.get(id)
    if (chat) chat.unread = 0
    this.render()
    if (this.el.textarea && !this.el.textarea.disabled) this.el.textarea.focus()
  }

  send () {
    const chat = this.chats.get(this.selected)
    const text = this.el.textarea.value.trim()
    if (!chat || !text) return
    const pending = { client_id: randomId('a'), text, status: 'sending' }
    chat.pending.push(pending)
    this.el.textarea.value = ''
    this.setDraft(chat.conv.id, '')
    this.stopTyping(chat)
    this.deliver(chat, pending)
  }

  async deliver (chat, pending) {
    pending.status = 'sending'
    this.renderPending()
    const ack = await this.socket.call('message', { conversation_id: chat.conv.id, client_id: pending.client_id, text: pending.text })
    if (ack.ok) {
      chat.pending = chat.pending.filter((p) => p !== pending)
      this.merge(chat, ack.message, false)
      this.renderLog()
      return
    }
    if (ack.error.code === 'offline') {
      pending.status = 'waiting' // resent after the next welcome
    } else {
      pending.status = 'failed'
      pending.error = ack.error.message
      this.app.notify(ack.error.message)
    }
    this.renderPending()
  }

  editFailed (chat, pending) {
    chat.pending = chat.pending.filter((p) => p !== pending)
    const current = this.el.textarea.value
    this.el.textarea.value = pending.text + (current ? '\n' + current : '')
    this.setDraft(chat.conv.id, this.el.textarea.value)
    this.renderPending()
    this.el.textarea.focus()
  }

  typing (chat) {
    if (chat.closed) return
    if (!chat.typingSent) {
      chat.typingSent = true
      this.socket.emit('typing', { conversation_id: chat.conv.id, typing: true })
    }
    clearTimeout(chat.typingStop)
    chat.typingStop = setTimeout(() => this.stopTyping(chat), 3000)
  }

  stopTyping (chat) {
    clearTimeout(chat.typingStop)
    if (chat.typingSent) {
      chat.typingSent = false
      this.socket.emit('typing', { conversation_id: chat.conv.id, typing: false })
    }
  }

  async transfer (chat, agentId) {
    if (!agentId) return this.app.notify(this.t('choose_agent'))
    const target = this.online.find((a) => String(a.id) === String(agentId))
    const ack = await this.socket.call('transfer', { conversation_id: chat.conv.id, agent_id: Number(agentId) })
    if (!ack.ok) return this.app.notify(ack.error.message || this.t('error_offline'))
    this.removeChat(chat.conv.id)
    this.app.notify(this.t('transferred_to', { name: target ? target.name : '' }), 'note')
  }

  async close (chat) {
    const ack = await this.socket.call('close', { conversation_id: chat.conv.id })
    if (!ack.ok) return this.app.notify(ack.error.message || this.t('error_offline'))
    chat.closed = true
    chat.conv = { ...chat.conv, state: 'closed' }
    this.render()
  }

  // Tab after "/shortcut" replaces it with the canned response (the chat's language first).
  expandShortcut (chat, event) {
    const area = this.el.textarea
    const before = area.value.slice(0, area.selectionStart)
    const match = /(^|\s)\/([a-z0-9_-]+)$/.exec(before)
    if (!match) return
    const item = this.findCanned(match[2], chat.conv.language)
    if (!item) return
    event.preventDefault()
    this.insertText(before.slice(0, before.length - match[2].length - 1), item.text, area.value.slice(area.selectionStart), chat)
  }

  findCanned (shortcut, language) {
    return this.canned.find((c) => c.shortcut === shortcut && c.language === language) ||
      this.canned.find((c) => c.shortcut === shortcut)
  }

  insertText (head, text, tail, chat) {
    const area = this.el.textarea
    area.value = head + text + tail
    const at = (head + text).length
    area.setSelectionRange(at, at)
    this.setDraft(chat.conv.id, area.value)
    area.focus()
  }

  setDraft (id, text) {
    if (text) this.drafts[id] = text
    else delete this.drafts[id]
    saveDrafts(this.drafts)
  }

  // --- rendering -----------------------------------------------------------------------------
  isMounted () {
    return !!(this.el.root && this.el.root.isConnected)
  }

  mount (view) {
    const t = this.t
    this.el.queueHeading = h('h2', { id: 'queue-heading' })
    this.el.queue = h('ul', { class: 'queue-list' })
    this.el.tabs = h('ul', { class: 'chat-tabs' })
    this.el.panel = h('section', { class: 'chat-panel', 'aria-labelledby': 'chat-heading' })
    this.el.root = h('div', { class: 'chats' },
      h('h1', { class: 'sr-only' }, t('nav_chats')),
      h('div', { class: 'side' },
        h('section', { class: 'queue', 'aria-labelledby': 'queue-heading' }, this.el.queueHeading, this.el.queue),
        h('section', { class: 'mine', 'aria-labelledby': 'mine-heading' },
          h('h2', { id: 'mine-heading' }, t('my_chats')), this.el.tabs)),
      this.el.panel)
    clear(view, this.el.root)
    this.panelFor = undefined
    this.render()
  }

  render () {
    this.renderQueue()
    this.renderTabs()
    this.renderPanel()
  }

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
  }

  renderTabs () {
    const total = this.unreadTotal()
    const badge = document.getElementById('unread-total')
    if (badge) {
      badge.hidden = total === 0
      badge.textContent = total ? ' ' + t2(this.t, total) : ''
    }
    document.title = (total ? `(${total}) ` : '') + document.title.replace(/^\(\d+\) /, '')
    if (!this.isMounted()) return
    const t = this.t
    if (!this.chats.size) {
      clear(this.el.tabs, h('li', { class: 'empty' }, t('no_chats')))
      return
    }
    clear(this.el.tabs, [...this.chats.values()].map((chat) => h('li', null,
      h('button', {
        type: 'button',
        class: 'tab' + (chat.closed ? ' ended' : ''),
        'aria-current': chat.conv.id === this.selected ? 'true' : null,
        onclick: () => this.select(chat.conv.id)
      },
      h('span', null, t('visitor_label', { id: shortId(chat.conv.id) })),
      h('span', { class: 'lang' }, languageName(t, chat.conv.language)),
      chat.closed ? h('span', { class: 'state' }, t('ended')) : null,
      chat.unread ? h('span', { class: 'badge' }, t2(t, chat.unread)) : null))))
  }

  renderPanel () {
    if (!this.isMounted()) return
    const t = this.t
    const chat = this.chats.get(this.selected)
    if (!chat) {
      this.panelFor = null
      this.el = { ...this.el, log: null, textarea: null }
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
  }

  buildPanel (chat) {
    const t = this.t
    const conv = chat.conv
    this.panelFor = conv.id
    const area = h('textarea', { id: 'reply', rows: 3, maxlength: 4000 })
    area.value = this.drafts[conv.id] || ''
    area.addEventListener('input', () => { this.setDraft(conv.id, area.value); this.typing(chat) })
    area.addEventListener('keydown', (e) => {
      if (e.key === 'Tab' && !e.shiftKey) this.expandShortcut(chat, e)
      else if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); this.send() }
    })
    this.el.textarea = area
    this.el.send = h('button', { type: 'submit', class: 'primary' }, t('send'))
    this.el.cannedSelect = h('select', { id: 'canned', onchange: () => this.pickCanned(chat) })
    this.el.log = h('ol', { class: 'log', 'aria-label': t('messages'), 'aria-live': 'polite', tabindex: '0' })
    this.el.typing = h('p', { class: 'typing', 'aria-live': 'polite' })
    this.el.actions = h('div', { class: 'chat-actions' })
    this.el.note = h('p', { class: 'note', role: 'status' })
    this.el.dismiss = h('button', { type: 'button', onclick: () => this.removeChat(conv.id) }, t('remove_from_list'))
    const details = [
      [t('language'), languageName(t, conv.language)],
      [t('notice_version'), (conv.notice_version || '').slice(0, 12)],
      [t('started'), formatTime(conv.created_at, this.app.lang, true)]
    ]
    if (conv.page_url) details.push([t('page'), conv.page_url])
    if (conv.user_agent) details.push([t('browser'), conv.user_agent])
    clear(this.el.panel,
      h('h2', { id: 'chat-heading' }, t('chat_with', { id: shortId(conv.id) })),
      h('dl', { class: 'details', 'aria-label': t('visitor_details') }, details.map(([k, v]) => [h('dt', null, k), h('dd', null, v)])),
      this.el.log, this.el.typing, this.el.pendingList = h('ul', { class: 'pending' }),
      this.el.note, this.el.dismiss,
      h('form', { class: 'composer', onsubmit: (e) => { e.preventDefault(); this.send() } },
        field(t('your_reply'), area, t('composer_hint'))[0],
        h('div', { class: 'row' },
          field(t('canned_responses'), this.el.cannedSelect)[0],
          this.el.send)),
      this.el.actions)
    this.renderCannedSelect()
  }

  renderCannedSelect () {
    const select = this.el.cannedSelect
    const chat = this.chats.get(this.selected)
    if (!select || !chat) return
    const items = this.canned.filter((c) => c.language === chat.conv.language)
    clear(select, h('option', { value: '' }, this.t('insert_canned')),
      items.map((c) => h('option', { value: String(c.id) }, '/' + c.shortcut + ' – ' + c.text.slice(0, 60))))
  }

  pickCanned (chat) {
    const item = this.canned.find((c) => String(c.id) === this.el.cannedSelect.value)
    this.el.cannedSelect.value = ''
    if (!item || chat.closed) return
    const area = this.el.textarea
    this.insertText(area.value.slice(0, area.selectionStart), item.text, area.value.slice(area.selectionEnd), chat)
  }

  renderLog () {
    if (!this.isMounted() || !this.el.log) return
    const chat = this.chats.get(this.selected)
    if (!chat) return
    clear(this.el.log, chat.messages.map((m) => messageItem(this.t, m, this.app.lang)))
    this.renderPending()
    this.scrollLog()
  }

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
  }

  renderTyping () {
    if (!this.isMounted() || !this.el.typing) return
    const chat = this.chats.get(this.selected)
    this.el.typing.textContent = chat && chat.typing && !chat.closed ? this.t('visitor_typing') : ''
  }

  renderPanelActions () {
    if (!this.isMounted() || !this.el.actions) return
    const chat = this.chats.get(this.selected)
    if (!chat) return
    const t = this.t
    if (chat.closed) return clear(this.el.actions)
    const others = this.online.filter((a) => a.id !== this.app.me.id)
    const select = h('select', { id: 'transfer-to' },
      h('option', { value: '' }, others.length ? t('choose_agent') : t('no_one_to_transfer')),
      others.map((a) => h('option', { value: String(a.id) }, a.name)))
    clear(this.el.actions,
      h('div', { class: 'row' },
        field(t('transfer_to'), select)[0],
        h('button', { type: 'button', disabled: !others.length, onclick: () => this.transfer(chat, select.value) }, t('transfer'))),
      h('button', { type: 'button', class: 'danger', onclick: () => this.close(chat) }, t('close_chat')))
  }

  scrollLog () {
    if (this.el.log) this.el.log.scrollTop = this.el.log.scrollHeight
  }
}

function t2 (t, count) {
  return t('unread_count', { count })
}

function waiting (t, since) {
  const minutes = Math.floor((Date.now() - Date.parse(since)) / 60000)
  return minutes < 1 ? t('waiting_under_minute') : t('waiting_minutes', { minutes })
}

function loadDrafts () {
  try { return JSON.parse(window.sessionStorage.getItem(DRAFTS)) || {} } catch (e) { return {} }
}

function saveDrafts (drafts) {
  try { window.sessionStorage.setItem(DRAFTS, JSON.stringify(drafts)) } catch (e) { /* private mode */ }
}

let audio = null
function beep () {
  try {
    audio = audio || new (window.AudioContext || window.webkitAudioContext)()
    const osc = audio.createOscillator()
    const gain = audio.createGain()
    osc.frequency.value = 880
    gain.gain.setValueAtTime(0.15, audio.currentTime)
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.3)
    osc.connect(gain).connect(audio.destination)
    osc.start()
    osc.stop(audio.currentTime + 0.3)
  } catch (e) { /* no audio here */ }
}
