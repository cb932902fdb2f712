// The FAQ editor (admins; docs/bot.md "The FAQ editor"): entries with a title, example
// questions, keywords and an answer per language; add, edit, reorder, disable, delete; a
// preview of the answer as the widget shows it; a box to try a question against the draft and
// the live FAQ; the labelled questions, measured before and after; save (a new version, live
// on every node within seconds). The server checks everything and names the field it refuses
// (`error.field`), shown next to that field here. Read-only while bot.faq_file is the source.
import { h, clear, field } from './dom.js'
import { api } from './api.js'
import { languageName, formatTime } from './format.js'

const LANGS = ['fi', 'sv', 'en']
const PARTS = ['title', 'questions', 'keywords', 'answer']
const LISTS = new Set(['questions', 'keywords'])

function copy (value) { return JSON.parse(JSON.stringify(value)) }

// The text of a part as the editor shows it: lists one item a line.
function shown (entry, lang, key) {
  const part = entry[lang] || {}
  const value = part[key]
  if (value == null) return ''
  return LISTS.has(key) ? value.join('\n') : value
}

function setPart (entry, lang, key, text) {
  const part = entry[lang] || {}
  if (LISTS.has(key)) {
    const items = text.split('\n').map((s) => s.trim()).filter(Boolean)
    if (items.length) part[key] = items
    else delete part[key]
  } else if (text.trim()) {
    part[key] = key === 'answer' ? text : text.trim()
  } else {
    delete part[key]
  }
  if (Object.keys(part).length) entry[lang] = part
  else delete entry[lang]
}

// The answer as the widget shows it: a bot message bubble of plain text.
export function answerPreview (t, text) {
  return h('div', { class: 'faq-preview', 'aria-label': t('faq_preview') },
    h('p', { class: 'faq-preview-author' }, t('assistant')),
    h('p', { class: 'text' }, text || '…'))
}

