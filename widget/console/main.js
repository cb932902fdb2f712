// The agent console: login page, then the app shell with its views (docs/console.md).
import { api, ApiError, session } from './api.js'
import { h, clear, field } from './dom.js'
import { ChatsView } from './chats.js'
import { historyView, inboxView } from './pages.js'
import { accountView } from './account.js'
import { codeStep, enrolView } from './second_factor.js'
import { passkeysSupported, usePasskey } from './passkeys.js'
import { ADMIN_VIEWS } from './admin.js'
import { reportsView } from './reports.js'

const root = document.getElementById('app')
const LANGUAGE_NAMES = { fi: 'Suomeksi', sv: 'På svenska', en: 'In English' }

const app = {
  strings: {},
  lang: 'en',
  me: null,
  t (key, params) {
    let text = app.strings[key] || key
    for (const name in params || {}) text = text.split('{' + name + '}').join(String(params[name]))
    return text
  },
  navigate (path) {
    if (window.location.pathname !== path) window.history.pushState({}, '', path)
    route()
  },
  // A message for the person: errors stay until dismissed or replaced, notes fade after a while.
  notify (message, kind = 'error') {
    const region = document.getElementById('alerts')
    if (!region) return
    const item = h('div', { class: 'alert ' + kind },
      h('span', null, message),
      h('button', { type: 'button', class: 'link', onclick: () => item.remove() }, app.t('dismiss')))
    region.append(item)
    while (region.children.length > 3) region.firstChild.remove()
    if (kind !== 'error') setTimeout(() => item.remove(), 6000)
  },
  fail (error) {
    app.notify(error instanceof ApiError || error instanceof Error ? error.message : String(error))
  }
}
session.t = (key) => app.t(key)
// A session that ended (logout elsewhere, disabled account, new password): back to the login.
session.onUnauthorized = (message) => { if (app.me) showLogin(message || app.t('session_ended')) }

async function loadStrings (lang) {
  const data = await fetch('/api/v1/console/strings?lang=' + encodeURIComponent(lang || ''))
    .then((r) => r.json())
  app.strings = data.strings
  app.lang = data.language
  document.documentElement.lang = app.lang
  document.title = app.t('title')
}

async function boot () {
  const params = new URLSearchParams(window.location.search)
  try {
    await loadStrings(params.get('lang') || root.dataset.lang)
  } catch (e) {
    clear(root, h('p', { role: 'alert' }, 'The console cannot reach the server. Reload the page.'))
    return
  }
  let me = null
  try {
    me = await api('GET', '/auth/me')
  } catch (e) {
    if (e.status !== 401) app.notify(e.message)
  }
  if (me) next(me)
  else showLogin()
}

// After the password (or on a reload): the login's next step, if one is due, then the console.
function next (data) {
  if (data.csrf_token) session.csrf = data.csrf_token
  if (data.stage === 'second_factor') {
    codeStep(app, root, data.factors || [], (verified) => start({ ...verified, csrf_token: session.csrf }), logout)
  } else if (data.stage === 'enrol') {
    const body = h('div')
    clear(root, h('main', { class: 'login' }, h('h1', null, app.t('enrol_heading')),
      h('p', null, app.t('enrol_required')), body,
      h('p', null, h('button', { type: 'button', class: 'link', onclick: logout }, app.t('log_out')))))
    enrolView(app, body, async () => {
      try { start(await api('GET', '/auth/me')) } catch (e) { app.fail(e) }
    })
  } else start(data)
}

function showLogin (note) {
  if (app.chats) app.chats.stop()
  app.chats = null
  app.me = null
  const email = h('input', { type: 'email', name: 'email', autocomplete: 'username', required: true })
  const password = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true })
  const error = h('p', { class: 'error', role: 'alert', id: 'login-error' }, note || '')
  const button = h('button', { type: 'submit', class: 'primary' }, app.t('log_in'))
  const form = h('form', { class: 'login-form', novalidate: true, onsubmit: submit },
    field(app.t('email'), email)[0], field(app.t('password'), password)[0], error, button)
  async function submit (event) {
    event.preventDefault()
    if (!email.value.trim() || !password.value) {
      error.textContent = app.t('login_missing')
      return
    }
    button.disabled = true
    error.textContent = ''
    try {
      const data = await api('POST', '/auth/login', { email: email.value.trim(), password: password.value })
      password.value = ''
      if (data.agent.language !== app.lang) await loadStrings(data.agent.language)
      next(data)
    } catch (e) {
      error.textContent = e.message
      password.value = ''
      password.focus()
    } finally {
      button.disabled = false
    }
  }
  const withPasskey = passkeysSupported()
    ? h('p', null, h('button', { type: 'button', onclick: passkeyLogin }, app.t('passkey_login')))
    : null
  async function passkeyLogin () {
    error.textContent = ''
    try {
      const data = await usePasskey('/auth/passkey-login/options', '/auth/passkey-login')
      if (data.agent.language !== app.lang) await loadStrings(data.agent.language)
      next(data)
    } catch (e) {
      error.textContent = e.message
    }
  }
  const languages = h('nav', { 'aria-label': app.t('language') },
    h('ul', { class: 'languages' }, Object.keys(LANGUAGE_NAMES).map((code) =>
      h('li', null, h('a', {
        href: '/console?lang=' + code,
        lang: code,
        'aria-current': code === app.lang ? 'page' : null
      }, LANGUAGE_NAMES[code])))))
  clear(root, h('main', { class: 'login' },
    h('h1', null, app.t('title')), h('p', null, app.t('login_intro')), form, withPasskey, languages))
  document.title = app.t('log_in') + ' – ' + app.t('title')
  email.focus()
}

