// The embeddable chat widget: one <script src=".../widget.js" async> tag on the host page.
// Everything lives in a shadow root on an element of its own; see docs/widget.md.
import { CSS } from './style.js'
import { h, icon, focusables, contrast, CHAT_ICON, CLOSE_ICON, MORE_ICON } from './dom.js'
import { Connection, store, clientId } from './connection.js'

const SUPPORTED = ['fi', 'sv', 'en']
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/
const script = document.currentScript || document.querySelector('script[src$="/widget.js"]')

const S = {
  conn: null, // Connection
  started: false, // the visitor pressed "Start chat" (only then is anything stored)
  token: null,
  noticeVersion: null,
  conv: null, // {id, state, agent?, queue_position?}
  lastSeq: 0,
  seen: new Set(),
  outbox: [], // {cid, text, state: 'pending'|'failed', li}
  draining: null,
  open: false,
  unread: 0,
  status: ''
}
const E = {} // elements

function t (key, params) {
  let text = (S.strings && S.strings[key]) || key
  for (const name in params || {}) text = text.split('{' + name + '}').join(params[name])
  return text
}

function save () {
  if (!S.started || !S.token) return
  store.set({ t: S.token, v: S.noticeVersion, o: S.open, q: S.outbox.map((e) => [e.cid, e.text]) })
}

async function loadConfig () {
  const query = S.lang ? '?lang=' + S.lang : ''
  const response = await fetch(S.server + '/api/v1/widget/config' + query, {
    credentials: 'omit', referrerPolicy: 'no-referrer', cache: 'no-store'
  })
  if (!response.ok) throw new Error('config ' + response.status)
  const cfg = await response.json()
  S.cfg = cfg
  S.strings = cfg.strings || {}
  S.lang = cfg.language
  return cfg
}

// ---------------------------------------------------------------- the frame: launcher + panel

function build () {
  const host = document.createElement('chatserver-widget')
  const color = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.test(script.dataset.color || '') ? script.dataset.color : '#0b57d0'
  const readable = contrast(color, '#ffffff') >= 4.5
  host.style.setProperty('--c', color)
  host.style.setProperty('--t', readable ? '#ffffff' : '#1a1a1a')
  host.style.setProperty('--a', readable ? color : '#1a1a1a')
  if (script.dataset.position === 'left') host.setAttribute('data-side', 'left')
  host.setAttribute('lang', S.lang)
  const root = E.root = host.attachShadow({ mode: 'open' })
  try {
    const sheet = new CSSStyleSheet()
    sheet.replaceSync(CSS)
    root.adoptedStyleSheets = [sheet]
  } catch (e) {
    root.append(h('style', {}, CSS))
  }
  E.badge = h('span', { class: 'badge', 'aria-hidden': 'true', hidden: true })
  E.launcher = h('button', { class: 'launch', type: 'button', 'aria-haspopup': 'dialog', onclick: () => openPanel(true) },
    icon(CHAT_ICON), E.badge)
  E.status = h('p', { class: 'status', 'aria-live': 'polite' })
  E.menuButton = h('button', {
    class: 'icon', type: 'button', 'aria-expanded': 'false', 'aria-controls': 'cs-menu', 'aria-label': t('options'), hidden: true, onclick: () => toggleMenu()
  }, icon(MORE_ICON))
  E.menu = h('div', { class: 'menu', id: 'cs-menu', hidden: true },
    E.transcriptItem = menuItem(t('email_transcript'), () => show(transcriptView())),
    menuItem(t('download_transcript'), download),
    menuItem(t('delete_conversation'), () => show(eraseView())),
    E.endItem = menuItem(t('end_chat'), endChat))
  E.body = h('div', { class: 'body' })
  E.panel = h('div', { class: 'panel', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'cs-title', hidden: true, onkeydown: onPanelKey },
    h('div', { class: 'head' },
      h('div', {}, h('h2', { id: 'cs-title' }, t('title')), E.status),
      E.menuButton,
      h('button', { class: 'icon', type: 'button', 'aria-label': t('minimise'), onclick: closePanel }, icon(CLOSE_ICON))),
    E.menu, E.body)
  E.live = h('div', { class: 'sr', 'aria-live': 'polite' })
  root.append(E.launcher, E.panel, E.live)
  buildChat()
  renderBadge()
  document.body.append(host)
}