export function faqEditorView (app, view) {
  const t = app.t
  const state = { entries: [], labelled: [], version: null, readOnly: false }
  const status = h('p', { class: 'status', id: 'faq-status', role: 'status', 'aria-live': 'polite' })
  const header = h('div')
  const list = h('ol', { class: 'faq-entries' })
  const tryBox = h('section', { class: 'card faq-try', 'aria-labelledby': 'faq-try-heading' })
  const labelledBox = h('section', { class: 'card', 'aria-labelledby': 'faq-labelled-heading' })
  const scores = h('div', { 'aria-live': 'polite' })
  const actions = h('div', { class: 'row faq-actions' })
  const errorSlots = new Map() // "entries.3.fi.answer" → [error element, input]
  let labelledOpen = false // the list of labelled questions, shown or folded
  clear(view, h('h1', null, t('nav_faq')), header, status, tryBox, list, actions, labelledBox, scores)

  async function load () {
    try {
      const data = await api('GET', '/faq')
      state.entries = copy(data.entries)
      state.labelled = copy(data.labelled)
      state.version = data.version
      state.readOnly = data.read_only
      clear(header,
        data.read_only ? h('p', { class: 'faq-readonly', role: 'note' }, data.read_only_reason) : null,
        h('p', { class: 'meta' }, data.version
          ? t('faq_version', { version: data.version, at: formatTime(data.saved_at, app.lang, true), name: data.saved_by || '–' })
          : (data.source === 'example' ? t('faq_example') : t('faq_from_file'))))
      render()
    } catch (e) { clear(header, h('p', { class: 'error' }, e.message)) }
  }

  function render () {
    errorSlots.clear()
    clear(list, state.entries.map((entry, index) => entryItem(entry, index)))
    clear(actions, state.readOnly ? null : [
      h('button', { type: 'button', onclick: addEntry }, t('faq_add_entry')),
      h('button', { type: 'button', class: 'primary', id: 'faq-save', onclick: () => save(false) }, t('faq_save'))])
    renderTry()
    renderLabelled()
  }

  function slot (path, input) {
    const el = h('p', { class: 'error faq-error', id: 'faq-err-' + path.replace(/[^a-z0-9-]/gi, '-'), hidden: true })
    errorSlots.set(path, [el, input])
    if (input) {
      const described = input.getAttribute('aria-describedby')
      input.setAttribute('aria-describedby', described ? described + ' ' + el.id : el.id)
    }
    return el
  }

  function entryItem (entry, index) {
    const ro = state.readOnly
    const base = `entries.${index}`
    const heading = h('span', { class: 'faq-entry-title' }, entryLabel(entry))
    const idInput = h('input', { type: 'text', id: `faq-${index}-id`, value: entry.id || '', maxlength: 64, disabled: ro, required: true })
    idInput.addEventListener('input', () => { entry.id = idInput.value.trim(); heading.textContent = entryLabel(entry) })
    const disabled = h('input', { type: 'checkbox', id: `faq-${index}-disabled`, checked: !!entry.disabled, disabled: ro })
    disabled.addEventListener('change', () => { if (disabled.checked) entry.disabled = true; else delete entry.disabled })
    const body = h('div', { class: 'faq-entry-body' },
      field(t('faq_id'), idInput, t('faq_id_hint'))[0], slot(base + '.id', idInput),
      h('div', { class: 'check' }, disabled, h('label', { for: disabled.id }, t('faq_disabled'))),
      LANGS.map((lang) => languagePart(entry, index, lang, heading)),
      slot(base + '.entry', null),
      ro ? null : h('div', { class: 'row' },
        h('button', { type: 'button', disabled: index === 0, onclick: () => move(index, -1) }, t('faq_up')),
        h('button', { type: 'button', disabled: index === state.entries.length - 1, onclick: () => move(index, 1) }, t('faq_down')),
        h('button', { type: 'button', class: 'danger', onclick: () => remove(index) }, t('delete'))))
    const details = h('details', { class: 'faq-entry', 'data-entry': entry.id || '' },
      h('summary', null, h('span', { class: 'meta' }, `${index + 1}. `), heading,
        entry.disabled ? h('span', { class: 'meta' }, ' · ' + t('faq_disabled')) : null), body)
    if (entry._open) { details.open = true; delete entry._open }
    return h('li', null, details)
  }

  function entryLabel (entry) {
    for (const lang of [app.lang, ...LANGS]) {
      const part = entry[lang]
      if (part && (part.title || (part.questions || [])[0])) return `${part.title || part.questions[0]} (${entry.id || '?'})`
    }
    return entry.id || t('faq_new_entry')
  }

  function languagePart (entry, index, lang, heading) {
    const ro = state.readOnly
    const base = `entries.${index}.${lang}`
    const inputs = {}
    const preview = h('div')
    const refreshPreview = () => clear(preview, answerPreview(t, shown(entry, lang, 'answer')))
    const parts = PARTS.map((key) => {
      const id = `faq-${index}-${lang}-${key}`
      const input = key === 'title'
        ? h('input', { type: 'text', id, maxlength: 80, disabled: ro })
        : h('textarea', { id, rows: key === 'answer' ? 4 : 3, disabled: ro })
      input.value = shown(entry, lang, key)
      input.addEventListener('input', () => {
        setPart(entry, lang, key, input.value)
        if (key === 'answer') refreshPreview()
        if (key === 'title' || key === 'questions') heading.textContent = entryLabel(entry)
      })
      inputs[key] = input
      const hint = LISTS.has(key) ? t('faq_one_per_line') : (key === 'answer' ? t('faq_answer_hint') : null)
      return [field(t('faq_' + key), input, hint)[0], slot(`${base}.${key}`, input)]
    })
    refreshPreview()
    return h('fieldset', { class: 'faq-language', lang },
      h('legend', null, languageName(t, lang)), slot(base, inputs.questions), parts, preview)
  }

  function addEntry () {
    state.entries.push({ id: '', _open: true })
    render()
    const input = document.getElementById(`faq-${state.entries.length - 1}-id`)
    if (input) input.focus()
  }

  function move (index, by) {
    const [entry] = state.entries.splice(index, 1)
    entry._open = true
    state.entries.splice(index + by, 0, entry)
    render()
  }

  function remove (index) {
    state.entries.splice(index, 1)
    render()
  }

  function entriesForServer () {
    return state.entries.map((e) => {
      const out = copy(e)
      delete out._open
      return out
    })
  }

  function showError (err) {
    for (const [el] of errorSlots.values()) { el.hidden = true; el.textContent = '' }
    const path = err.field || ''
    const found = errorSlots.get(path) || errorSlots.get(path.split('.').slice(0, 3).join('.')) ||
      errorSlots.get(path.split('.').slice(0, 2).join('.') + '.entry')
    if (!found) { status.textContent = err.message; return }
    const [el, input] = found
    el.textContent = err.message
    el.hidden = false
    const details = el.closest('details')
    if (details) details.open = true
    status.textContent = t('faq_fix_errors')
    if (input) input.focus()
  }

  async function save (confirm) {
    status.textContent = t('loading')
    try {
      const saved = await api('PUT', '/faq', {
        entries: entriesForServer(), labelled: state.labelled, confirm, base_version: state.version
      })
      status.textContent = t('faq_saved', { version: saved.version })
      renderScores(saved.before, saved.after)
      const note = status.textContent
      await load()
      status.textContent = note
    } catch (err) {
      if (err.field === 'confirm') {
        status.textContent = err.message
        clear(scores, h('p', { class: 'faq-confirm' }, err.message, ' ',
          h('button', { type: 'button', class: 'danger', id: 'faq-save-anyway', onclick: () => save(true) }, t('faq_save_anyway'))))
      } else if (err.field) {
        showError(err)
      } else {
        status.textContent = err.message
      }
    }
  }

  function renderTry () {
    const lang = h('select', { id: 'faq-try-language' }, LANGS.map((l) => h('option', { value: l }, languageName(t, l))))
    lang.value = app.lang
    const question = h('input', { type: 'text', id: 'faq-try-question', maxlength: 500 })
    const out = h('div', { class: 'faq-try-result', 'aria-live': 'polite' })
    clear(tryBox, h('h2', { id: 'faq-try-heading' }, t('faq_try_heading')),
      h('form', { class: 'row', onsubmit: async (e) => {
        e.preventDefault()
        if (!question.value.trim()) return
        try {
          const found = await api('POST', '/faq/try', { entries: entriesForServer(), language: lang.value, question: question.value.trim() })
          clear(out, h('div', { class: 'faq-compare' },
            outcome(t('faq_draft'), found.draft, 'faq-try-draft'), outcome(t('faq_live'), found.live, 'faq-try-live')))
        } catch (err) {
          if (err.field) showError(err)
          clear(out, h('p', { class: 'error' }, err.message))
        }
      } }, field(t('language'), lang)[0], field(t('faq_try_question'), question)[0],
      h('button', { type: 'submit' }, t('faq_try'))), out)
  }

  function outcome (label, found, id) {
    const percent = Math.round(found.confidence * 100)
    let line
    if (found.kind === 'answer') line = t('faq_try_answer', { title: found.title || found.entry_id, percent })
    else if (found.kind === 'choices') line = t('faq_try_choices', { title: found.title || found.entry_id, percent })
    else if (found.kind === 'handoff') line = t('faq_try_person')
    else line = t('faq_try_unsure')
    return h('div', { class: 'faq-outcome', id },
      h('h3', null, label), h('p', { class: 'faq-outcome-line' }, line),
      found.answer ? answerPreview(t, found.answer) : null,
      found.candidates.length
        ? [h('p', { class: 'meta' }, t('faq_runners_up')),
            h('ol', null, found.candidates.map((c) => h('li', null, `${c.title} (${c.id}) – ${Math.round(c.coverage * 100)} %`)))]
        : null)
  }

  function renderLabelled () {
    const ro = state.readOnly
    const rows = state.labelled.map((item, index) => h('tr', null,
      h('td', null, languageName(t, item.language)),
      h('td', { class: 'text' }, item.question, labelledSlot(index)),
      h('td', null, item.expected === 'none' ? t('faq_none') : item.expected),
      h('td', null, ro ? null : h('button', { type: 'button', onclick: () => { state.labelled.splice(index, 1); renderLabelled() } },
        t('delete'), h('span', { class: 'sr-only' }, ' ' + item.question)))))
    const lang = h('select', { id: 'faq-labelled-language' }, LANGS.map((l) => h('option', { value: l }, languageName(t, l))))
    lang.value = app.lang
    const question = h('input', { type: 'text', id: 'faq-labelled-question', maxlength: 500 })
    const expected = entrySelect('faq-labelled-expected', '')
    clear(labelledBox, h('h2', { id: 'faq-labelled-heading' }, t('faq_labelled_heading')),
      h('p', { class: 'hint' }, t('faq_labelled_intro')),
      state.labelled.length
        ? h('details', { class: 'faq-labelled', open: labelledOpen, ontoggle: (e) => { labelledOpen = e.target.open } },
          h('summary', null, t('faq_labelled_count', { count: state.labelled.length })),
          h('table', null, h('thead', null, h('tr', null, [t('language'), t('faq_question'), t('faq_expected'), t('actions')].map((c) => h('th', { scope: 'col' }, c)))),
            h('tbody', null, rows)))
        : h('p', { class: 'empty' }, t('faq_labelled_empty')),
      ro ? null : h('form', { class: 'row', onsubmit: (e) => {
        e.preventDefault()
        if (!question.value.trim()) return
        state.labelled.push({ language: lang.value, question: question.value.trim(), expected: expected.value || 'none' })
        renderLabelled()
      } }, field(t('language'), lang)[0], field(t('faq_question'), question)[0], field(t('faq_expected'), expected)[0],
      h('button', { type: 'submit' }, t('faq_labelled_add'))),
      h('button', { type: 'button', id: 'faq-evaluate', onclick: evaluate }, t('faq_evaluate')))
  }

  // One place for the errors of a labelled question, whichever of its fields they name.
  function labelledSlot (index) {
    const el = slot(`labelled.${index}.question`, null)
    for (const key of ['language', 'expected', 'labelled']) errorSlots.set(`labelled.${index}.${key}`, [el, null])
    return el
  }

  function entrySelect (id, value) {
    const select = h('select', { id }, h('option', { value: 'none' }, t('faq_none')),
      state.entries.filter((e) => e.id).map((e) => h('option', { value: e.id }, entryLabel(e))))
    select.value = value || 'none'
    return select
  }

  async function evaluate () {
    try {
      const found = await api('POST', '/faq/evaluate', { entries: entriesForServer(), labelled: state.labelled })
      renderScores(found.before, found.after)
    } catch (err) {
      if (err.field) showError(err)
      clear(scores, h('p', { class: 'error' }, err.message))
    }
  }

  function renderScores (before, after) {
    const langs = LANGS.filter((l) => before.languages[l] || after.languages[l])
    const cell = (score, lang, key) => (score.languages[lang] || {})[key] || 0
    clear(scores, h('section', { class: 'card', 'aria-labelledby': 'faq-scores-heading' },
      h('h2', { id: 'faq-scores-heading' }, t('faq_scores_heading')),
      h('p', { id: 'faq-score-total' }, t('faq_scores_total', { before: before.right, after: after.right, total: after.total })),
      h('table', { class: 'faq-scores' }, h('thead', null, h('tr', null,
        [t('language'), t('faq_right'), t('faq_wrong'), t('faq_handed_off')].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', null, langs.map((lang) => h('tr', null, h('th', { scope: 'row' }, languageName(t, lang)),
        ['right', 'wrong', 'handed_off'].map((key) => h('td', null, `${cell(before, lang, key)} → ${cell(after, lang, key)}`))))))))
  }

  load()
}
