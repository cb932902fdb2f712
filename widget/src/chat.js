// The chat view: messages in seq order, the outbox with pending and failed states, typing, state.
import { clientId, store } from './connection.js'
import { h } from './dom.js'
import { announce, closePanel, renderBadge, show } from './frame.js'
import { E, S, errorText, save, t } from './state.js'
import { eraseView, offlineView } from './views.js'
import { connect, stopConnection } from './session.js'

export function buildChat () {
  E.list = h('ol', { 'aria-label': t('messages'), tabindex: '0' })
  E.typing = h('p', { class: 'typing' })
  E.note = h('p', { class: 'bar', hidden: true }, t('nobody_online'), ' ',
    h('button', { class: 'link', type: 'button', onclick: () => show(offlineView()) }, t('leave_message')))
  E.handoff = h('p', { class: 'bar', hidden: true },
    h('button', { class: 'link', type: 'button', onclick: handoff }, t('talk_to_person')))
  E.alert = h('p', { class: 'bar alert', role: 'alert' })
  E.input = h('textarea', { id: 'cs-msg', maxlength: String((S.cfg.limits || {}).max_message_chars || 4000), onkeydown: onComposeKey, oninput: onTypingInput })
  E.compose = h('form', { class: 'compose', novalidate: true, onsubmit: (ev) => { ev.preventDefault(); sendText() } },
    h('label', { class: 'sr', for: 'cs-msg' }, t('your_message')), E.input,
    h('button', { class: 'btn', type: 'submit' }, t('send')))
  E.end = h('div', { class: 'end', hidden: true },
    h('button', { class: 'btn', type: 'button', onclick: newChat }, t('new_chat')))
  E.chat = h('div', { class: 'cv' }, E.list, E.typing, E.note, E.handoff, E.alert, E.compose, E.end)
}

export function onComposeKey (ev) {
  if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
    ev.preventDefault()
    sendText()
  }
}

export function onTypingInput () {
  if (!S.conv || S.conv.state !== 'active' || !S.conn) return
  if (!S.typingSent) S.conn.emit('typing', { typing: true })
  S.typingSent = true
  clearTimeout(S.typingTimer)
  S.typingTimer = setTimeout(stopTyping, 3000)
}

export function stopTyping () {
  clearTimeout(S.typingTimer)
  if (S.typingSent && S.conn) S.conn.emit('typing', { typing: false })
  S.typingSent = false
}

export function startChat () {
  S.started = true
  S.noticeVersion = S.cfg.notice.version
  show(E.chat, E.input)
  renderState()
  connect()
}

export function newChat () {
  stopConnection()
  resetChat()
  S.token = null
  store.clear()
  show(E.chat, E.input)
  connect()
}

export async function handoff () {
  const ack = await S.conn.call('handoff', {})
  if (ack.ok) setConversation(ack.conversation)
  else E.alert.textContent = errorText(ack)
}

export async function endChat () {
  if (!S.conv) {
    forget()
    closePanel()
    return
  }
  const ack = await S.conn.call('close', {})
  if (!ack.ok) E.alert.textContent = errorText(ack)
}

export async function download () {
  E.alert.textContent = ''
  const ack = await S.conn.call('export', {})
  if (!ack.ok) {
    E.alert.textContent = errorText(ack)
    return
  }
  const url = URL.createObjectURL(new Blob([JSON.stringify(ack.data, null, 2)], { type: 'application/json' }))
  const link = h('a', { href: url, download: 'chat-' + new Date().toISOString().slice(0, 10) + '.json', hidden: true })
  E.root.append(link)
  link.click()
  link.remove()
  setTimeout(() => URL.revokeObjectURL(url), 30000)
  announce(t('downloaded'))
}

// Forget the chat entirely: nothing stays in the browser.
export function forget () {
  stopConnection()
  resetChat()
  S.started = false
  S.token = null
  store.clear()
}

export function resetChat () {
  S.conv = null
  S.lastSeq = 0
  S.seen.clear()
  S.outbox = []
  E.list.replaceChildren()
  E.typing.textContent = ''
  E.alert.textContent = ''
  renderState()
}

export function sendText () {
  const text = E.input.value.trim()
  if (!text || !S.started || (S.conv && S.conv.state === 'closed')) return
  E.input.value = ''
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
  S.outbox.push(entry)
  E.list.append(entry.li)
  scrollDown()
}

