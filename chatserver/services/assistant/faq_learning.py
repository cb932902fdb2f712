"""Learning from hand-offs (docs/bot.md): the admins' review list of what visitors asked
when the assistant handed them off or was unsure, grouped by entry or wording, and an admin's
choice for each question (dismiss it, or copy its text, as edited, into the FAQ as an example
or a labelled question: a new version saved by faq_store); and what the assistant did in a
conversation, for the agent who takes it over. The decisions themselves are faq_review.py's."""

from __future__ import annotations

from typing import Any

from chatserver.db.models import Agent
from chatserver.errors import Code, ServiceError
from chatserver.i18n import gettext_noop as _
from chatserver.services import audit
from chatserver.services.assistant import faq, faq_review
from chatserver.services.assistant.faq_store import (
    Labelled,
    current_entries,
    refusal,
    save,
    store_of,
)
from chatserver.services.assistant.text import Analyzer
from chatserver.services.context import Context

PERSONAL = _("The question seems to contain personal data ({kinds}). Remove it before adding "
             "the question.")
NO_SUCH_ENTRY = _("There is no entry “{entry}” in {language}.")
NOT_IN_REVIEW = _("This question is no longer in the review list.")



async def review(ctx: Context, actor: Agent) -> list[dict[str, Any]]:
    """The review list grouped by the entry the assistant picked or would have picked, and
    those near no entry by their weightiest word (`wording`); reading it is audited, as it
    shows visitors' words."""
    items = await faq_review.review_items(ctx)
    known = store_of(ctx).knowledge()
    analyzers: dict[str, Analyzer] = {}
    groups: dict[tuple[str | None, str | None], dict[str, Any]] = {}
    for item in items:
        entry_id, wording = item["entry_id"], None
        if entry_id is None:  # no entry came close: group by the weightiest word instead
            analyzer = analyzers.setdefault(item["language"], Analyzer(item["language"]))
            words = [(analyzer.word(w), w) for w in analyzer.words(item["text"])]
            if words:
                word, wording = max(words, key=lambda pair: pair[0].weight)
                key: tuple[str | None, str | None] = (None, word.keys[0] if word.keys else
                                                      wording)
            else:
                key = (None, None)
        else:
            key = (entry_id, None)
        group = groups.setdefault(key, {"entry_id": entry_id, "title": None,
                                        "wording": wording, "items": []})
        if group["title"] is None and entry_id is not None:
            group["title"] = known.titles.get((entry_id, item["language"]))
        group["items"].append(item)
    async with ctx.db.begin() as session:
        audit.record(ctx, session, "faq.review.read", actor_kind="agent", actor_id=actor.id,
                     items=len(items))
    return sorted(groups.values(), key=lambda g: (-len(g["items"]), g["entry_id"] or ""))


async def review_act(ctx: Context, actor: Agent, message_id: str, action: str, *,
                     entry_id: str | None = None, text: str | None = None,
                     confirm: bool = False) -> dict[str, Any]:
    """An admin's choice for one question of the review list: "dismiss" it, add it as an
    "example" question of `entry_id`, or to the "labelled" questions expecting `entry_id`
    (None: "none"). Only the text is copied (`text`, as the admin edited it; the message's
    own text otherwise), and only when it has nothing that looks personal."""
    async with ctx.read() as session:
        found = await faq_review.pending(ctx, session, message_id)
    if found is None:
        raise ServiceError(Code.NOT_FOUND, NOT_IN_REVIEW)
    decision, original = found
    saved: dict[str, Any] | None = None
    if action != "dismiss":
        question = (text if text is not None else original).strip()
        personal = faq_review.flags(question)
        if personal:
            raise refusal(Code.INVALID_INPUT, PERSONAL, "text", kinds=", ".join(personal))
        _source, entries, labelled = current_entries(ctx)
        data = faq.to_data(entries)
        if action == "example":
            item = next((e for e in data if e["id"] == entry_id), None)
            if item is None or decision.language not in item:
                raise ServiceError(Code.INVALID_INPUT, NO_SUCH_ENTRY, entry=entry_id or "",
                                   language=decision.language)
            item[decision.language].setdefault("questions", []).append(question)
        else:
            labelled = [*labelled, Labelled(decision.language, question, entry_id or "none")]
        saved = await save(ctx, actor, data, [item.data() for item in labelled],
                           confirm=confirm, reason=f"review.{action}")
    async with ctx.db.begin() as session:
        await faq_review.mark(session, message_id, {"dismiss": "dismissed"}.get(action, action))
        if action == "dismiss":
            audit.record(ctx, session, "faq.review.dismiss", actor_kind="agent",
                         actor_id=actor.id, target_kind="message", target_id=message_id)
    return {"saved": saved}


async def assistant_actions(ctx: Context, conversation_id: str) -> list[dict[str, Any]]:
    """What the assistant did in a conversation, with the titles of its entries: the
    questions it answered (and with which entry), offered choices for, or handed off."""
    known = store_of(ctx).knowledge()
    actions = await faq_review.of_conversation(ctx, conversation_id)
    for action in actions:
        action["title"] = known.titles.get((action["entry_id"] or "", action.pop("language")))
    return actions
