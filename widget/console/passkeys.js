// Passkeys (WebAuthn) in the console: register and remove them on the account page, log in
// with one, or use one as the login's second step. The options and credentials travel in
// WebAuthn's standard JSON forms (parse...FromJSON, toJSON), which Chromium, Firefox and
// Safari implement. REST: /auth/passkeys, /auth/passkey-login, /auth/verify/passkey.
import { h, clear, field } from './dom.js'
import { api } from './api.js'
import { formatTime } from './format.js'

export const passkeysSupported = () => typeof window.PublicKeyCredential === 'function' &&
  typeof window.PublicKeyCredential.parseRequestOptionsFromJSON === 'function'

// The browser's part of a login with a passkey: options from `start`, the signed answer to
// `finish`; resolves to what `finish` answers.
export async function usePasskey (start, finish) {
  const { handle, options } = await api('POST', start)
  const publicKey = window.PublicKeyCredential.parseRequestOptionsFromJSON(options)
  const credential = await navigator.credentials.get({ publicKey })
  return api('POST', finish, { handle, credential: credential.toJSON() })
}

export async function passkeySection (app, section) {
  const t = app.t
  const heading = h('h2', { id: 'passkeys-heading' }, t('passkeys_heading'))
  if (!passkeysSupported()) return clear(section, heading, h('p', null, t('passkey_unsupported')))
  let list
  try {
    list = (await api('GET', '/auth/passkeys')).passkeys
  } catch (e) {
    return clear(section, heading, h('p', { class: 'error' }, e.message))
  }
  const name = h('input', { type: 'text', maxlength: 100, autocomplete: 'off' })
  const form = h('form', { class: 'inline', onsubmit: add },
    field(t('passkey_name'), name)[0], h('button', { type: 'submit' }, t('passkey_add')))
  const when = (iso) => iso ? formatTime(iso, app.lang, true) : t('token_unused')
  const table = list.length
    ? h('table', null, h('caption', { class: 'sr-only' }, t('passkeys_heading')),
      h('thead', null, h('tr', null, [t('token_name'), t('passkey_created'), t('session_last_used'), t('actions')]
        .map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', null, list.map((p) => h('tr', null,
        h('td', null, p.name), h('td', null, when(p.created_at)), h('td', null, when(p.last_used_at)),
        h('td', null, h('button', { type: 'button', onclick: () => remove(p.id) }, t('passkey_remove'),
          h('span', { class: 'sr-only' }, ' ' + p.name)))))))
    : h('p', { class: 'empty' }, t('passkey_none'))
  clear(section, heading, table, form)

  async function add (event) {
    event.preventDefault()
    try {
      const { handle, options } = await api('POST', '/auth/passkey-options')
      const publicKey = window.PublicKeyCredential.parseCreationOptionsFromJSON(options)
      const credential = await navigator.credentials.create({ publicKey })
      await api('POST', '/auth/passkeys', { handle, name: name.value.trim(), credential: credential.toJSON() })
      app.notify(t('passkey_added'), 'note')
    } catch (e) { return app.fail(e) }
    passkeySection(app, section)
  }

  async function remove (id) {
    try {
      await api('DELETE', '/auth/passkeys/' + encodeURIComponent(id))
    } catch (e) { return app.fail(e) }
    passkeySection(app, section)
  }
}
