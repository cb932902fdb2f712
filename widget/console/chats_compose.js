// The chats view's writing (chats.js mixes these methods in): the reply (sent to the chat on
// screen, resent after a reconnect with the same client_id, a failed one put back to edit),
// typing both ways, canned responses by /shortcut and Tab, private notes, and the drafts of
// each chat kept in sessionStorage until the chat leaves the list or the agent logs out.
import { randomId } from './dom.js'

const DRAFTS = 'chatserver-console-drafts'

export const composing = {
  async addNote () {
    const chat = this.chats.get(this.selected)
    const area = this.el.noteArea
    const text = area ? area.value.trim() : ''
    if (!chat || !text) return
    this.el.noteButton.disabled = true
    const clientId = chat.noteClientId || (chat.noteClientId = randomId('n'))
    const ack = await this.socket.call('note', { conversation_id: chat.conv.id, client_id: clientId, text })
    this.el.noteButton.disabled = false
    if (!ack.ok) return this.app.notify(ack.error.message || this.t('error_offline'))
    chat.noteClientId = null
    if (this.el.noteArea === area) area.value = ''
    this.setDraft('n:' + chat.conv.id, '')
    this.mergeNote(chat, ack.note)
    this.renderLog()
    this.app.notify(this.t('note_added'), 'note')
  },

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
  },

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
  },

  editFailed (chat, pending) {
    chat.pending = chat.pending.filter((p) => p !== pending)
    const current = this.el.textarea.value
    this.el.textarea.value = pending.text + (current ? '\n' + current : '')
    this.setDraft(chat.conv.id, this.el.textarea.value)
    this.renderPending()
    this.el.textarea.focus()
  },

  typing (chat) {
    if (chat.closed) return
    if (!chat.typingSent) {
      chat.typingSent = true
      this.socket.emit('typing', { conversation_id: chat.conv.id, typing: true })
    }
    clearTimeout(chat.typingStop)
    chat.typingStop = setTimeout(() => this.stopTyping(chat), 3000)
  },

  stopTyping (chat) {
    clearTimeout(chat.typingStop)
    if (chat.typingSent) {
      chat.typingSent = false
      this.socket.emit('typing', { conversation_id: chat.conv.id, typing: false })
    }
  },

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
  },

  findCanned (shortcut, language) {
    return this.canned.find((c) => c.shortcut === shortcut && c.language === language) ||
      this.canned.find((c) => c.shortcut === shortcut)
  },

  insertText (head, text, tail, chat) {
    const area = this.el.textarea
    area.value = head + text + tail
    const at = (head + text).length
    area.setSelectionRange(at, at)
    this.setDraft(chat.conv.id, area.value)
    area.focus()
  },

  setDraft (id, text) {
    if (text) this.drafts[id] = text
    else delete this.drafts[id]
    saveDrafts(this.drafts)
  }
}

export function loadDrafts () {
  try { return JSON.parse(window.sessionStorage.getItem(DRAFTS)) || {} } catch (e) { return {} }
}

export function saveDrafts (drafts) {
  try { window.sessionStorage.setItem(DRAFTS, JSON.stringify(drafts)) } catch (e) { /* private mode */ }
}