function menuItem (label, action) {
  return h('button', { class: 'link', type: 'button', onclick: () => { toggleMenu(false); action() } }, label)
}

function toggleMenu (open) {
  const show = open === undefined ? E.menu.hidden : open
  E.menu.hidden = !show
  E.menuButton.setAttribute('aria-expanded', String(show))
  if (show) focusables(E.menu)[0].focus()
}

function onPanelKey (ev) {
  if (ev.key === 'Escape') {
    ev.preventDefault()
    if (!E.menu.hidden) {
      toggleMenu(false)
      E.menuButton.focus()
    } else closePanel()
    return
  }
  if (ev.key !== 'Tab') return
  // Focus stays in the open panel.
  const items = focusables(E.panel)
  if (!items.length) return
  const first = items[0]
  const last = items[items.length - 1]
  const active = E.root.activeElement
  if (ev.shiftKey && (active === first || !items.includes(active))) {
    ev.preventDefault()
    last.focus()
  } else if (!ev.shiftKey && (active === last || !items.includes(active))) {
    ev.preventDefault()
    first.focus()
  }
}

async function openPanel (focus) {
  S.open = true
  S.unread = 0
  renderBadge()
  save()
  if (S.started) show(E.chat, focus && E.input)
  else {
    try { await loadConfig() } catch (e) { /* keep the last configuration */ }
    // With nobody online the offline form comes first, unless a FAQ bot can answer meanwhile.
    const features = S.cfg.features || {}
    show(S.cfg.online || features.bot || !features.offline_form ? noticeView() : offlineView())
  }
  E.launcher.hidden = true
  E.panel.hidden = false
  if (focus) focusView()
}

function closePanel () {
  S.open = false
  save()
  toggleMenu(false)
  E.panel.hidden = true
  E.launcher.hidden = false
  E.launcher.focus()
}

// Replaces the panel's body; `target` (or the view's first control) gets the focus.
function show (view, target) {
  E.body.replaceChildren(view)
  E.body.className = view === E.chat ? 'body chat' : 'body'
  E.menuButton.hidden = view !== E.chat
  E.target = target || view.focusTarget
  if (!E.panel.hidden) focusView()
}

function focusView () {
  const target = E.target || focusables(E.body)[0]
  if (target) target.focus()
}

function renderBadge () {
  E.badge.hidden = !S.unread
  E.badge.textContent = String(S.unread)
  E.launcher.setAttribute('aria-label', S.unread ? t('open_chat') + ' – ' + t('unread', { count: S.unread }) : t('open_chat'))
}

function announce (text) {
  E.live.textContent = text
}

// ---------------------------------------------------------------- notice, offline form, sheets

function noticeBox () {
  const notice = S.cfg.notice
  return h('div', { class: 'notice' },
    h('p', {}, notice.summary),
    h('a', { href: notice.url, target: '_blank', rel: 'noopener noreferrer' }, t('read_notice'), h('span', { class: 'sr' }, ' ' + t('new_tab'))))
}

function noticeView (problem) {
  const start = h('button', { class: 'btn', type: 'button', onclick: startChat }, t('start_chat'))
  const view = h('div', { class: 'view' },
    h('h3', {}, S.cfg.notice.title), noticeBox(),
    problem && h('p', { class: 'alert', role: 'alert' }, problem),
    h('p', { class: 'muted' }, t('notice_ack')), h('p', {}, start))
  view.focusTarget = start
  return view
}

function field (id, label, input) {
  const error = h('p', { class: 'err', id: id + '-e', hidden: true })
  input.id = id
  input.setAttribute('aria-describedby', id + '-e')
  return { el: h('div', {}, h('label', { for: id }, label), input, error), input, error }
}

function check (item, problem) {
  item.error.textContent = problem || ''
  item.error.hidden = !problem
  item.input.setAttribute('aria-invalid', String(!!problem))
  return !problem
}

function validate (items) {
  let firstBad = null
  for (const [item, rule] of items) {
    const value = item.input.value.trim()
    const problem = !value ? t('required') : rule === 'email' && !EMAIL.test(value) ? t('invalid_email') : ''
    if (!check(item, problem) && !firstBad) firstBad = item.input
  }
  if (firstBad) firstBad.focus()
  return !firstBad
}

