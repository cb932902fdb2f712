// The widget's socket to the /visitor namespace, the resume state kept in sessionStorage, and
// acknowledged calls that settle (never hang) when the connection drops.
import { io } from 'socket.io-client'

const KEY = 'chatserver-widget'

// sessionStorage is written only after the visitor pressed "Start chat" (see widget.js).
export const store = {
  get () {
    try { return JSON.parse(window.sessionStorage.getItem(KEY)) } catch (e) { return null }
  },
  set (value) {
    try { window.sessionStorage.setItem(KEY, JSON.stringify(value)) } catch (e) { /* private mode */ }
  },
  clear () {
    try { window.sessionStorage.removeItem(KEY) } catch (e) { /* private mode */ }
  }
}

export function clientId () {
  const bytes = new Uint8Array(12)
  window.crypto.getRandomValues(bytes)
  return 'w' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
}

// One socket at a time. `handlers` gets welcome, message, typing, conversation, availability,
// refused (connect_error with a code from the server; `unavailable` is retried instead) and
// status ('connecting'|'reconnecting').
export class Connection {
  constructor (server, auth, handlers) {
    this.ready = false
    this.calls = new Set()
    const socket = this.socket = io(server + '/visitor', {
      auth: (cb) => cb(auth()),
      reconnectionDelay: 500,
      reconnectionDelayMax: 10000,
      randomizationFactor: 0.5,
      timeout: 10000,
      withCredentials: false
    })
    for (const name of ['message', 'typing', 'conversation', 'availability']) {
      socket.on(name, (data) => handlers[name](data))
    }
    socket.on('welcome', (data) => {
      this.ready = true
      handlers.welcome(data)
    })
    let retryDelay = 1000
    socket.on('connect_error', (err) => {
      const code = err && err.data && err.data.code
      if (code === 'unavailable') {
        // A node shutting down, a database busy for a moment: try again, as after a drop.
        handlers.status('reconnecting')
        setTimeout(() => { if (this.socket === socket) socket.connect() }, retryDelay)
        retryDelay = Math.min(retryDelay * 2, 10000)
      } else if (code) {
        this.close()
        handlers.refused(err.data)
      } else handlers.status('reconnecting')
    })
    socket.on('connect', () => { retryDelay = 1000 })
    socket.on('disconnect', (reason) => {
      this.ready = false
      // Nothing is replayed blindly: the widget resends its own outbox after the next welcome.
      socket.sendBuffer = []
      this.settle()
      handlers.status('reconnecting')
      if (reason === 'io server disconnect') {
        setTimeout(() => { if (this.socket) socket.connect() }, 1000)
      }
    })
    handlers.status('connecting')
  }

  // Resolves with the ack, or with an error ack when there is no connection or no answer in time.
  call (event, data, ms = 10000) {
    return new Promise((resolve) => {
      if (!this.socket || !this.ready) return resolve(failure('offline'))
      const done = (ack) => {
        this.calls.delete(done)
        resolve(ack && typeof ack === 'object' ? ack : failure('offline'))
      }
      this.calls.add(done)
      this.socket.timeout(ms).emit(event, data, (err, ack) => done(err ? failure('timeout') : ack))
    })
  }

  emit (event, data) {
    if (this.ready) this.socket.volatile.emit(event, data)
  }

  settle () {
    for (const done of [...this.calls]) done(failure('offline'))
  }

  close () {
    const socket = this.socket
    this.socket = null
    this.ready = false
    this.settle()
    if (socket) {
      socket.off()
      socket.disconnect()
    }
  }
}

function failure (code) {
  return { ok: false, error: { code, message: '' } }
}
