// Shared state of the widget: the config and strings, the current chat, its elements.
import { store } from './connection.js'

export const SUPPORTED = ['fi', 'sv', 'en']
export const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/
export const script = document.currentScript || document.querySelector('script[src$="/widget.js"]')

export const S = {
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
export const E = {} // elements

export function t (key, params) {
  let text = (S.strings && S.strings[key]) || key
  for (const name in params || {}) text = text.split('{' + name + '}').join(params[name])
  return text
}

export function save () {
  if (!S.started || !S.token) return
  store.set({ t: S.token, v: S.noticeVersion, o: S.open, q: S.outbox.map((e) => [e.cid, e.text]) })
}

export async function loadConfig () {
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

export function errorText (ack) {
  const error = ack.error || {}
  if (error.code === 'offline' || error.code === 'timeout') return t('error_offline')
  return error.message || t('error_generic')
}
