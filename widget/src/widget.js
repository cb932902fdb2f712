// The embeddable chat widget: one <script src=".../widget.js" async> tag on the host page.
// Everything lives in a shadow root on an element of its own; see docs/widget.md.
import { queue, renderState } from './chat.js'
import { store } from './connection.js'
import { build, openPanel, show } from './frame.js'
import { E, S, SUPPORTED, loadConfig, script, t } from './state.js'
import { connect } from './session.js'

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
