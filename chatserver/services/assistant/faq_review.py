"""What the assistant decided about each visitor message (docs/bot.md, "Learning from
hand-offs"): recorded in the assistant's own transaction, read back as the admins' review list
and as what the agent who takes a conversation over sees.

A `bot_decision` row points at its message and conversation with ON DELETE CASCADE, so the
review list and its dismissals disappear with the conversations (erase, purge). Nothing is
copied out of a message here; copying a question into the FAQ is faq_learning.review_act.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import and_, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from chatserver.db.models import BotDecision, Message
from chatserver.services.context import Context
from chatserver.services.views import iso

# Answers this little above the threshold count as low-confidence ones in the review list.
LOW_MARGIN = 0.1
REVIEW_LIMIT = 300
REVIEWED = ("dismissed", "example", "labelled")
# What a copied question should not carry: the editor flags these before it is added.
_EMAIL = re.compile(r"[^\s@]+@[^\s@]+\.[^\s@]+")
_PHONE = re.compile(r"(?<!\w)\+?\d[\d \-()]{6,}\d(?!\w)")
_DIGITS = re.compile(r"\d{5,}")


def flags(text: str) -> list[str]:
    """What in `text` looks personal: "email", "phone", "digits" (a run of five or more)."""
    found = []
    if _EMAIL.search(text):
        found.append("email")
    if _PHONE.search(text):
        found.append("phone")
    if _DIGITS.search(text):
        found.append("digits")
    return found


async def record(ctx: Context, session: AsyncSession, conversation_id: str, language: str,
                 kind: str, entry_id: str | None, confidence: float) -> None:
    """In the assistant's transaction: what it did with the conversation's latest visitor
    message (the one it is answering)."""
    message_id = (await session.exec(
        select(Message.id).where(col(Message.conversation_id) == conversation_id)
        .where(col(Message.author_kind) == "visitor")
        .order_by(col(Message.seq).desc()).limit(1))).first()
    if message_id is None or await session.get(BotDecision, message_id) is not None:
        return
    session.add(BotDecision(message_id=message_id, conversation_id=conversation_id,
                            language=language, kind=kind, entry_id=entry_id,
                            confidence=round(float(confidence), 4), created_at=ctx.clock()))


def _due_for_review(threshold: float) -> Any:
    return and_(col(BotDecision.reviewed) == "", or_(
        col(BotDecision.kind).in_(("unsure", "choices")),
        and_(col(BotDecision.kind) == "answer",
             col(BotDecision.confidence) < min(threshold + LOW_MARGIN, 0.9999))))


async def review_items(ctx: Context) -> list[dict[str, Any]]:
    """The visitor messages the assistant handed off as unsure, offered choices for, or
    answered with low confidence, newest first, not yet reviewed."""
    async with ctx.read() as session:
        rows = (await session.exec(
            select(BotDecision, Message.text)
            .join(Message, col(Message.id) == col(BotDecision.message_id))
            .where(_due_for_review(ctx.settings.bot.threshold))
            .order_by(col(BotDecision.created_at).desc()).limit(REVIEW_LIMIT))).all()
    return [{"id": decision.message_id, "language": decision.language, "kind": decision.kind,
             "entry_id": decision.entry_id, "confidence": decision.confidence,
             "created_at": iso(decision.created_at), "text": text, "flags": flags(text)}
            for decision, text in rows]


async def pending(ctx: Context, session: AsyncSession, message_id: str
                  ) -> tuple[BotDecision, str] | None:
    """The decision still in the review list and its message's text, or None."""
    row = (await session.exec(
        select(BotDecision, Message.text)
        .join(Message, col(Message.id) == col(BotDecision.message_id))
        .where(col(BotDecision.message_id) == message_id)
        .where(_due_for_review(ctx.settings.bot.threshold)))).first()
    return None if row is None else (row[0], row[1])


async def mark(session: AsyncSession, message_id: str, reviewed: str) -> None:
    assert reviewed in REVIEWED
    await session.exec(update(BotDecision).where(col(BotDecision.message_id) == message_id)
                       .values(reviewed=reviewed))


async def of_conversation(ctx: Context, conversation_id: str) -> list[dict[str, Any]]:
    """What the assistant did in a conversation, in message order, with the language to read
    its entries' titles in: for the agent who takes it over (docs/protocol.md, `assistant`)."""
    async with ctx.read() as session:
        rows = (await session.exec(
            select(BotDecision, Message.seq)
            .join(Message, col(Message.id) == col(BotDecision.message_id))
            .where(col(BotDecision.conversation_id) == conversation_id)
            .order_by(col(Message.seq)))).all()
    return [{"seq": seq, "message_id": decision.message_id, "kind": decision.kind,
             "entry_id": decision.entry_id, "confidence": decision.confidence,
             "language": decision.language}
            for decision, seq in rows]
