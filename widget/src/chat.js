// The chat view: messages in seq order, the outbox with pending and failed states, typing, state.
import { clientId, store } from './connection.js'
import { h } from './dom.js'
import { app, elements, errorText, save, state, t } from './state.js'

export function buildChat () {
  elements.list = h('ol', { 'aria-label': t('messages'), tabindex: '0' })
  elements.typing = h('p', { class: 'typing' })
  elements.noteText = h('span', {}, t('nobody_online'))
  elements.note = h('p', { class: 'bar', hidden: true }, elements.noteText, ' ',
    h('button', { class: 'link', type: 'button', onclick: () => app.show(app.offlineView()) }, t('leave_message')))
  elements.handoff = h('p', { class: 'bar', hidden: true },
    h('button', { class: 'link', type: 'button', onclick: handoff }, t('talk_to_person')))
  elements.alert = h('p', { class: 'bar alert', role: 'alert' })
  elements.input = h('textarea', { id: 'cs-msg', maxlength: String((state.cfg.limits || {}).max_message_chars || 4000), onkeydown: onComposeKey, oninput: onTypingInput })
  elements.compose = h('form', { class: 'compose', novalidate: true, onsubmit: (ev) => { ev.preventDefault(); sendText() } },
    h('label', { class: 'sr', for: 'cs-msg' }, t('your_message')), elements.input,
    h('button', { class: 'btn', type: 'submit' }, t('send')))
  elements.end = h('div', { class: 'end', hidden: true },
    h('button', { class: 'btn', type: 'button', onclick: newChat }, t('new_chat')))
  elements.chat = h('div', { class: 'cv' }, elements.list, elements.typing, elements.note, elements.handoff, elements.alert, elements.compose, elements.end)
}

export function onComposeKey (ev) {
  if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
    ev.preventDefault()
    sendText()
  }
}

export function onTypingInput () {
  if (!state.conv || state.conv.state !== 'active' || !state.conn) return
  if (!state.typingSent) state.conn.emit('typing', { typing: true })
  state.typingSent = true
  clearTimeout(state.typingTimer)
  state.typingTimer = setTimeout(stopTyping, 3000)
}

export function stopTyping () {
  clearTimeout(state.typingTimer)
  if (state.typingSent && state.conn) state.conn.emit('typing', { typing: false })
  state.typingSent = false
}

export function startChat () {
  state.started = true
  state.noticeVersion = state.cfg.notice.version
  app.show(elements.chat, elements.input)
  renderState()
  app.connect()
}

export function newChat () {
  app.stopConnection()
  resetChat()
  // The ended chat's key goes along once as `previous`: agents then see it as an earlier
  // conversation of the same visitor while it is stored (docs/protocol.md).
  state.previous = state.token || state.previous
  state.token = null
  store.clear()
  app.show(elements.chat, elements.input)
  app.connect()
}

export async function handoff () {
  const ack = await state.conn.call('handoff', {})
  if (ack.ok) setConversation(ack.conversation)
  else elements.alert.textContent = errorText(ack)
}

export async function endChat () {
  if (!state.conv) {
    forget()
    app.closePanel()
    return
  }
  const ack = await state.conn.call('close', {})
  if (!ack.ok) elements.alert.textContent = errorText(ack)
}

export async function download () {
  elements.alert.textContent = ''
  const ack = await state.conn.call('export', {})
  if (!ack.ok) {
    elements.alert.textContent = errorText(ack)
    return
  }
  const url = URL.createObjectURL(new Blob([JSON.stringify(ack.data, null, 2)], { type: 'application/json' }))
  const link = h('a', { href: url, download: 'chat-' + new Date().toISOString().slice(0, 10) + '.json', hidden: true })
  elements.root.append(link)
  link.click()
  link.remove()
  setTimeout(() => URL.revokeObjectURL(url), 30000)
  app.announce(t('downloaded'))
}

// Forget the chat entirely: nothing stays in the browser.
export function forget () {
  app.stopConnection()
  resetChat()
  state.started = false
  state.token = null
  state.previous = null
  store.clear()
}

export function resetChat () {
  state.conv = null
  state.lastSeq = 0
  state.seen.clear()
  state.outbox = []
  elements.list.replaceChildren()
  elements.typing.textContent = ''
  elements.alert.textContent = ''
  renderState()
}

