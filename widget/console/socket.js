// The console's socket to the /agent namespace (the session cookie authenticates it). Calls
// always settle: with the server's ack, or with an error ack when offline or out of time.
import { io } from 'socket.io-client'

export class AgentSocket {
  constructor (handlers) {
    this.ready = false
    this.handlers = handlers
    this.calls = new Set()
    const socket = this.socket = io('/agent', {
      // 2: the queue's changes come as `queue_update` deltas (docs/protocol.md).
      auth: { queue_version: 2 },
      transports: ['websocket'],
      reconnectionDelay: 500,
      reconnectionDelayMax: 5000,
      timeout: 8000
    })
    for (const name of ['queue', 'queue_update', 'conversation', 'message', 'typing', 'agents', 'note', 'rating']) {
      socket.on(name, (data) => handlers[name](data))
    }
    socket.on('welcome', (data) => {
      this.ready = true
      handlers.welcome(data)
    })
    socket.on('connect_error', (err) => {
      const data = err && err.data
      if (data && (data.code === 'unauthorized' || data.code === 'forbidden')) {
        this.close()
        handlers.refused(data)
      } else handlers.status('offline')
    })
    socket.on('disconnect', (reason) => {
      this.ready = false
      socket.sendBuffer = []
      // Calls in flight get no ack now; settle them so their messages wait for the reconnect.
      for (const done of [...this.calls]) done(failure('offline'))
      handlers.status('offline')
      // The server ended the socket (a session check failed, or the node shuts down): try
      // again; a session that really ended is refused on connect and the login page shows.
      if (reason === 'io server disconnect') setTimeout(() => this.socket && socket.connect(), 1000)
    })
  }

  call (event, data, ms = 10000) {
    return new Promise((resolve) => {
      if (!this.socket || !this.ready) return resolve(failure('offline'))
      const done = (ack) => {
        if (!this.calls.delete(done)) return
        resolve(ack)
      }
      this.calls.add(done)
      this.socket.timeout(ms).emit(event, data, (err, ack) => {
        done(err || !ack || typeof ack !== 'object' ? failure('offline') : ack)
      })
    })
  }

  emit (event, data) {
    if (this.ready) this.socket.volatile.emit(event, data)
  }

  close () {
    const socket = this.socket
    this.socket = null
    this.ready = false
    if (socket) {
      socket.off()
      socket.disconnect()
    }
  }
}

function failure (code) {
  return { ok: false, error: { code, message: '' } }
}
