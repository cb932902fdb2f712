// The reports page (issue 22): anonymous figures from GET /api/v1/reports. Admins see everyone's,
// an agent their own. Each chart (charts.js, aria-hidden) has its figures in a table beside it,
// and each table downloads as CSV.
import { api, query } from './api.js'
import { barChart, heatmap, lineChart } from './charts.js'
import { clear, field, h } from './dom.js'
import { languageName } from './format.js'

const LANGS = ['fi', 'sv', 'en']

function isoDay (date) {
  return date.getFullYear() + '-' + String(date.getMonth() + 1).padStart(2, '0') + '-' + String(date.getDate()).padStart(2, '0')
}

function daysBetween (from, to) {
  const days = []
  const day = new Date(from + 'T12:00:00')
  const end = new Date(to + 'T12:00:00')
  while (day <= end && days.length < 4000) {
    days.push(isoDay(day))
    day.setDate(day.getDate() + 1)
  }
  return days
}

function seconds (value) {
  return value === null || value === undefined ? null : Math.round(value)
}

function share (part, whole) {
  return whole ? Math.round(1000 * part / whole) / 10 : null
}

export function csv (rows) {
  const cell = (value) => {
    const text = value === null || value === undefined ? '' : String(value)
    return /[",\n\r;]/.test(text) || /^[=+\-@]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text
  }
  return rows.map((row) => row.map(cell).join(',')).join('\r\n') + '\r\n'
}

function download (name, rows) {
  const blob = new Blob(['\ufeff' + csv(rows)], { type: 'text/csv;charset=utf-8' })
  const link = h('a', { href: URL.createObjectURL(blob), download: name })
  document.body.append(link)
  link.click()
  link.remove()
  setTimeout(() => URL.revokeObjectURL(link.href), 10000)
}

export function reportsView (app, view) {
  const t = app.t
  // Empty at first: the server answers its last 30 days up to today in the site's time zone
  // (not the browser's, which may already be on another date), and the fields show that range.
  const from = h('input', { type: 'date', id: 'report-from', value: '' })
  const to = h('input', { type: 'date', id: 'report-to', value: '' })
  const language = h('select', { id: 'report-language' }, h('option', { value: '' }, t('report_all_languages')),
    LANGS.map((l) => h('option', { value: l }, languageName(t, l))))
  const results = h('div', { class: 'reports', 'aria-live': 'polite' })
  clear(view, h('h1', null, t('nav_reports')),
    app.me.role === 'admin' ? null : h('p', null, t('report_own')),
    h('form', { class: 'filters', onsubmit: (e) => { e.preventDefault(); load() } },
      field(t('report_from'), from)[0], field(t('report_to'), to)[0], field(t('language'), language)[0],
      h('button', { type: 'submit' }, t('report_show'))), results)

  // A section: heading, chart (or none), the table behind it and its CSV download.
  function section (id, title, chart, rows) {
    const [header, ...body] = rows
    const table = h('table', { class: 'report-table' }, h('caption', null, title),
      h('thead', null, h('tr', null, header.map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', null, body.map((row) => h('tr', null, row.map((c, i) => i === 0 ? h('th', { scope: 'row' }, String(c)) : h('td', null, c === null ? '–' : String(c)))))))
    const name = 'report-' + id + '-' + from.value + '-' + to.value + '.csv'
    return h('section', { class: 'report', 'aria-labelledby': 'rh-' + id },
      h('h2', { id: 'rh-' + id }, title),
      chart ? h('figure', null, chart) : null,
      h('details', { open: !chart }, h('summary', null, t('report_table')), table),
      h('p', null, h('button', { type: 'button', 'data-csv': id, onclick: () => download(name, rows) }, t('report_csv', { name: title }))))
  }

  async function load () {
    try {
      const data = await api('GET', '/reports' + query({ from: from.value, to: to.value, language: language.value }))
      from.value = data.report.from
      to.value = data.report.to
      render(data.report)
    } catch (e) { clear(results, h('p', { class: 'error' }, e.message)) }
  }

  function render (report) {
    const days = daysBetween(report.from, report.to)
    const byDay = Object.fromEntries(report.days.map((d) => [d.day, d]))
    const empty = { started: 0, handed_off: 0, assistant_solved: 0, closed: 0, claimed: 0, wait: {}, first_response: {}, ratings: {}, rating_average: null }
    const get = (day) => byDay[day] || empty
    const total = report.total
    const summary = h('dl', { class: 'details report-summary' },
      [['report_started', total.started], ['report_handed_off', total.handed_off],
        ['report_claimed', total.claimed], ['report_assistant_solved', total.assistant_solved],
        ['report_offline', total.offline_messages],
        ['report_rating_average', total.rating_average === null ? '–' : total.rating_average]]
        .map(([k, v]) => [h('dt', null, t(k)), h('dd', null, String(v))]))
    const weekdays = [0, 1, 2, 3, 4, 5, 6].map((n) => new Intl.DateTimeFormat(app.lang, { weekday: 'short' }).format(new Date(2024, 0, 1 + n)))
    const hours = Array.from({ length: 24 }, (_, i) => String(i).padStart(2, '0'))
    const short = (day) => day.slice(5)
    clear(results, summary,
      section('conversations', t('report_per_day'), barChart(days.map(short), days.map((d) => get(d).started)),
        [[t('report_day'), t('report_started'), t('report_handed_off'), t('report_claimed'), t('report_closed')],
          ...days.map((d) => [d, get(d).started, get(d).handed_off, get(d).claimed, get(d).closed])]),
      // New conversations belong to no agent: an agent's own report has no heatmap.
      report.agent_id !== null ? null : section('heatmap', t('report_heatmap'), heatmap(weekdays, hours, report.heatmap),
        [[t('report_weekday'), ...hours], ...report.heatmap.map((row, i) => [weekdays[i], ...row])]),
      section('waits', t('report_waits'), lineChart(days.map(short), [
        { name: t('report_wait_p50'), values: days.map((d) => seconds(get(d).wait.p50)) },
        { name: t('report_wait_p90'), values: days.map((d) => seconds(get(d).wait.p90)) },
        { name: t('report_first_p50'), values: days.map((d) => seconds(get(d).first_response.p50)) },
        { name: t('report_first_p90'), values: days.map((d) => seconds(get(d).first_response.p90)) }]),
      [[t('report_day'), t('report_wait_p50'), t('report_wait_p90'), t('report_first_p50'), t('report_first_p90')],
        ...days.map((d) => [d, seconds(get(d).wait.p50), seconds(get(d).wait.p90), seconds(get(d).first_response.p50), seconds(get(d).first_response.p90)])]),
      section('shares', t('report_shares'), lineChart(days.map(short), [
        { name: t('report_assistant_share'), values: days.map((d) => share(get(d).assistant_solved, get(d).started)) },
        { name: t('report_handoff_share'), values: days.map((d) => share(get(d).handed_off, get(d).started)) }]),
      [[t('report_day'), t('report_assistant_share'), t('report_handoff_share')],
        ...days.map((d) => [d, share(get(d).assistant_solved, get(d).started), share(get(d).handed_off, get(d).started)])]),
      section('ratings', t('report_ratings'), barChart(['1', '2', '3', '4', '5'], ['1', '2', '3', '4', '5'].map((n) => total.ratings[n] || 0)),
        [[t('report_day'), '1', '2', '3', '4', '5', t('report_rating_average')],
          ...report.days.filter((d) => d.rating_average !== null).map((d) => [d.day, ...['1', '2', '3', '4', '5'].map((n) => d.ratings[n]), d.rating_average])]),
      section('agents', t('report_agents'), null,
        [[t('report_agent'), t('report_claimed'), t('report_messages'), t('report_wait_p50'), t('report_wait_p90'), t('report_first_p50'), t('report_first_p90'), t('report_rated'), t('report_rating_average')],
          ...report.agents.map((a) => [a.name, a.claimed, a.messages.agent, seconds(a.wait.p50), seconds(a.wait.p90), seconds(a.first_response.p50), seconds(a.first_response.p90),
            Object.values(a.ratings).reduce((x, y) => x + y, 0), a.rating_average])]))
  }
  load()
}
