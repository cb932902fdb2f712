// The business hours (issue 22): a weekly schedule in the server's time zone and exception dates,
// edited by admins (GET/PUT /api/v1/business-hours). Outside them the widget says when the team
// is back and offers the offline form.
import { api } from './api.js'
import { clear, field, h } from './dom.js'

export function hoursView (app, view) {
  const t = app.t
  const weekdays = [0, 1, 2, 3, 4, 5, 6].map((n) => new Intl.DateTimeFormat(app.lang, { weekday: 'long' }).format(new Date(2024, 0, 1 + n)))
  const state = h('p', { role: 'status' })
  const rows = weekdays.map((name, day) => ({
    day,
    opens: h('input', { type: 'time', id: 'hours-opens-' + day, 'aria-label': name + ' – ' + t('hours_opens') }),
    closes: h('input', { type: 'time', id: 'hours-closes-' + day, 'aria-label': name + ' – ' + t('hours_closes') })
  }))
  const exceptions = h('ul', { class: 'hours-exceptions' })
  const zone = h('span')
  const form = h('form', { class: 'hours', onsubmit: (e) => { e.preventDefault(); save() } },
    h('table', { class: 'hours-week' }, h('caption', null, t('hours_weekly')),
      h('thead', null, h('tr', null, h('th', { scope: 'col' }, t('report_weekday')), h('th', { scope: 'col' }, t('hours_opens')), h('th', { scope: 'col' }, t('hours_closes')))),
      h('tbody', null, rows.map((r) => h('tr', null, h('th', { scope: 'row' }, weekdays[r.day]), h('td', null, r.opens), h('td', null, r.closes))))),
    h('h2', null, t('hours_exceptions')), h('p', { class: 'hint' }, t('hours_exception_hint')), exceptions,
    h('p', null, h('button', { type: 'button', onclick: () => addException({}) }, t('hours_add'))),
    h('p', null, h('button', { type: 'submit' }, t('hours_save'))))
  clear(view, h('h1', null, t('nav_hours')), h('p', null, t('hours_intro'), ' ', zone), state, form)

  function addException (item) {
    const date = h('input', { type: 'date', value: item.date || '' })
    const opens = h('input', { type: 'time', value: item.opens || '' })
    const closes = h('input', { type: 'time', value: item.closes || '' })
    const li = h('li', { class: 'row' }, field(t('hours_date'), date)[0], field(t('hours_opens'), opens)[0], field(t('hours_closes'), closes)[0])
    li.append(h('button', { type: 'button', onclick: () => li.remove() }, t('hours_remove')))
    li.read = () => date.value ? { date: date.value, opens: opens.value || null, closes: closes.value || null } : null
    exceptions.append(li)
    if (!item.date) date.focus()
  }

  function show (hours) {
    zone.textContent = '(' + hours.time_zone + ')'
    state.textContent = hours.open ? t('hours_open_now') : t('hours_closed_now')
    for (const r of rows) {
      const found = hours.weekly.find((w) => w.weekday === r.day)
      r.opens.value = found ? found.opens.replace('24:00', '23:59') : ''
      r.closes.value = found ? found.closes.replace('24:00', '23:59') : ''
    }
    exceptions.replaceChildren()
    for (const item of hours.exceptions) addException(item)
  }

  async function save () {
    const weekly = rows.filter((r) => r.opens.value && r.closes.value).map((r) => ({ weekday: r.day, opens: r.opens.value, closes: r.closes.value }))
    const dates = Array.from(exceptions.children).map((li) => li.read()).filter((x) => x)
    try {
      const data = await api('PUT', '/business-hours', { weekly, exceptions: dates })
      show(data.hours)
      app.notify(t('saved'), 'note')
    } catch (e) { app.fail(e) }
  }

  api('GET', '/business-hours').then((data) => show(data.hours)).catch((e) => app.fail(e))
}
