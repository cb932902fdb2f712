// What the assistant did in a conversation, for the agent who takes it over (docs/protocol.md,
// `assistant` in the agent's `claim` and `history` acks): which questions it answered and with
// which entry, so the agent does not ask again. The chat view calls this with the list.
import { h } from './dom.js'

export function assistantActions (t, actions) {
  if (!Array.isArray(actions) || !actions.length) return null
  return h('details', { class: 'faq-actions-summary' },
    h('summary', null, t('faq_actions_heading', { count: actions.length })),
    h('ul', null, actions.map((a) => h('li', { 'data-seq': a.seq },
      t('faq_actions_message', { seq: a.seq }), ' ',
      a.kind === 'answer'
        ? t('faq_actions_answered', { title: a.title || a.entry_id, percent: Math.round(a.confidence * 100) })
        : a.kind === 'choices' ? t('faq_actions_choices') : t('faq_actions_handed_off')))))
}
