// The embeddable chat widget: one <script src=".../widget.js" async> tag on the host page.
// Everything lives in a shadow root on an element of its own; see docs/widget.md.
// It wires the leaf modules: each reaches the others only through `app` (state.js).
import * as chat from './chat.js'
import { store } from './connection.js'
import * as frame from './frame.js'
import * as session from './session.js'
import { app, elements, loadConfig, script, state, SUPPORTED } from './state.js'
import * as views from './views.js'

Object.assign(app, chat, frame, session, views)

async function boot () {
  // One widget per page, even when the tag is included twice.
  const once = Symbol.for('chatserver-widget')
  if (!script || window[once]) return
  window[once] = true
  state.server = new URL(script.src, document.baseURI).origin
  const wanted = [script.dataset.lang].concat(navigator.languages || [navigator.language])
  state.lang = wanted.map((l) => String(l || '').slice(0, 2).toLowerCase()).find((l) => SUPPORTED.includes(l))
  for (let attempt = 0; !state.cfg; attempt++) {
    try {
      await loadConfig()
    } catch (e) {
      if (attempt >= 4) return
      await new Promise((resolve) => setTimeout(resolve, 1000 * 2 ** attempt))
    }
  }
  frame.build()
  const saved = store.get()
  if (saved && saved.t) {
    // A chat under way on an earlier page of this site (same tab): carry on.
    state.started = true
    state.token = saved.t
    state.noticeVersion = saved.v
    for (const [cid, text] of saved.q || []) chat.queue({ cid, text, state: 'pending' })
    frame.show(elements.chat, elements.input)
    chat.renderState()
    session.connect()
    if (saved.o) frame.openPanel(false)
  }
}

if (document.body) boot()
else document.addEventListener('DOMContentLoaded', boot)
