// Admin pages: agents, canned responses, data-subject requests, the audit log, and the privacy
// notice with the retention periods in force. The server refuses all of it to non-admins.
import { h, clear, field } from './dom.js'
import { api, query } from './api.js'
import { languageName, formatTime } from './format.js'
import { faqEditorView } from './faq_editor.js'
import { faqReviewView } from './faq_review.js'
import { reportsView } from './reports.js'
import { hoursView } from './hours.js'

const LANGS = ['fi', 'sv', 'en']

export const ADMIN_VIEWS = {
  '/console/admin/agents': { label: 'nav_agents', render: agentsView },
  '/console/admin/canned': { label: 'nav_canned', render: cannedView },
  '/console/admin/requests': { label: 'nav_requests', render: requestsView },
  '/console/admin/audit': { label: 'nav_audit', render: auditView },
  '/console/admin/privacy': { label: 'nav_privacy', render: privacyView },
  '/console/admin/faq': { label: 'nav_faq', render: faqEditorView },
  '/console/admin/faq-review': { label: 'nav_faq_review', render: faqReviewView },
  '/console/admin/reports': { label: 'nav_reports', render: reportsView },
  '/console/admin/hours': { label: 'nav_hours', render: hoursView }
}

function langSelect (t, id, value) {
  const select = h('select', { id }, LANGS.map((l) => h('option', { value: l }, languageName(t, l))))
  select.value = value || LANGS[0]
  return select
}