// Sends the outbox in order; after a reconnect the same client_id makes a retry harmless.
export function drain () {
  if (!S.draining) {
    S.draining = (async () => {
      let entry
      while (S.conn && S.conn.ready && (entry = S.outbox.find((e) => e.state === 'pending'))) {
        const payload = { client_id: entry.cid, text: entry.text }
        if (entry.choice) payload.choice = entry.choice
        const ack = await S.conn.call('message', payload)
        if (ack.ok) delivered(entry, ack)
        else if (ack.error.code === 'offline') break
        else markFailed(entry, errorText(ack))
      }
    })().then(() => { S.draining = null })
  }
  return S.draining
}

export function delivered (entry, ack) {
  S.outbox = S.outbox.filter((e) => e !== entry)
  save()
  if (ack.conversation) setConversation(ack.conversation)
  const message = ack.message
  if (S.seen.has(message.id)) entry.li.remove()
  else {
    S.seen.add(message.id)
    S.lastSeq = Math.max(S.lastSeq, message.seq)
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
  S.outbox = S.outbox.filter((e) => e !== entry).concat(entry)
  E.list.append(li)
  drain()
}

export const clock = () => new Intl.DateTimeFormat(S.lang, { hour: '2-digit', minute: '2-digit' })

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
  for (const other of E.list.children) {
    if (other !== li && (!other.dataset.seq || +other.dataset.seq > seq)) {
      E.list.insertBefore(li, other)
      return
    }
  }
  E.list.append(li)
}

export function addMessage (m, live) {
  if (S.seen.has(m.id) || (S.conv && m.conversation_id !== S.conv.id)) return
  if (live === true && m.seq > S.lastSeq + 1) fillGap(S.lastSeq, m.seq)
  S.seen.add(m.id)
  S.lastSeq = Math.max(S.lastSeq, m.seq)
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
    E.typing.textContent = ''
    announce((m.author.name || (m.author.kind === 'bot' ? t('assistant') : '')) + (m.author.name || m.author.kind === 'bot' ? ': ' : '') + m.text)
    if (!S.open) {
      S.unread += 1
      renderBadge()
    }
  }
}

export async function fillGap (after, until) {
  while (S.conn && S.lastSeq < until) {
    const ack = await S.conn.call('history', { after_seq: after })
    if (!ack.ok || !ack.messages.length) return
    for (const m of ack.messages) addMessage(m, 'gap')
    after = ack.messages[ack.messages.length - 1].seq
  }
}

export function scrollDown () {
  E.list.scrollTop = E.list.scrollHeight
}

export const ACTIONS = {
  offline_form: ['leave_message', () => show(offlineView())],
  erase: ['delete_conversation', () => show(eraseView())],
  handoff: ['talk_to_person', () => handoff()]
}

// A choice is answered once: its buttons go, and it is sent as the visitor's message.
function pick (ev, choice) {
  ev.currentTarget.parentElement.remove()
  send(choice.title, choice.id)
  E.input.focus()
}

export function setConversation (c) {
  if (S.conv && S.conv.id !== c.id) return
  const next = Object.assign({}, S.conv, c)
  if (next.state !== 'queued') delete next.queue_position
  if (next.state !== 'active') delete next.agent
  if (next.state !== 'bot') delete next.offer_offline_form
  S.conv = next
  renderState()
}

export function renderState () {
  const c = S.conv
  let text = S.status === 'reconnecting' ? t('reconnecting') : S.status === 'connecting' ? t('connecting') : ''
  if (!text && S.started) {
    if (!c) text = t('state_new')
    else if (c.state === 'bot') text = t('state_bot')
    else if (c.state === 'queued') text = c.queue_position ? t('state_queue_position', { position: c.queue_position }) : t('state_queued')
    else if (c.state === 'active') text = t('state_active', { name: (c.agent && c.agent.name) || t('agent') })
    else text = t('state_closed')
  }
  if (E.status.textContent !== text) E.status.textContent = text
  const closed = !!c && c.state === 'closed'
  E.compose.hidden = closed
  E.end.hidden = !closed
  E.endItem.hidden = closed
  E.transcriptItem.hidden = closed || !(S.cfg.features || {}).transcript
  const features = S.cfg.features || {}
  E.note.hidden = !(c && (c.offer_offline_form || ((c.state === 'queued' || c.state === 'bot') && !S.cfg.online)) && features.offline_form)
  E.handoff.hidden = !(c && c.state === 'bot' && S.cfg.online)
}
