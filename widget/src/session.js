// The connection's life: connect with the acknowledged notice and the resume token, welcome
// (resend, then merge and fill gaps), refusals, and the socket for the offline form alone.
import { Connection } from './connection.js'
import { app, elements, save, state, t } from './state.js'

export function connect () {
  if (state.conn) return
  state.conn = new Connection(state.server, () => {
    const auth = { notice_version: state.noticeVersion, lang: state.lang }
    if (state.token) auth.token = state.token
    if (state.previous) auth.previous = state.previous
    return auth
  }, {
    welcome: onWelcome,
    message: (m) => app.addMessage(m, true),
    typing: (data) => {
      clearTimeout(state.typingShown)
      elements.typing.textContent = data.typing ? t('typing', { name: data.name || t('agent') }) : ''
      if (data.typing) state.typingShown = setTimeout(() => { elements.typing.textContent = '' }, 10000)
    },
    conversation: app.setConversation,
    availability: (data) => {
      state.cfg.online = data.online
      state.cfg.back_at = (data.back_at && data.back_at[state.lang]) || null
      app.renderState()
    },
    refused: onRefused,
    status: (status) => {
      state.status = status
      app.renderState()
    }
  })
}

export function stopConnection () {
  app.stopTyping()
  if (state.conn) state.conn.close()
  state.conn = null
  state.status = ''
}

// For the offline form: a connection that has said welcome, or false.
export function ensureConnection () {
  connect()
  return new Promise((resolve) => {
    const started = Date.now()
    const wait = () => {
      if (state.conn && state.conn.ready) resolve(true)
      else if (!state.conn || Date.now() - started > 8000) resolve(false)
      else setTimeout(wait, 50)
    }
    wait()
  })
}

export async function onWelcome (welcome) {
  state.status = ''
  state.token = welcome.token
  state.cfg.online = welcome.online
  state.cfg.back_at = welcome.back_at || null
  save()
  const c = welcome.conversation
  if (c && state.conv && c.id !== state.conv.id) app.resetChat()
  if (!c && state.conv) app.resetChat() // the conversation is gone (erased, or deleted by retention)
  if (c) app.setConversation({ id: c.id, state: c.state, agent: c.agent, queue_position: c.queue_position })
  // Resend first, so an earlier send whose ack was lost turns into its stored message once.
  await app.drain()
  if (c) {
    for (const m of c.messages) app.addMessage(m, false)
    await app.fillGap(state.lastSeq, c.last_seq)
  }
  app.renderState()
}

export function onRefused (data) {
  state.conn = null
  state.status = ''
  if (data.code === 'notice_required' && data.notice) {
    state.cfg.notice = data.notice
    app.forget()
    app.show(app.noticeView(data.message))
  } else {
    elements.alert.textContent = data.message || t('error_generic')
    app.renderState()
  }
}
