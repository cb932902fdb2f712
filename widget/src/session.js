// The connection's life: connect with the acknowledged notice and the resume token, welcome
// (resend, then merge and fill gaps), refusals, and the socket for the offline form alone.
import { addMessage, drain, fillGap, forget, renderState, resetChat, setConversation, stopTyping } from './chat.js'
import { Connection } from './connection.js'
import { show } from './frame.js'
import { E, S, save, t } from './state.js'
import { noticeView } from './views.js'

export function connect () {
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

export function stopConnection () {
  stopTyping()
  if (S.conn) S.conn.close()
  S.conn = null
  S.status = ''
}

// For the offline form: a connection that has said welcome, or false.
export function ensureConnection () {
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

export async function onWelcome (welcome) {
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

export function onRefused (data) {
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