function agentsView (app, view) {
  const t = app.t
  const table = h('div', { 'aria-live': 'polite' })
  const email = h('input', { type: 'email', id: 'new-email', required: true, autocomplete: 'off' })
  const name = h('input', { type: 'text', id: 'new-name', required: true, maxlength: 100 })
  const password = h('input', { type: 'password', id: 'new-password', required: true, autocomplete: 'new-password' })
  const role = h('select', { id: 'new-role' }, h('option', { value: 'agent' }, t('role_agent')), h('option', { value: 'admin' }, t('role_admin')))
  const language = langSelect(t, 'new-language', app.lang)
  const status = h('p', { class: 'status', role: 'status' })
  const form = h('form', { class: 'card', onsubmit: async (e) => {
    e.preventDefault()
    try {
      await api('POST', '/agents', { email: email.value.trim(), name: name.value.trim(), password: password.value, role: role.value, language: language.value })
      status.textContent = t('agent_added', { name: name.value.trim() })
      email.value = name.value = password.value = ''
      load()
    } catch (err) { status.textContent = err.message }
  } },
  h('h2', null, t('add_agent')),
  field(t('email'), email)[0], field(t('name'), name)[0], field(t('password'), password, t('password_hint'))[0],
  field(t('role'), role)[0], field(t('language'), language)[0], status,
  h('button', { type: 'submit', class: 'primary' }, t('add_agent')))
  clear(view, h('h1', null, t('nav_agents')), table, form)

  async function load () {
    try {
      const { agents } = await api('GET', '/agents')
      clear(table, h('table', null, h('caption', { class: 'sr-only' }, t('nav_agents')),
        h('thead', null, h('tr', null, [t('name'), t('email'), t('role'), t('status'), t('actions')].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', null, agents.map(row))))
    } catch (e) { clear(table, h('p', { class: 'error' }, e.message)) }
  }

  function row (a) {
    const roleSelect = h('select', { id: 'role-' + a.id, 'aria-label': t('role_of', { name: a.name }) },
      h('option', { value: 'agent' }, t('role_agent')), h('option', { value: 'admin' }, t('role_admin')))
    roleSelect.value = a.role
    roleSelect.addEventListener('change', () => patch(a, { role: roleSelect.value }))
    const pw = h('input', { type: 'password', autocomplete: 'new-password', 'aria-label': t('new_password_for', { name: a.name }) })
    return h('tr', { 'data-agent': a.email },
      h('td', null, a.name), h('td', null, a.email), h('td', null, roleSelect),
      h('td', null, a.disabled ? t('disabled') : t('enabled')),
      h('td', { class: 'row' },
        h('button', { type: 'button', onclick: () => patch(a, { disabled: !a.disabled }) }, a.disabled ? t('enable') : t('disable')),
        h('form', { class: 'inline', onsubmit: async (e) => {
          e.preventDefault()
          try {
            await api('POST', `/agents/${a.id}/password`, { password: pw.value })
            pw.value = ''
            app.notify(t('password_changed', { name: a.name }), 'note')
          } catch (err) { app.fail(err) }
        } }, pw, h('button', { type: 'submit' }, t('reset_password')))))
  }

  async function patch (a, body) {
    try {
      await api('PATCH', `/agents/${a.id}`, body)
      app.notify(t('saved'), 'note')
    } catch (e) { app.fail(e) }
    load()
  }
  load()
}

function cannedView (app, view) {
  const t = app.t
  const list = h('div', { 'aria-live': 'polite' })
  const form = cannedForm(app, null, () => load())
  clear(view, h('h1', null, t('nav_canned')), h('p', null, t('canned_intro')), list, form)

  async function load () {
    try {
      const items = (await api('GET', '/canned-responses')).canned_responses
      if (app.chats) app.chats.loadCanned()
      if (!items.length) return clear(list, h('p', { class: 'empty' }, t('canned_empty')))
      clear(list, h('table', null, h('caption', { class: 'sr-only' }, t('nav_canned')),
        h('thead', null, h('tr', null, [t('language'), t('shortcut'), t('text'), t('actions')].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', null, items.map((c) => h('tr', null,
          h('td', null, languageName(t, c.language)), h('td', null, '/' + c.shortcut),
          h('td', { class: 'text' }, c.text),
          h('td', { class: 'row' },
            h('button', { type: 'button', onclick: () => form.replaceWith(cannedForm(app, c, () => { load(); cannedView(app, view) })) }, t('edit'), h('span', { class: 'sr-only' }, ' /' + c.shortcut)),
            h('button', { type: 'button', class: 'danger', onclick: async () => {
              try { await api('DELETE', '/canned-responses/' + c.id); load() } catch (e) { app.fail(e) }
            } }, t('delete'), h('span', { class: 'sr-only' }, ' /' + c.shortcut))))))))
    } catch (e) { clear(list, h('p', { class: 'error' }, e.message)) }
  }
  load()
}

function cannedForm (app, item, done) {
  const t = app.t
  const language = langSelect(t, 'canned-language', item ? item.language : app.lang)
  const shortcut = h('input', { type: 'text', id: 'canned-shortcut', required: true, maxlength: 41, value: item ? item.shortcut : '' })
  const text = h('textarea', { id: 'canned-text', rows: 3, required: true, maxlength: 4000 })
  text.value = item ? item.text : ''
  const status = h('p', { class: 'status', role: 'status' })
  return h('form', { class: 'card', onsubmit: async (e) => {
    e.preventDefault()
    const body = { language: language.value, shortcut: shortcut.value.trim(), text: text.value }
    try {
      if (item) await api('PUT', '/canned-responses/' + item.id, body)
      else await api('POST', '/canned-responses', body)
      shortcut.value = text.value = ''
      status.textContent = t('saved')
      done()
    } catch (err) { status.textContent = err.message }
  } },
  h('h2', null, item ? t('edit_canned') : t('add_canned')),
  field(t('language'), language)[0], field(t('shortcut'), shortcut, t('shortcut_hint'))[0],
  field(t('text'), text)[0], status, h('button', { type: 'submit', class: 'primary' }, t('save')))
}

function requestsView (app, view) {
  const t = app.t
  const email = h('input', { type: 'email', id: 'dsar-email', required: true })
  const result = h('div', { class: 'dsar-result', 'aria-live': 'polite' })
  clear(view, h('h1', null, t('nav_requests')), h('p', null, t('requests_intro')),
    h('form', { class: 'search', onsubmit: (e) => { e.preventDefault(); find() } },
      field(t('email'), email)[0], h('button', { type: 'submit' }, t('find'))), result)

  async function find () {
    const address = email.value.trim()
    if (!address) return clear(result, h('p', { class: 'error' }, t('email_missing')))
    try {
      const data = await api('GET', '/dsar' + query({ email: address }))
      const total = data.conversations.length + data.offline_messages.length + data.emails.length
      const confirmBox = h('input', { type: 'checkbox', id: 'erase-confirm' })
      const erase = h('button', { type: 'button', class: 'danger', onclick: async () => {
        if (!confirmBox.checked) return app.notify(t('erase_confirm_needed'))
        try {
          const done = await api('POST', '/dsar/erase', { email: data.email })
          clear(result, h('p', { class: 'done', role: 'status' }, t('erased_counts', {
            conversations: done.erased.conversations, offline: done.erased.offline_messages, emails: done.erased.emails })))
        } catch (e) { app.fail(e) }
      } }, t('erase'))
      clear(result,
        h('h2', null, t('found_for', { email: data.email })),
        h('ul', null,
          h('li', null, t('found_conversations', { count: data.conversations.length })),
          h('li', null, t('found_offline', { count: data.offline_messages.length })),
          h('li', null, t('found_emails', { count: data.emails.length }))),
        total ? [
          h('button', { type: 'button', onclick: () => exportJson(data.email) }, t('export_json')),
          h('div', { class: 'card danger-zone' },
            h('p', { class: 'check' }, confirmBox, h('label', { for: 'erase-confirm' }, t('erase_confirm', { email: data.email }))),
            erase)
        ] : h('p', null, t('nothing_found')))
    } catch (e) {
      clear(result, h('p', { class: 'error' }, e.status === 404 ? t('not_available') : e.message))
    }
  }

  async function exportJson (address) {
    try {
      const { data } = await api('POST', '/dsar/export', { email: address })
      const blob = new Blob([JSON.stringify(data, null, 2)], { type: 'application/json' })
      const link = h('a', { href: URL.createObjectURL(blob), download: 'export-' + address.replace(/[^a-z0-9.@_-]/gi, '_') + '.json' })
      document.body.append(link)
      link.click()
      link.remove()
      setTimeout(() => URL.revokeObjectURL(link.href), 10000)
      app.notify(t('exported'), 'note')
    } catch (e) { app.fail(e) }
  }
}

function auditView (app, view) {
  const t = app.t
  const actor = h('select', { id: 'audit-actor' }, h('option', { value: '' }, t('anyone')))
  const action = h('select', { id: 'audit-action' }, h('option', { value: '' }, t('any_action')))
  const since = h('input', { type: 'date', id: 'audit-since' })
  const until = h('input', { type: 'date', id: 'audit-until' })
  const results = h('div', { 'aria-live': 'polite' })
  clear(view, h('h1', null, t('nav_audit')),
    h('form', { class: 'filters', onsubmit: (e) => { e.preventDefault(); load() } },
      field(t('actor'), actor)[0], field(t('action'), action)[0],
      field(t('since'), since)[0], field(t('until'), until)[0],
      h('button', { type: 'submit' }, t('filter'))), results)
  let filled = false

  async function load () {
    try {
      const data = await api('GET', '/audit' + query({ actor: actor.value, action: action.value, since: since.value, until: until.value, limit: 200 }))
      if (!filled) {
        filled = true
        try {
          const { agents } = await api('GET', '/agents')
          actor.append(...agents.map((a) => h('option', { value: String(a.id) }, a.name)))
        } catch (e) { /* the filter still works by kind */ }
        actor.append(...['visitor', 'cli', 'system'].map((k) => h('option', { value: k }, t('actor_' + k))))
        action.append(...data.actions.map((a) => h('option', { value: a }, a)))
      }
      if (!data.events.length) return clear(results, h('p', { class: 'empty' }, t('no_results')))
      clear(results, h('table', { class: 'audit' }, h('caption', { class: 'sr-only' }, t('nav_audit')),
        h('thead', null, h('tr', null, [t('time'), t('actor'), t('action'), t('target'), t('detail')].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', null, data.events.map((ev) => h('tr', null,
          h('td', null, formatTime(ev.at, app.lang, true)),
          h('td', null, ev.actor.name || t('actor_' + ev.actor.kind) + (ev.actor.id ? ' ' + ev.actor.id : '')),
          h('td', null, ev.action),
          h('td', null, ev.target ? ev.target.kind + ' ' + (ev.target.id || '') : ''),
          h('td', { class: 'detail' }, Object.entries(ev.detail).map(([k, v]) => k + '=' + v).join(', ')))))))
    } catch (e) { clear(results, h('p', { class: 'error' }, e.message)) }
  }
  load()
}

function privacyView (app, view) {
  const t = app.t
  const tabs = h('div', { class: 'row', role: 'group', 'aria-label': t('language') })
  const notice = h('div', { class: 'notice', 'aria-live': 'polite' })
  const retention = h('section', { 'aria-labelledby': 'retention-heading' })
  clear(view, h('h1', null, t('nav_privacy')), retention,
    h('section', { 'aria-labelledby': 'notice-heading' }, h('h2', { id: 'notice-heading' }, t('live_notice')), tabs, notice))

  async function loadRetention () {
    try {
      const data = await api('GET', '/retention')
      const r = data.retention_days
      clear(retention, h('h2', { id: 'retention-heading' }, t('retention_heading')),
        h('p', null, t('retention_intro')),
        h('dl', { class: 'details' },
          [['retention_conversations', r.conversations], ['retention_offline', r.offline_messages],
            ['retention_emails', r.sent_emails], ['retention_audit', r.audit_events],
            ['retention_backups', r.backups], ['retention_reports', r.reports]].map(([k, v]) =>
            [h('dt', null, t(k)), h('dd', null, t('days', { count: v }))]),
          h('dt', null, t('collected_browser')), h('dd', null, data.collected.user_agent ? t('yes') : t('no')),
          h('dt', null, t('collected_page')), h('dd', null, data.collected.page_url ? t('yes') : t('no'))))
    } catch (e) { clear(retention, h('h2', { id: 'retention-heading' }, t('retention_heading')), h('p', { class: 'error' }, e.message)) }
  }

  async function show (lang) {
    for (const b of tabs.children) b.setAttribute('aria-pressed', b.dataset.lang === lang ? 'true' : 'false')
    try {
      const data = await api('GET', '/privacy-notice' + query({ lang }))
      clear(notice, h('article', { lang },
        h('h3', null, data.title), h('p', { class: 'summary' }, data.summary),
        h('p', { class: 'meta' }, t('version', { version: data.version })),
        data.sections.map((s) => h('section', null, h('h4', null, s.title),
          s.fields.length ? h('dl', null, s.fields.map((f) => [h('dt', null, f.label), h('dd', null, f.value)])) : null,
          s.paragraphs.map((p) => h('p', null, p)),
          s.items.length ? h('ul', null, s.items.map((i) => h('li', null, i))) : null)),
        h('p', null, h('a', { href: '/privacy?lang=' + lang, target: '_blank', rel: 'noopener' }, t('open_notice_page')))))
    } catch (e) { clear(notice, h('p', { class: 'error' }, e.status === 404 ? t('not_available') : e.message)) }
  }
  for (const lang of LANGS) {
    tabs.append(h('button', { type: 'button', 'data-lang': lang, onclick: () => show(lang) }, languageName(t, lang)))
  }
  loadRetention()
  show(app.lang)
}