export function sendText () {
  const text = elements.input.value.trim()
  if (!text || !state.started || (state.conv && state.conv.state === 'closed')) return
  elements.input.value = ''
  stopTyping()
  send(text)
}

// A visitor message; `choice` is the FAQ entry picked from the assistant's choices.
export function send (text, choice) {
  const entry = { cid: clientId(), text, state: 'pending' }
  if (choice) entry.choice = choice
  queue(entry)
  save()
  drain()
}

export function queue (entry) {
  entry.li = renderMessage({ author: { kind: 'visitor' }, text: entry.text }, entry)
  state.outbox.push(entry)
  elements.list.append(entry.li)
  scrollDown()
}

// Sends the outbox in order; after a reconnect the same client_id makes a retry harmless.
// `unavailable` (the server's database is busy for a moment) is tried again by itself, waiting
// 1, 2, 4 ... 10 s; the message stays "sending" meanwhile.
export function drain () {
  if (!state.draining) {
    state.draining = (async () => {
      let entry
      let wait = 1000
      while (state.conn && state.conn.ready && (entry = state.outbox.find((e) => e.state === 'pending'))) {
        const payload = { client_id: entry.cid, text: entry.text }
        if (entry.choice) payload.choice = entry.choice
        const ack = await state.conn.call('message', payload)
        if (ack.ok) {
          delivered(entry, ack)
          wait = 1000
        } else if (ack.error.code === 'offline') break
        else if (ack.error.code === 'unavailable') {
          await new Promise((resolve) => setTimeout(resolve, wait))
          wait = Math.min(wait * 2, 10000)
        } else markFailed(entry, errorText(ack))
      }
    })().then(() => { state.draining = null })
  }
  return state.draining
}

export function delivered (entry, ack) {
  state.outbox = state.outbox.filter((e) => e !== entry)
  save()
  if (ack.conversation) setConversation(ack.conversation)
  const message = ack.message
  if (state.seen.has(message.id)) entry.li.remove()
  else {
    state.seen.add(message.id)
    state.lastSeq = Math.max(state.lastSeq, message.seq)
    const li = renderMessage(message)
    entry.li.replaceWith(li)
    place(li, message.seq)
  }
}

export function markFailed (entry, problem) {
  entry.state = 'failed'
  const li = renderMessage({ author: { kind: 'visitor' }, text: entry.text }, entry, problem)
  entry.li.replaceWith(li)
  entry.li = li
}

export function retry (entry) {
  entry.state = 'pending'
  const li = renderMessage({ author: { kind: 'visitor' }, text: entry.text }, entry)
  entry.li.replaceWith(li)
  entry.li = li
  state.outbox = state.outbox.filter((e) => e !== entry).concat(entry)
  elements.list.append(li)
  drain()
}

export const clock = () => new Intl.DateTimeFormat(state.lang, { hour: '2-digit', minute: '2-digit' })

export function renderMessage (m, entry, problem) {
  const kind = m.author.kind
  const who = kind === 'visitor' ? t('you') : kind === 'bot' ? t('assistant') : kind === 'agent' ? m.author.name || t('agent') : ''
  let meta
  if (entry) {
    meta = h('div', { class: 'meta' }, entry.state === 'pending' ? t('sending')
      : [problem || t('failed'), ' ', h('button', { class: 'link', type: 'button', onclick: () => retry(entry) }, t('retry'))])
  } else {
    meta = h('div', { class: 'meta' }, h('time', { datetime: m.created_at }, clock().format(new Date(m.created_at))))
  }
  const li = h('li', { class: kind === 'visitor' ? 'me' : kind === 'system' ? 'sys' : '' },
    who && h('div', { class: kind === 'visitor' ? 'sr' : 'who' }, who + (kind === 'visitor' ? ': ' : '')),
    h('div', { class: 'txt' }, m.text), meta)
  if (entry) li.classList.add(entry.state)
  else li.dataset.seq = m.seq
  return li
}

// Inserts in seq order, before the not yet acknowledged messages.
export function place (li, seq) {
  for (const other of elements.list.children) {
    if (other !== li && (!other.dataset.seq || +other.dataset.seq > seq)) {
      elements.list.insertBefore(li, other)
      return
    }
  }
  elements.list.append(li)
}

