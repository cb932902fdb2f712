// The agent's live work: presence, the queue, several claimed chats at once (unread counts,
// who wrote last, typing, a draft each, private notes, canned responses, transfer and close),
// keyboard shortcuts and the connection banner. Nothing typed is lost: drafts live in
// sessionStorage and unsent messages are resent after a reconnect with the same client_id (the
// server stores a retry once). The panes are drawn by chats_render.js; writing (replies,
// notes, typing, canned responses, drafts) is in chats_compose.js.
import { h, clear } from './dom.js'
import { api } from './api.js'
import { AgentSocket } from './socket.js'
import { languageName } from './format.js'
import { rendering } from './chats_render.js'
import { composing, loadDrafts, saveDrafts } from './chats_compose.js'
import { listen } from './shortcuts.js'

export class ChatsView {
  constructor (app, prefs, onRefused) {
    this.app = app
    this.t = app.t
    this.prefs = prefs
    this.queue = []
    this.left = new Set() // conversations that left the queue: they never come back to it
    this.added = new Map() // conversations added by deltas since the welcome (onQueue)
    this.seen = null
    this.chats = new Map()
    this.online = []
    this.canned = []
    this.selected = null
    this.pane = 'list' // the pane shown on a phone-sized screen: list, chat or details
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
      note: (n) => this.onNote(n),
      rating: (r) => this.onRating(r),
      agents: (d) => { this.online = d.online; this.renderPanelActions() },
      status: () => this.setConnected(false),
      refused: (d) => { this.stop(); this.onRefused(d.message || this.t('session_ended')) }
    })
    this.timer = setInterval(() => { this.renderQueue(); this.renderTabs() }, 30000)
    this.stopKeys = listen(this.t, {
      next: () => this.step(1),
      previous: () => this.step(-1),
      claim: () => this.claimFirst(),
      reply: () => this.focus('textarea'),
      canned: () => this.focus('cannedSelect'),
      note: () => this.focus('noteArea'),
      end: () => this.focus('end')
    }, () => this.isMounted())
    this.loadCanned()
  }

  stop () {
    clearInterval(this.timer)
    this.stopKeys()
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

  // The list is drawn at once; then the messages each chat missed are fetched, the chat on
  // screen first and the others a few at a time (50 open chats do not wait for 50 round trips
  // in a row: docs/performance.md), and what waited for the connection is sent.
  async onWelcome (data) {
    performance.mark('chatserver:welcome') // bench/console_paint.py reads these
    this.setConnected(true)
    this.app.me = { ...this.app.me, ...data.agent }
    this.online = data.online || []
    this.added = new Map() // a new connection: its welcome's queue is the base again
    this.onQueue(data.queue)
    const assigned = new Set()
    for (const conv of data.assigned) {
      assigned.add(conv.id)
      const chat = this.chats.get(conv.id) || this.addChat(conv, [])
      chat.conv = conv
      chat.closed = false
    }
    for (const chat of this.chats.values()) {
      if (!assigned.has(chat.conv.id) && !chat.closed) {
        chat.closed = true
        chat.note = this.t('chat_gone')
      }
    }
    if (this.app.presenceSelect) this.app.presenceSelect.value = this.app.me.presence === 'away' ? 'away' : 'online'
    // The requests go out first, so the server answers while the list is being drawn.
    const open = [...this.chats.values()].filter((chat) => !chat.closed)
    open.sort((a, b) => (b.conv.id === this.selected) - (a.conv.id === this.selected))
    const workers = Array.from({ length: 4 }, async () => {
      for (let chat = open.shift(); chat; chat = open.shift()) {
        await this.catchUp(chat)
        if (chat.conv.id === this.selected) this.renderLog()
        this.scheduleTabs()
      }
    })
    this.render()
    performance.mark('chatserver:listed')
    await Promise.all(workers)
    this.renderDetails()
    for (const chat of this.chats.values()) {
      for (const pending of chat.pending) if (pending.status !== 'failed') this.deliver(chat, pending)
    }
  }

  // Messages after the last one seen, page by page, and the notes (every history has them all).
  async catchUp (chat) {
    for (let round = 0; round < 50; round++) {
      const ack = await this.socket.call('history', { conversation_id: chat.conv.id, after_seq: chat.lastSeq })
      if (!ack.ok) return
      for (const n of ack.notes || []) this.mergeNote(chat, n)
      if (ack.earlier) chat.earlier = ack.earlier
      if (ack.rating) chat.rating = ack.rating
      if (ack.assistant) chat.assistant = ack.assistant
      if (!ack.messages.length) return
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
  // The whole queue: in `welcome`, right after it, and when asked for with `queue`. A whole
  // queue read before a conversation joined can arrive after that conversation's `added`
  // delta: the conversations added since the welcome are kept in it unless they have left.
  onQueue (all) {
    const byId = new Map(all.map((c) => [c.id, c]))
    for (const [id, conv] of this.added) if (!byId.has(id)) byId.set(id, conv)
    this.setQueue(inQueueOrder([...byId.values()]))
  }

  setQueue (all) {
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
      this.added.delete(id)
      if (this.left.size > 10000) this.left.delete(this.left.values().next().value)
    }
    const next = this.queue.filter((c) => !this.left.has(c.id))
    const have = new Set(next.map((c) => c.id))
    for (const conv of added) {
      if (!this.left.has(conv.id)) this.added.set(conv.id, conv)
      if (!have.has(conv.id)) next.push(conv)
    }
    this.setQueue(inQueueOrder(next))
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
    if (chat.typing) chat.typingTimer = setTimeout(() => { chat.typing = false; this.renderTyping(); this.scheduleTabs() }, 15000)
    this.renderTyping()
    this.scheduleTabs()
  }

  // The visitor rated a chat that was yours (reports.rate): shown in its details.
  onRating (rating) {
    const chat = this.chats.get(rating.conversation_id)
    if (!chat) return
    chat.rating = rating
    if (this.selected === chat.conv.id) this.renderDetails()
  }

  onNote (note) {
    const chat = this.chats.get(note.conversation_id)
    if (!chat || !this.mergeNote(chat, note)) return
    if (this.selected === chat.conv.id) this.renderLog()
  }

  // --- state ---------------------------------------------------------------------------------
  addChat (conv, messages) {
    const chat = { conv, messages: [], notes: [], lastSeq: 0, unread: 0, typing: false, pending: [], closed: conv.state === 'closed' }
    this.chats.set(conv.id, chat)
    for (const m of messages) this.merge(chat, m, false)
    if (!this.selected) this.selected = conv.id
    return chat
  }

  removeChat (id) {
    this.chats.delete(id)
    delete this.drafts[id]
    saveDrafts(this.drafts)
    delete this.drafts['n:' + id]
    saveDrafts(this.drafts)
    if (this.selected === id) {
      this.selected = this.chats.size ? this.chats.keys().next().value : null
      this.pane = 'list'
    }
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
    if (this.selected === chat.conv.id && this.isMounted()) this.renderLog()
    this.renderTabs()
  }

  // A note, once (the ack and the event of the same note may both arrive); true if new.
  mergeNote (chat, note) {
    if (chat.notes.some((x) => x.id === note.id)) return false
    chat.notes.push(note)
    chat.notes.sort((a, b) => a.after_seq - b.after_seq || a.created_at.localeCompare(b.created_at))
    return true
  }

  // The chats with something unread (the title, the favicon and the nav badge count them).
  unreadChats () {
    let total = 0
    for (const chat of this.chats.values()) if (chat.unread) total += 1
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
    if (button) button.disabled = true
    this.claiming = true
    const ack = await this.socket.call('claim', { conversation_id: id })
    this.claiming = false
    if (button) button.disabled = false
    if (!ack.ok) return this.app.notify(ack.error.message || this.t('error_offline'))
    const chat = this.chats.get(id) || this.addChat(ack.conversation, [])
    chat.conv = ack.conversation
    if (ack.assistant) chat.assistant = ack.assistant
    for (const m of ack.conversation.messages) this.merge(chat, m, false)
    this.left.add(id)
    this.queue = this.queue.filter((c) => c.id !== id)
    this.select(id)
    this.catchUp(chat).then(() => this.render()) // its notes and earlier conversations
  }

  select (id) {
    this.selected = id
    this.pane = 'chat'
    const chat = this.chats.get(id)
    if (chat) chat.unread = 0
    this.render()
    if (this.el.textarea && !this.el.textarea.disabled) this.el.textarea.focus()
  }

  // Alt+↓ / Alt+↑: the next or the previous chat of the list, round the end.
  step (by) {
    const ids = [...this.chats.keys()]
    if (!ids.length) return
    const at = ids.indexOf(this.selected)
    this.select(ids[(at + by + ids.length) % ids.length])
  }

  claimFirst () {
    const first = this.queue[0]
    if (!first) return this.app.notify(this.t('queue_empty'), 'note')
    this.claim(first.id, null)
  }

  focus (name) {
    const el = this.el[name]
    if (el && el.isConnected && !el.disabled) el.focus()
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

}

Object.assign(ChatsView.prototype, rendering, composing)

function inQueueOrder (conversations) {
  return conversations.sort((a, b) => (a.queued_at || '').localeCompare(b.queued_at || '') || a.id.localeCompare(b.id))
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