function offlineView () {
  const name = field('cs-on', t('name'), h('input', { type: 'text', autocomplete: 'name', maxlength: '100' }))
  const email = field('cs-oe', t('email'), h('input', { type: 'email', autocomplete: 'email', maxlength: '254' }))
  const text = field('cs-ot', t('message'), h('textarea', { rows: '4' }))
  const alert = h('p', { class: 'alert', role: 'alert' })
  const send = h('button', { class: 'btn', type: 'submit' }, t('send_message'))
  const form = h('form', {
    novalidate: true,
    onsubmit: async (ev) => {
      ev.preventDefault()
      alert.textContent = ''
      if (!validate([[name], [email, 'email'], [text]])) return
      send.disabled = true
      if (!S.started) S.noticeVersion = S.cfg.notice.version // sending is the acknowledgement
      const ack = await ensureConnection().then((ok) => ok
        ? S.conn.call('offline_message', { name: name.input.value.trim(), email: email.input.value.trim(), text: text.input.value.trim() })
        : { ok: false, error: { code: 'offline' } })
      send.disabled = false
      if (!ack.ok) {
        alert.textContent = errorText(ack)
        return
      }
      if (!S.started) stopConnection()
      show(infoView(t('offline_sent'), S.started ? t('back_to_chat') : t('close'), S.started ? () => show(E.chat, E.input) : closePanel))
    }
  }, h('h3', {}, t('offline_heading')), h('p', {}, t('offline_intro')), noticeBox(),
  name.el, email.el, text.el, h('p', { class: 'muted' }, t('offline_ack')), alert, h('p', {}, send))
  form.focusTarget = name.input
  return form
}

function transcriptView () {
  const email = field('cs-te', t('email'), h('input', { type: 'email', autocomplete: 'email', maxlength: '254' }))
  const alert = h('p', { class: 'alert', role: 'alert' })
  return focusOn(email.input, h('form', {
    novalidate: true,
    onsubmit: async (ev) => {
      ev.preventDefault()
      alert.textContent = ''
      if (!validate([[email, 'email']])) return
      const address = email.input.value.trim()
      const ack = await S.conn.call('transcript', { email: address })
      if (ack.ok) show(infoView(t('transcript_requested', { email: address }), t('back_to_chat'), () => show(E.chat, E.input)))
      else if (ack.error.code === 'invalid_input') check(email, ack.error.message) && email.input.focus()
      else alert.textContent = errorText(ack)
    }
  }, h('h3', {}, t('transcript_heading')), h('p', {}, t('transcript_intro')), email.el, alert,
  h('p', {}, h('button', { class: 'btn', type: 'submit' }, t('transcript_send')), ' ',
    h('button', { class: 'btn sec', type: 'button', onclick: () => show(E.chat, E.input) }, t('cancel')))))
}

function eraseView () {
  const alert = h('p', { class: 'alert', role: 'alert' })
  const cancel = h('button', { class: 'btn sec', type: 'button', onclick: () => show(E.chat, E.input) }, t('cancel'))
  return focusOn(cancel, h('div', { class: 'view' }, h('h3', {}, t('delete_heading')), h('p', {}, t('delete_text')), alert,
    h('p', {}, h('button', {
      class: 'btn danger',
      type: 'button',
      onclick: async () => {
        alert.textContent = ''
        if (S.conv) {
          const ack = await S.conn.call('erase', {})
          if (!ack.ok) {
            alert.textContent = errorText(ack)
            return
          }
        }
        forget()
        show(infoView(t('deleted'), t('close'), closePanel))
      }
    }, t('delete_confirm')), ' ', cancel)))
}

function infoView (text, label, action) {
  const button = h('button', { class: 'btn', type: 'button', onclick: action }, label)
  return focusOn(button, h('div', { class: 'view' }, h('p', { role: 'status' }, text), h('p', {}, button)))
}

function focusOn (target, view) {
  view.focusTarget = target
  return view
}

function errorText (ack) {
  const error = ack.error || {}
  if (error.code === 'offline' || error.code === 'timeout') return t('error_offline')
  return error.message || t('error_generic')
}

// ---------------------------------------------------------------- the chat

function buildChat () {
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

function onComposeKey (ev) {
  if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
    ev.preventDefault()
    sendText()
  }
}