function start (data) {
  app.me = data.agent
  session.csrf = data.csrf_token
  const admin = app.me.role === 'admin'
  const links = [['/console', 'nav_chats'], ['/console/history', 'nav_history'],
    ['/console/inbox', 'nav_inbox'], ['/console/account', 'nav_account']]
  if (admin) {
    for (const [path, key] of Object.entries(ADMIN_VIEWS)) links.push([path, key.label])
  } else links.push(['/console/reports', 'nav_reports']) // an agent's own figures (issue 22)
  const nav = h('nav', { class: 'main-nav', 'aria-label': app.t('nav_label') },
    h('ul', null, links.map(([path, key]) => h('li', null,
      h('a', { href: path, 'data-path': path, onclick: (e) => { e.preventDefault(); app.navigate(path) } },
        app.t(key), key === 'nav_chats' ? h('span', { class: 'badge', id: 'unread-total', hidden: true }) : null)))))
  const presence = h('select', { id: 'presence', onchange: () => app.chats.setPresence(presence.value) },
    h('option', { value: 'online' }, app.t('online')), h('option', { value: 'away' }, app.t('away')))
  presence.value = app.me.presence === 'away' ? 'away' : 'online'
  const notifyBox = h('input', { type: 'checkbox', id: 'opt-notify', checked: prefs.get('notify'), onchange: toggleNotify })
  const soundBox = h('input', { type: 'checkbox', id: 'opt-sound', checked: prefs.get('sound'), onchange: () => prefs.set('sound', soundBox.checked) })
  async function toggleNotify () {
    if (notifyBox.checked && 'Notification' in window && Notification.permission !== 'granted') {
      const answer = await Notification.requestPermission().catch(() => 'denied')
      if (answer !== 'granted') {
        notifyBox.checked = false
        app.notify(app.t('notify_denied'))
      }
    }
    prefs.set('notify', notifyBox.checked)
  }
  const header = h('header', { class: 'top' },
    h('p', { class: 'brand' }, app.t('title')), nav,
    h('div', { class: 'me' },
      h('span', { class: 'who' }, app.me.name),
      h('label', { for: 'presence', class: 'sr-only' }, app.t('presence')), presence,
      h('span', { class: 'check' }, notifyBox, h('label', { for: 'opt-notify' }, app.t('desktop_notifications'))),
      h('span', { class: 'check' }, soundBox, h('label', { for: 'opt-sound' }, app.t('sound'))),
      h('button', { type: 'button', onclick: logout }, app.t('log_out'))))
  clear(root, header,
    h('div', { id: 'banner', role: 'status', 'aria-live': 'polite' }),
    h('div', { id: 'alerts', role: 'alert', 'aria-live': 'assertive' }),
    h('main', { id: 'view', tabindex: '-1' }))
  app.presenceSelect = presence
  app.chats = new ChatsView(app, prefs, (reason) => showLogin(reason))
  window.onpopstate = route
  route()
}

async function logout () {
  try {
    await api('POST', '/auth/logout')
  } catch (e) {
    if (e.status !== 401) return app.fail(e)
  }
  loggedOut()
}

// After logging out here or everywhere: nothing of the session stays in this browser.
function loggedOut () {
  session.csrf = null
  // Drafts may hold what a visitor told us: they do not outlive the session on this computer.
  try { window.sessionStorage.removeItem('chatserver-console-drafts') } catch (e) { /* private mode */ }
  window.history.pushState({}, '', '/console')
  showLogin(app.t('logged_out'))
}

function route () {
  if (!app.me) return
  const path = window.location.pathname.replace(/\/+$/, '') || '/console'
  const view = document.getElementById('view')
  for (const link of document.querySelectorAll('.main-nav a')) {
    if (link.dataset.path === path) link.setAttribute('aria-current', 'page')
    else link.removeAttribute('aria-current')
  }
  let title = 'nav_chats'
  if (path === '/console/history') {
    title = 'nav_history'
    historyView(app, view)
  } else if (path === '/console/inbox') {
    title = 'nav_inbox'
    inboxView(app, view)
  } else if (path === '/console/account') {
    title = 'nav_account'
    accountView(app, view, loggedOut)
  } else if (path === '/console/reports') {
    title = 'nav_reports'
    reportsView(app, view)
  } else if (ADMIN_VIEWS[path]) {
    title = ADMIN_VIEWS[path].label
    if (app.me.role !== 'admin') clear(view, h('h1', null, app.t(title)), h('p', { class: 'error' }, app.t('admin_only')))
    else ADMIN_VIEWS[path].render(app, view)
  } else {
    app.chats.mount(view)
  }
  document.title = app.t(title) + ' – ' + app.t('title')
  if (app.chats) app.chats.renderTabs() // the unread count stays in the title on every view
}

// The agent's own choices (notification and sound), kept in this browser only.
const prefs = {
  get (key) {
    try { return window.localStorage.getItem('chatserver-console-' + key) === '1' } catch (e) { return false }
  },
  set (key, on) {
    try { window.localStorage.setItem('chatserver-console-' + key, on ? '1' : '0') } catch (e) { /* private mode */ }
  }
}

if (root) boot()
