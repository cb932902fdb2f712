// One-time codes: the login's second step, and setting them up (on the account page, or as
// the only page while the organisation's policy requires them). REST: /auth/verify,
// /auth/second-factor (docs/protocol.md, docs/security.md).
import { h, clear, field } from './dom.js'
import { api } from './api.js'
import { passkeysSupported, usePasskey } from './passkeys.js'

// The login's second step: a passkey, or a code from the authenticator app or a recovery code
// (`factors`: what this agent has set up).
export function codeStep (app, root, factors, onDone, onCancel) {
  const t = app.t
  const passkey = factors.includes('passkey') && passkeysSupported()
    ? h('p', null, h('button', { type: 'button', class: 'primary', onclick: withPasskey }, t('passkey_use')))
    : null
  const passkeyError = h('p', { class: 'error', role: 'alert', id: 'passkey-error' })
  async function withPasskey () {
    passkeyError.textContent = ''
    try {
      onDone(await usePasskey('/auth/verify/passkey-options', '/auth/verify/passkey'))
    } catch (e) {
      passkeyError.textContent = e.message
    }
  }
  const code = h('input', { type: 'text', name: 'code', autocomplete: 'one-time-code', inputmode: 'numeric', maxlength: 20, required: true })
  const error = h('p', { class: 'error', role: 'alert', id: 'code-error' })
  const button = h('button', { type: 'submit', class: 'primary' }, t('verify'))
  const form = h('form', { class: 'login-form', novalidate: true, onsubmit: submit },
    field(t('code_label'), code, t('code_intro'))[0], error, button,
    h('p', null, h('button', { type: 'button', class: 'link', onclick: onCancel }, t('log_out'))))
  async function submit (event) {
    event.preventDefault()
    if (!code.value.trim()) return code.focus()
    button.disabled = true
    error.textContent = ''
    try {
      onDone(await api('POST', '/auth/verify', { code: code.value.trim() }))
    } catch (e) {
      error.textContent = e.message
      code.value = ''
      code.focus()
    } finally {
      button.disabled = false
    }
  }
  const withCode = factors.includes('totp') ? form
    : h('p', null, h('button', { type: 'button', class: 'link', onclick: onCancel }, t('log_out')))
  clear(root, h('main', { class: 'login' }, h('h1', null, t('code_heading')), passkey, passkeyError, withCode))
  if (factors.includes('totp')) code.focus()
}

// Setting codes up: a new key and its QR code, the first code to turn them on, then the ten
// recovery codes, shown once.
export function enrolView (app, container, onDone) {
  const t = app.t
  const area = h('div', { class: 'enrol' })
  const begin = h('button', { type: 'button', class: 'primary', onclick: startEnrol }, t('enrol_start'))
  clear(container, h('p', null, t('enrol_intro')), area)
  clear(area, begin)

  async function startEnrol () {
    let started
    try {
      started = await api('POST', '/auth/second-factor/start')
    } catch (e) { return app.fail(e) }
    const code = h('input', { type: 'text', autocomplete: 'one-time-code', inputmode: 'numeric', maxlength: 10, required: true })
    const error = h('p', { class: 'error', role: 'alert' })
    const form = h('form', { novalidate: true, onsubmit: confirm },
      field(t('code_label'), code)[0], error, h('button', { type: 'submit', class: 'primary' }, t('enrol_confirm')))
    clear(area,
      h('img', { src: started.qr, alt: t('enrol_qr'), width: 200, height: 200, class: 'qr' }),
      h('p', null, t('enrol_key'), ': ', h('code', { class: 'secret' }, started.secret.replace(/(.{4})/g, '$1 ').trim())),
      form)
    code.focus()

    async function confirm (event) {
      event.preventDefault()
      try {
        const { recovery_codes: codes } = await api('POST', '/auth/second-factor/confirm', { code: code.value.trim() })
        const saved = h('button', { type: 'button', class: 'primary', onclick: onDone }, t('recovery_saved'))
        clear(area, h('h3', null, t('recovery_heading')), h('p', null, t('recovery_intro')),
          h('ol', { class: 'recovery-codes' }, codes.map((c) => h('li', null, h('code', null, c)))), saved)
        saved.focus()
      } catch (e) {
        error.textContent = e.message
        code.value = ''
        code.focus()
      }
    }
  }
}

// The account page's section: whether codes are on, set them up, or turn them off.
export async function secondFactorSection (app, section) {
  const t = app.t
  let state
  try {
    state = await api('GET', '/auth/second-factor')
  } catch (e) {
    return clear(section, h('p', { class: 'error' }, e.message))
  }
  const heading = h('h2', { id: 'second-factor-heading' }, t('second_factor_heading'))
  if (state.enabled) {
    const off = state.required ? null
      : h('button', { type: 'button', onclick: remove }, t('second_factor_remove'))
    clear(section, heading, h('p', null, t('second_factor_on', { count: state.recovery_codes_left })), off)
  } else {
    const body = h('div')
    clear(section, heading, h('p', null, t('second_factor_off')), body)
    enrolView(app, body, () => secondFactorSection(app, section))
  }

  async function remove () {
    try {
      await api('DELETE', '/auth/second-factor')
    } catch (e) { return app.fail(e) }
    secondFactorSection(app, section)
  }
}