export function addMessage (m, live) {
  if (state.seen.has(m.id) || (state.conv && m.conversation_id !== state.conv.id)) return
  if (live === true && m.seq > state.lastSeq + 1) fillGap(state.lastSeq, m.seq)
  state.seen.add(m.id)
  state.lastSeq = Math.max(state.lastSeq, m.seq)
  const li = renderMessage(m)
  // A live bot message may carry hints for buttons under it (docs/protocol.md): choices
  // ("Did you mean…?") and actions.
  const buttons = []
  for (const choice of live && Array.isArray(m.choices) ? m.choices : []) {
    buttons.push(h('button', { class: 'choice', type: 'button', onclick: (ev) => pick(ev, choice) }, choice.title))
  }
  for (const action of live && Array.isArray(m.actions) ? m.actions : []) {
    const open = ACTIONS[action]
    if (open) buttons.push(h('button', { class: buttons.length ? 'choice' : 'link', type: 'button', onclick: open[1] }, t(open[0])))
  }
  if (buttons.length) li.append(h('div', { class: 'choices', role: 'group', 'aria-label': t('choices') }, buttons))
  place(li, m.seq)
  scrollDown()
  if (live && m.author.kind !== 'visitor') {
    elements.typing.textContent = ''
    app.announce((m.author.name || (m.author.kind === 'bot' ? t('assistant') : '')) + (m.author.name || m.author.kind === 'bot' ? ': ' : '') + m.text)
    if (!state.open) {
      state.unread += 1
      app.renderBadge()
    }
  }
}

export async function fillGap (after, until) {
  while (state.conn && state.lastSeq < until) {
    const ack = await state.conn.call('history', { after_seq: after })
    if (!ack.ok || !ack.messages.length) return
    for (const m of ack.messages) addMessage(m, 'gap')
    after = ack.messages[ack.messages.length - 1].seq
  }
}

export function scrollDown () {
  elements.list.scrollTop = elements.list.scrollHeight
}

export const ACTIONS = {
  offline_form: ['leave_message', () => app.show(app.offlineView())],
  erase: ['delete_conversation', () => app.show(app.eraseView())],
  handoff: ['talk_to_person', () => handoff()]
}

// A choice is answered once: its buttons go, and it is sent as the visitor's message.
function pick (ev, choice) {
  ev.currentTarget.parentElement.remove()
  send(choice.title, choice.id)
  elements.input.focus()
}

export function setConversation (c) {
  if (state.conv && state.conv.id !== c.id) return
  state.previous = null // linked by the server when this conversation was opened
  const ending = !!state.conv && state.conv.state !== 'closed' && c.state === 'closed' && !c.erased
  const next = Object.assign({}, state.conv, c)
  if (next.state !== 'queued') delete next.queue_position
  if (next.state !== 'active') delete next.agent
  if (next.state !== 'bot') delete next.offer_offline_form
  state.conv = next
  renderState()
  if (ending && (state.cfg.features || {}).rating) app.show(app.ratingView())
}

export function renderState () {
  const c = state.conv
  let text = state.status === 'reconnecting' ? t('reconnecting') : state.status === 'connecting' ? t('connecting') : ''
  if (!text && state.started) {
    if (!c) text = t('state_new')
    else if (c.state === 'bot') text = t('state_bot')
    else if (c.state === 'queued') text = c.queue_position ? t('state_queue_position', { position: c.queue_position }) : t('state_queued')
    else if (c.state === 'active') text = t('state_active', { name: (c.agent && c.agent.name) || t('agent') })
    else text = t('state_closed')
  }
  if (elements.status.textContent !== text) elements.status.textContent = text
  const closed = !!c && c.state === 'closed'
  elements.compose.hidden = closed
  elements.end.hidden = !closed
  elements.endItem.hidden = closed
  elements.transcriptItem.hidden = closed || !(state.cfg.features || {}).transcript
  const features = state.cfg.features || {}
  elements.note.hidden = !(c && (c.offer_offline_form || ((c.state === 'queued' || c.state === 'bot') && !state.cfg.online)) && features.offline_form)
  elements.handoff.hidden = !(c && c.state === 'bot' && state.cfg.online)
  // Outside the business hours: when the team is back, instead of "No one is online".
  elements.noteText.textContent = state.cfg.back_at || t('nobody_online')
}