function onTypingInput () {
  if (!S.conv || S.conv.state !== 'active' || !S.conn) return
  if (!S.typingSent) S.conn.emit('typing', { typing: true })
  S.typingSent = true
  clearTimeout(S.typingTimer)
  S.typingTimer = setTimeout(stopTyping, 3000)
}

function stopTyping () {
  clearTimeout(S.typingTimer)
  if (S.typingSent && S.conn) S.conn.emit('typing', { typing: false })
  S.typingSent = false
}

function startChat () {
  S.started = true
  S.noticeVersion = S.cfg.notice.version
  show(E.chat, E.input)
  renderState()
  connect()
}

function newChat () {
  stopConnection()
  resetChat()
  S.token = null
  store.clear()
  show(E.chat, E.input)
  connect()
}

async function handoff () {
  const ack = await S.conn.call('handoff', {})
  if (ack.ok) setConversation(ack.conversation)
  else E.alert.textContent = errorText(ack)
}

async function endChat () {
  if (!S.conv) {
    forget()
    closePanel()
    return
  }
  const ack = await S.conn.call('close', {})
  if (!ack.ok) E.alert.textContent = errorText(ack)
}

async function download () {
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
function forget () {
  stopConnection()
  resetChat()
  S.started = false
  S.token = null
  store.clear()
}

function resetChat () {
  S.conv = null
  S.lastSeq = 0
  S.seen.clear()
  S.outbox = []
  E.list.replaceChildren()
  E.typing.textContent = ''
  E.alert.textContent = ''
  renderState()
}

function sendText () {
  const text = E.input.value.trim()
  if (!text || !S.started || (S.conv && S.conv.state === 'closed')) return
  E.input.value = ''
  stopTyping()
  queue({ cid: clientId(), text, state: 'pending' })
  save()
  drain()
}

function queue (entry) {
  entry.li = renderMessage({ author: { kind: 'visitor' }, text: entry.text }, entry)
  S.outbox.push(entry)
  E.list.append(entry.li)
  scrollDown()
}

// Sends the outbox in order; after a reconnect the same client_id makes a retry harmless.
function drain () {
  if (!S.draining) {
    S.draining = (async () => {
      let entry
      while (S.conn && S.conn.ready && (entry = S.outbox.find((e) => e.state === 'pending'))) {
        const ack = await S.conn.call('message', { client_id: entry.cid, text: entry.text })
        if (ack.ok) delivered(entry, ack)
        else if (ack.error.code === 'offline') break
        else markFailed(entry, errorText(ack))
      }
    })().then(() => { S.draining = null })
  }
  return S.draining
}

function delivered (entry, ack) {
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

function markFailed (entry, problem) {
  entry.state = 'failed'
  const li = renderMessage({ author: { kind: 'visitor' }, text: entry.text }, entry, problem)
  entry.li.replaceWith(li)
  entry.li = li
}

function retry (entry) {
  entry.state = 'pending'
  const li = renderMessage({ author: { kind: 'visitor' }, text: entry.text }, entry)
  entry.li.replaceWith(li)
  entry.li = li
  S.outbox = S.outbox.filter((e) => e !== entry).concat(entry)
  E.list.append(li)
  drain()
}

const clock = () => new Intl.DateTimeFormat(S.lang, { hour: '2-digit', minute: '2-digit' })

function renderMessage (m, entry, problem) {
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
function place (li, seq) {
  for (const other of E.list.children) {
    if (other !== li && (!other.dataset.seq || +other.dataset.seq > seq)) {
      E.list.insertBefore(li, other)
      return
    }
  }
  E.list.append(li)
}

function addMessage (m, live) {
  if (S.seen.has(m.id) || (S.conv && m.conversation_id !== S.conv.id)) return
  if (live === true && m.seq > S.lastSeq + 1) fillGap(S.lastSeq, m.seq)
  S.seen.add(m.id)
  S.lastSeq = Math.max(S.lastSeq, m.seq)
  const li = renderMessage(m)
  // A live bot message may carry hints for buttons under it (docs/protocol.md).
  for (const action of live && Array.isArray(m.actions) ? m.actions : []) {
    const open = ACTIONS[action]
    if (open) li.append(h('div', {}, h('button', { class: 'link', type: 'button', onclick: () => show(open[1]()) }, t(open[0]))))
  }
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

async function fillGap (after, until) {
  while (S.conn && S.lastSeq < until) {
    const ack = await S.conn.call('history', { after_seq: after })
    if (!ack.ok || !ack.messages.length) return
    for (const m of ack.messages) addMessage(m, 'gap')
    after = ack.messages[ack.messages.length - 1].seq
  }
}

function scrollDown () {
  E.list.scrollTop = E.list.scrollHeight
}

const ACTIONS = { offline_form: ['leave_message', () => offlineView()], erase: ['delete_conversation', () => eraseView()] }

function setConversation (c) {
  if (S.conv && S.conv.id !== c.id) return
  const next = Object.assign({}, S.conv, c)
  if (next.state !== 'queued') delete next.queue_position
  if (next.state !== 'active') delete next.agent
  if (next.state !== 'bot') delete next.offer_offline_form
  S.conv = next
  renderState()
}

function renderState () {
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

// ---------------------------------------------------------------- the connection

function connect () {
  if (S.conn) return
  S.conn = new Connection(S.server, () => {
    const auth = { notice_version: S.noticeVersion, lang: S.lang }
    if (S.token) auth.token = S.token
    return auth
  }, {
    welcome: onWelcome,
    message: (m) => addMessage(m, true),
    typing: (data) => {
      clearTimeout(S.typingShown)
      E.typing.textContent = data.typing ? t('typing', { name: data.name || t('agent') }) : ''
      if (data.typing) S.typingShown = setTimeout(() => { E.typing.textContent = '' }, 10000)
    },
    conversation: setConversation,
    availability: (data) => {
      S.cfg.online = data.online
      renderState()
    },
    refused: onRefused,
    status: (status) => {
      S.status = status
      renderState()
    }
  })
}

function stopConnection () {
  stopTyping()
  if (S.conn) S.conn.close()
  S.conn = null
  S.status = ''
}

// For the offline form: a connection that has said welcome, or false.
function ensureConnection () {
  connect()
  return new Promise((resolve) => {
    const started = Date.now()
    const wait = () => {
      if (S.conn && S.conn.ready) resolve(true)
      else if (!S.conn || Date.now() - started > 8000) resolve(false)
      else setTimeout(wait, 50)
    }
    wait()
  })
}

async function onWelcome (welcome) {
  S.status = ''
  S.token = welcome.token
  S.cfg.online = welcome.online
  save()
  const c = welcome.conversation
  if (c && S.conv && c.id !== S.conv.id) resetChat()
  if (!c && S.conv) resetChat() // the conversation is gone (erased, or deleted by retention)
  if (c) setConversation({ id: c.id, state: c.state, agent: c.agent, queue_position: c.queue_position })
  // Resend first, so an earlier send whose ack was lost turns into its stored message once.
  await drain()
  if (c) {
    for (const m of c.messages) addMessage(m, false)
    await fillGap(S.lastSeq, c.last_seq)
  }
  renderState()
}

function onRefused (data) {
  S.conn = null
  S.status = ''
  if (data.code === 'notice_required' && data.notice) {
    S.cfg.notice = data.notice
    forget()
    show(noticeView(data.message))
  } else {
    E.alert.textContent = data.message || t('error_generic')
    renderState()
  }
}

// ---------------------------------------------------------------- start-up

async function boot () {
  // One widget per page, even when the tag is included twice.
  const once = Symbol.for('chatserver-widget')
  if (!script || window[once]) return
  window[once] = true
  S.server = new URL(script.src, document.baseURI).origin
  const wanted = [script.dataset.lang].concat(navigator.languages || [navigator.language])
  S.lang = wanted.map((l) => String(l || '').slice(0, 2).toLowerCase()).find((l) => SUPPORTED.includes(l))
  for (let attempt = 0; !S.cfg; attempt++) {
    try {
      await loadConfig()
    } catch (e) {
      if (attempt >= 4) return
      await new Promise((resolve) => setTimeout(resolve, 1000 * 2 ** attempt))
    }
  }
  build()
  const saved = store.get()
  if (saved && saved.t) {
    // A chat under way on an earlier page of this site (same tab): carry on.
    S.started = true
    S.token = saved.t
    S.noticeVersion = saved.v
    for (const [cid, text] of saved.q || []) queue({ cid, text, state: 'pending' })
    show(E.chat, E.input)
    renderState()
    connect()
    if (saved.o) openPanel(false)
  }
}

if (document.body) boot()
else document.addEventListener('DOMContentLoaded', boot)
