// The panel's other views: privacy notice, offline form, transcript address, erase confirmation,
// the rating when a chat ends.
import { h } from './dom.js'
import { app, elements, EMAIL, errorText, state, t } from './state.js'

export function noticeBox () {
  const notice = state.cfg.notice
  return h('div', { class: 'notice' },
    h('p', {}, notice.summary),
    h('a', { href: notice.url, target: '_blank', rel: 'noopener noreferrer' }, t('read_notice'), h('span', { class: 'sr' }, ' ' + t('new_tab'))))
}

export function noticeView (problem) {
  const start = h('button', { class: 'btn', type: 'button', onclick: app.startChat }, t('start_chat'))
  const view = h('div', { class: 'view' },
    h('h3', {}, state.cfg.notice.title), noticeBox(),
    problem && h('p', { class: 'alert', role: 'alert' }, problem),
    h('p', { class: 'muted' }, t('notice_ack')), h('p', {}, start))
  view.focusTarget = start
  return view
}

export function field (id, label, input) {
  const error = h('p', { class: 'err', id: id + '-e', hidden: true })
  input.id = id
  input.setAttribute('aria-describedby', id + '-e')
  return { el: h('div', {}, h('label', { for: id }, label), input, error), input, error }
}

export function check (item, problem) {
  item.error.textContent = problem || ''
  item.error.hidden = !problem
  item.input.setAttribute('aria-invalid', String(!!problem))
  return !problem
}

export function validate (items) {
  let firstBad = null
  for (const [item, rule] of items) {
    const value = item.input.value.trim()
    const problem = !value ? t('required') : rule === 'email' && !EMAIL.test(value) ? t('invalid_email') : ''
    if (!check(item, problem) && !firstBad) firstBad = item.input
  }
  if (firstBad) firstBad.focus()
  return !firstBad
}

export function offlineView () {
  const name = field('cs-on', t('name'), h('input', { type: 'text', autocomplete: 'name', maxlength: '100' }))
  const email = field('cs-oe', t('email'), h('input', { type: 'email', autocomplete: 'email', maxlength: '254' }))
  const text = field('cs-ot', t('message'), h('textarea', { rows: '4' }))
  const alert = h('p', { class: 'alert', role: 'alert' })
  const send = h('button', { class: 'btn', type: 'submit' }, t('send_message'))
  const form = h('form', {
    novalidate: true,
    onsubmit: async (ev) => {
      ev.preventDefault()
      alert.textContent = ''
      if (!validate([[name], [email, 'email'], [text]])) return
      send.disabled = true
      if (!state.started) state.noticeVersion = state.cfg.notice.version // sending is the acknowledgement
      const ack = await app.ensureConnection().then((ok) => ok
        ? state.conn.call('offline_message', { name: name.input.value.trim(), email: email.input.value.trim(), text: text.input.value.trim() })
        : { ok: false, error: { code: 'offline' } })
      send.disabled = false
      if (!ack.ok) {
        alert.textContent = errorText(ack)
        return
      }
      if (!state.started) app.stopConnection()
      app.show(infoView(t('offline_sent'), state.started ? t('back_to_chat') : t('close'), state.started ? () => app.show(elements.chat, elements.input) : app.closePanel))
    }
  }, h('h3', {}, t('offline_heading')), state.cfg.back_at && h('p', { class: 'back' }, state.cfg.back_at),
  h('p', {}, t('offline_intro')), noticeBox(),
  name.el, email.el, text.el, h('p', { class: 'muted' }, t('offline_ack')), alert, h('p', {}, send))
  form.focusTarget = name.input
  return form
}

