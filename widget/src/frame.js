// The frame: launcher, panel (a dialog that keeps the focus), options menu, badge, live region.
import { CHAT_ICON, CLOSE_ICON, MORE_ICON, contrast, focusables, h, icon } from './dom.js'
import { app, elements, loadConfig, save, script, state, t } from './state.js'
import { CSS } from './style.js'

export function build () {
  const host = document.createElement('chatserver-widget')
  const color = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.test(script.dataset.color || '') ? script.dataset.color : '#0b57d0'
  const readable = contrast(color, '#ffffff') >= 4.5
  host.style.setProperty('--c', color)
  host.style.setProperty('--t', readable ? '#ffffff' : '#1a1a1a')
  host.style.setProperty('--a', readable ? color : '#1a1a1a')
  if (script.dataset.position === 'left') host.setAttribute('data-side', 'left')
  host.setAttribute('lang', state.lang)
  const root = elements.root = host.attachShadow({ mode: 'open' })
  try {
    const sheet = new CSSStyleSheet()
    sheet.replaceSync(CSS)
    root.adoptedStyleSheets = [sheet]
  } catch (e) {
    root.append(h('style', {}, CSS))
  }
  elements.badge = h('span', { class: 'badge', 'aria-hidden': 'true', hidden: true })
  elements.launcher = h('button', { class: 'launch', type: 'button', 'aria-haspopup': 'dialog', onclick: () => openPanel(true) },
    icon(CHAT_ICON), elements.badge)
  elements.status = h('p', { class: 'status', 'aria-live': 'polite' })
  elements.menuButton = h('button', {
    class: 'icon', type: 'button', 'aria-expanded': 'false', 'aria-controls': 'cs-menu', 'aria-label': t('options'), hidden: true, onclick: () => toggleMenu()
  }, icon(MORE_ICON))
  elements.menu = h('div', { class: 'menu', id: 'cs-menu', hidden: true },
    elements.transcriptItem = menuItem(t('email_transcript'), () => show(app.transcriptView())),
    menuItem(t('download_transcript'), app.download),
    menuItem(t('delete_conversation'), () => show(app.eraseView())),
    elements.endItem = menuItem(t('end_chat'), app.endChat))
  elements.body = h('div', { class: 'body' })
  elements.panel = h('div', { class: 'panel', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'cs-title', hidden: true, onkeydown: onPanelKey },
    h('div', { class: 'head' },
      h('div', {}, h('h2', { id: 'cs-title' }, t('title')), elements.status),
      elements.menuButton,
      h('button', { class: 'icon', type: 'button', 'aria-label': t('minimise'), onclick: closePanel }, icon(CLOSE_ICON))),
    elements.menu, elements.body)
  elements.live = h('div', { class: 'sr', 'aria-live': 'polite' })
  root.append(elements.launcher, elements.panel, elements.live)
  app.buildChat()
  renderBadge()
  document.body.append(host)
}

export function menuItem (label, action) {
  return h('button', { class: 'link', type: 'button', onclick: () => { toggleMenu(false); action() } }, label)
}

export function toggleMenu (open) {
  const show = open === undefined ? elements.menu.hidden : open
  elements.menu.hidden = !show
  elements.menuButton.setAttribute('aria-expanded', String(show))
  if (show) focusables(elements.menu)[0].focus()
}

export function onPanelKey (ev) {
  if (ev.key === 'Escape') {
    ev.preventDefault()
    if (!elements.menu.hidden) {
      toggleMenu(false)
      elements.menuButton.focus()
    } else closePanel()
    return
  }
  if (ev.key !== 'Tab') return
  // Focus stays in the open panel.
  const items = focusables(elements.panel)
  if (!items.length) return
  const first = items[0]
  const last = items[items.length - 1]
  const active = elements.root.activeElement
  if (ev.shiftKey && (active === first || !items.includes(active))) {
    ev.preventDefault()
    last.focus()
  } else if (!ev.shiftKey && (active === last || !items.includes(active))) {
    ev.preventDefault()
    first.focus()
  }
}

export async function openPanel (focus) {
  state.open = true
  state.unread = 0
  renderBadge()
  save()
  if (state.started) show(elements.chat, focus && elements.input)
  else {
    try { await loadConfig() } catch (e) { /* keep the last configuration */ }
    // With nobody online the offline form comes first, unless a FAQ bot can answer meanwhile.
    const features = state.cfg.features || {}
    show(state.cfg.online || features.bot || !features.offline_form ? app.noticeView() : app.offlineView())
  }
  elements.launcher.hidden = true
  elements.panel.hidden = false
  if (focus) focusView()
}

export function closePanel () {
  state.open = false
  save()
  toggleMenu(false)
  elements.panel.hidden = true
  elements.launcher.hidden = false
  elements.launcher.focus()
}

// Replaces the panel's body; `target` (or the view's first control) gets the focus.
export function show (view, target) {
  elements.body.replaceChildren(view)
  elements.body.className = view === elements.chat ? 'body chat' : 'body'
  elements.menuButton.hidden = view !== elements.chat
  elements.target = target || view.focusTarget
  if (!elements.panel.hidden) focusView()
}

export function focusView () {
  const target = elements.target || focusables(elements.body)[0]
  if (target) target.focus()
}

export function renderBadge () {
  elements.badge.hidden = !state.unread
  elements.badge.textContent = String(state.unread)
  elements.launcher.setAttribute('aria-label', state.unread ? t('open_chat') + ' – ' + t('unread', { count: state.unread }) : t('open_chat'))
}

export function announce (text) {
  elements.live.textContent = text
}
