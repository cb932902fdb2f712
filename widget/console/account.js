// The agent's own sessions (where they are logged in; end one, or all) and API tokens (list,
// revoke). REST: /auth/sessions, /auth/logout-everywhere, /auth/tokens (docs/protocol.md).
import { h, clear } from './dom.js'
import { api } from './api.js'
import { formatTime } from './format.js'
import { secondFactorSection } from './second_factor.js'
import { passkeySection } from './passkeys.js'

export function accountView (app, view, onLoggedOutEverywhere) {
  const t = app.t
  const sessions = h('div', { 'aria-live': 'polite' })
  const tokens = h('div', { 'aria-live': 'polite' })
  const everywhere = h('button', { type: 'button', onclick: logoutEverywhere }, t('logout_everywhere'))
  const twoStep = h('section', { 'aria-labelledby': 'second-factor-heading' })
  const keys = h('section', { 'aria-labelledby': 'passkeys-heading' })
  clear(view, h('h1', null, t('nav_account')), keys, twoStep,
    h('section', { 'aria-labelledby': 'sessions-heading' },
      h('h2', { id: 'sessions-heading' }, t('sessions_heading')), sessions,
      h('p', null, everywhere, ' ', h('span', { class: 'hint' }, t('logout_everywhere_hint')))),
    h('section', { 'aria-labelledby': 'tokens-heading' },
      h('h2', { id: 'tokens-heading' }, t('tokens_heading')), tokens))

  const when = (iso) => iso ? formatTime(iso, app.lang, true) : t('token_unused')

  async function loadSessions () {
    try {
      const data = await api('GET', '/auth/sessions')
      clear(sessions, h('table', null,
        h('caption', { class: 'sr-only' }, t('sessions_heading')),
        h('thead', null, h('tr', null, [t('session_client'), t('session_started'), t('session_last_used'), t('actions')]
          .map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', null, data.sessions.map((s) => h('tr', null,
          h('td', null, s.client),
          h('td', null, when(s.started_at)),
          h('td', null, when(s.last_used_at)),
          h('td', null, s.current ? h('strong', null, t('session_this'))
            : h('button', { type: 'button', onclick: () => endSession(s.id) }, t('session_end'),
              h('span', { class: 'sr-only' }, ' ' + s.client))))))))
    } catch (e) {
      clear(sessions, h('p', { class: 'error' }, e.message))
    }
  }

  async function loadTokens () {
    try {
      const data = await api('GET', '/auth/tokens')
      if (!data.tokens.length) return clear(tokens, h('p', { class: 'empty' }, t('tokens_none')))
      clear(tokens, h('table', null,
        h('caption', { class: 'sr-only' }, t('tokens_heading')),
        h('thead', null, h('tr', null, [t('token_name'), t('token_scope'), t('session_started'), t('token_expires'), t('session_last_used'), t('actions')]
          .map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', null, data.tokens.map((k) => h('tr', null,
          h('td', null, k.name || '–'),
          h('td', null, t(k.scope === 'read' ? 'token_scope_read' : 'token_scope_full')),
          h('td', null, when(k.created_at)),
          h('td', null, k.expires_at ? when(k.expires_at) : t('token_never')),
          h('td', null, when(k.last_used_at)),
          h('td', null, h('button', { type: 'button', onclick: () => revoke(k.id) }, t('token_revoke'),
            h('span', { class: 'sr-only' }, ' ' + (k.name || k.id)))))))))
    } catch (e) {
      clear(tokens, h('p', { class: 'error' }, e.message))
    }
  }

  async function endSession (id) {
    try {
      await api('DELETE', '/auth/sessions/' + encodeURIComponent(id))
      app.notify(t('session_ended_note'), 'note')
    } catch (e) { app.fail(e) }
    loadSessions()
  }

  async function revoke (id) {
    try {
      await api('DELETE', '/auth/tokens/' + encodeURIComponent(id))
      app.notify(t('token_revoked'), 'note')
    } catch (e) { app.fail(e) }
    loadTokens()
  }

  async function logoutEverywhere () {
    try {
      await api('POST', '/auth/logout-everywhere')
    } catch (e) {
      if (e.status !== 401) return app.fail(e)
    }
    onLoggedOutEverywhere()
  }

  passkeySection(app, keys)
  secondFactorSection(app, twoStep)
  loadSessions()
  loadTokens()
}
