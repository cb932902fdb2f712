// The widget's shared state: the config and strings, the current chat (`state`), its elements
// (`elements`), and `app`, the functions of the leaf modules (chat, frame, session, views) as
// widget.js wires them: a leaf calls another through `app` and never imports it.
import { store } from './connection.js'

export const SUPPORTED = ['fi', 'sv', 'en']
export const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/
export const script = document.currentScript || document.querySelector('script[src$="/widget.js"]')

export const state = {
  conn: null, // Connection
  started: false, // the visitor pressed "Start chat" (only then is anything stored)
  token: null,
  previous: null, // the key of the chat before this one, until this one has its own
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
export const elements = {}
export const app = {} // filled by widget.js

export function t (key, params) {
  let text = (state.strings && state.strings[key]) || key
  for (const name in params || {}) text = text.split('{' + name + '}').join(params[name])
  return text
}

export function save () {
  if (!state.started || !state.token) return
  store.set({ t: state.token, v: state.noticeVersion, o: state.open, q: state.outbox.map((e) => [e.cid, e.text]) })
}

export async function loadConfig () {
  const query = state.lang ? '?lang=' + state.lang : ''
  const response = await fetch(state.server + '/api/v1/widget/config' + query, {
    credentials: 'omit', referrerPolicy: 'no-referrer', cache: 'no-store'
  })
  if (!response.ok) throw new Error('config ' + response.status)
  const cfg = await response.json()
  state.cfg = cfg
  state.strings = cfg.strings || {}
  state.lang = cfg.language
  return cfg
}

export function errorText (ack) {
  const error = ack.error || {}
  if (error.code === 'offline' || error.code === 'timeout') return t('error_offline')
  return error.message || t('error_generic')
}
