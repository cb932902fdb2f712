// The frame: launcher, panel (a dialog that keeps the focus), options menu, badge, live region.
import { buildChat, download, endChat } from './chat.js'
import { CHAT_ICON, CLOSE_ICON, MORE_ICON, contrast, focusables, h, icon } from './dom.js'
import { E, S, loadConfig, save, script, t } from './state.js'
import { eraseView, noticeView, offlineView, transcriptView } from './views.js'
import { CSS } from './style.js'

export function build () {
  const host = document.createElement('chatserver-widget')
  const color = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.test(script.dataset.color || '') ? script.dataset.color : '#0b57d0'
  const readable = contrast(color, '#ffffff') >= 4.5
  host.style.setProperty('--c', color)
  host.style.setProperty('--t', readable ? '#ffffff' : '#1a1a1a')
  host.style.setProperty('--a', readable ? color : '#1a1a1a')
  if (script.dataset.position === 'left') host.setAttribute('data-side', 'left')
  host.setAttribute('lang', S.lang)
  const root = E.root = host.attachShadow({ mode: 'open' })
  try {
    const sheet = new CSSStyleSheet()
    sheet.replaceSync(CSS)
    root.adoptedStyleSheets = [sheet]
  } catch (e) {
    root.append(h('style', {}, CSS))
  }
  E.badge = h('span', { class: 'badge', 'aria-hidden': 'true', hidden: true })
  E.launcher = h('button', { class: 'launch', type: 'button', 'aria-haspopup': 'dialog', onclick: () => openPanel(true) },
    icon(CHAT_ICON), E.badge)
  E.status = h('p', { class: 'status', 'aria-live': 'polite' })
  E.menuButton = h('button', {
    class: 'icon', type: 'button', 'aria-expanded': 'false', 'aria-controls': 'cs-menu', 'aria-label': t('options'), hidden: true, onclick: () => toggleMenu()
  }, icon(MORE_ICON))
  E.menu = h('div', { class: 'menu', id: 'cs-menu', hidden: true },
    E.transcriptItem = menuItem(t('email_transcript'), () => show(transcriptView())),
    menuItem(t('download_transcript'), download),
    menuItem(t('delete_conversation'), () => show(eraseView())),
    E.endItem = menuItem(t('end_chat'), endChat))
  E.body = h('div', { class: 'body' })
  E.panel = h('div', { class: 'panel', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'cs-title', hidden: true, onkeydown: onPanelKey },
    h('div', { class: 'head' },
      h('div', {}, h('h2', { id: 'cs-title' }, t('title')), E.status),
      E.menuButton,
      h('button', { class: 'icon', type: 'button', 'aria-label': t('minimise'), onclick: closePanel }, icon(CLOSE_ICON))),
    E.menu, E.body)
  E.live = h('div', { class: 'sr', 'aria-live': 'polite' })
  root.append(E.launcher, E.panel, E.live)
  buildChat()
  renderBadge()
  document.body.append(host)
}

export function menuItem (label, action) {
  return h('button', { class: 'link', type: 'button', onclick: () => { toggleMenu(false); action() } }, label)
}

export function toggleMenu (open) {
  const show = open === undefined ? E.menu.hidden : open
  E.menu.hidden = !show
  E.menuButton.setAttribute('aria-expanded', String(show))
  if (show) focusables(E.menu)[0].focus()
}

export function onPanelKey (ev) {
  if (ev.key === 'Escape') {
    ev.preventDefault()
    if (!E.menu.hidden) {
      toggleMenu(false)
      E.menuButton.focus()
    } else closePanel()
    return
  }
  if (ev.key !== 'Tab') return
  // Focus stays in the open panel.
  const items = focusables(E.panel)
  if (!items.length) return
  const first = items[0]
  const last = items[items.length - 1]
  const active = E.root.activeElement
  if (ev.shiftKey && (active === first || !items.includes(active))) {
    ev.preventDefault()
    last.focus()
  } else if (!ev.shiftKey && (active === last || !items.includes(active))) {
    ev.preventDefault()
    first.focus()
  }
}

export async function openPanel (focus) {
  S.open = true
  S.unread = 0
  renderBadge()
  save()
  if (S.started) show(E.chat, focus && E.input)
  else {
    try { await loadConfig() } catch (e) { /* keep the last configuration */ }
    // With nobody online the offline form comes first, unless a FAQ bot can answer meanwhile.
    const features = S.cfg.features || {}
    show(S.cfg.online || features.bot || !features.offline_form ? noticeView() : offlineView())
  }
  E.launcher.hidden = true
  E.panel.hidden = false
  if (focus) focusView()
}

export function closePanel () {
  S.open = false
  save()
  toggleMenu(false)
  E.panel.hidden = true
  E.launcher.hidden = false
  E.launcher.focus()
}

// Replaces the panel's body; `target` (or the view's first control) gets the focus.
export function show (view, target) {
  E.body.replaceChildren(view)
  E.body.className = view === E.chat ? 'body chat' : 'body'
  E.menuButton.hidden = view !== E.chat
  E.target = target || view.focusTarget
  if (!E.panel.hidden) focusView()
}

export function focusView () {
  const target = E.target || focusables(E.body)[0]
  if (target) target.focus()
}

export function renderBadge () {
  E.badge.hidden = !S.unread
  E.badge.textContent = String(S.unread)
  E.launcher.setAttribute('aria-label', S.unread ? t('open_chat') + ' – ' + t('unread', { count: S.unread }) : t('open_chat'))
}

export function announce (text) {
  E.live.textContent = text
}