export function transcriptView () {
  const email = field('cs-te', t('email'), h('input', { type: 'email', autocomplete: 'email', maxlength: '254' }))
  const alert = h('p', { class: 'alert', role: 'alert' })
  return focusOn(email.input, h('form', {
    novalidate: true,
    onsubmit: async (ev) => {
      ev.preventDefault()
      alert.textContent = ''
      if (!validate([[email, 'email']])) return
      const address = email.input.value.trim()
      const ack = await state.conn.call('transcript', { email: address })
      if (ack.ok) app.show(infoView(t('transcript_requested', { email: address }), t('back_to_chat'), () => app.show(elements.chat, elements.input)))
      else if (ack.error.code === 'invalid_input') check(email, ack.error.message) && email.input.focus()
      else alert.textContent = errorText(ack)
    }
  }, h('h3', {}, t('transcript_heading')), h('p', {}, t('transcript_intro')), email.el, alert,
  h('p', {}, h('button', { class: 'btn', type: 'submit' }, t('transcript_send')), ' ',
    h('button', { class: 'btn sec', type: 'button', onclick: () => app.show(elements.chat, elements.input) }, t('cancel')))))
}

export function eraseView () {
  const alert = h('p', { class: 'alert', role: 'alert' })
  const cancel = h('button', { class: 'btn sec', type: 'button', onclick: () => app.show(elements.chat, elements.input) }, t('cancel'))
  return focusOn(cancel, h('div', { class: 'view' }, h('h3', {}, t('delete_heading')), h('p', {}, t('delete_text')), alert,
    h('p', {}, h('button', {
      class: 'btn danger',
      type: 'button',
      onclick: async () => {
        alert.textContent = ''
        if (state.conv) {
          const ack = await state.conn.call('erase', {})
          if (!ack.ok) {
            alert.textContent = errorText(ack)
            return
          }
        }
        app.forget()
        app.show(infoView(t('deleted'), t('close'), app.closePanel))
      }
    }, t('delete_confirm')), ' ', cancel)))
}

// "How did we do?" when a chat ends (features.rating): a 1-5 radio group and an optional
// comment; both optional, skipped with one click or Escape.
export function ratingView () {
  const back = () => app.show(elements.chat, elements.end.querySelector('button'))
  const radios = [1, 2, 3, 4, 5].map((n) => h('input', { type: 'radio', name: 'cs-score', value: String(n), id: 'cs-r' + n }))
  const comment = field('cs-rc', t('rating_comment'), h('textarea', { rows: '3', maxlength: '500' }))
  const alert = h('p', { class: 'alert', role: 'alert' })
  const form = h('form', {
    class: 'view rate',
    novalidate: true,
    onkeydown: (ev) => {
      if (ev.key !== 'Escape') return
      ev.preventDefault()
      ev.stopPropagation()
      back()
    },
    onsubmit: async (ev) => {
      ev.preventDefault()
      const picked = radios.find((r) => r.checked)
      const text = comment.input.value.trim()
      if (!picked && !text) return back()
      const ack = await state.conn.call('rate', Object.assign(picked ? { score: +picked.value } : {}, text ? { comment: text } : {}))
      if (!ack.ok) {
        alert.textContent = errorText(ack)
        return
      }
      app.show(infoView(t('rating_thanks'), t('back_to_chat'), back))
    }
  }, h('h3', { id: 'cs-rh' }, t('rating_heading')),
  h('fieldset', { class: 'stars' }, h('legend', {}, t('rating_scale')),
    radios.map((r, i) => h('label', { for: r.id }, r, h('span', {}, String(i + 1))))),
  comment.el, alert,
  h('p', {}, h('button', { class: 'btn', type: 'submit' }, t('rating_send')), ' ',
    h('button', { class: 'btn sec', type: 'button', onclick: back }, t('rating_skip'))))
  form.setAttribute('aria-labelledby', 'cs-rh')
  return focusOn(radios[0], form)
}

export function infoView (text, label, action) {
  const button = h('button', { class: 'btn', type: 'button', onclick: action }, label)
  return focusOn(button, h('div', { class: 'view' }, h('p', { role: 'status' }, text), h('p', {}, button)))
}

export function focusOn (target, view) {
  view.focusTarget = target
  return view
}
