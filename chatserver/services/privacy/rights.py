"""Data-subject rights without paperwork (GDPR art. 15, 17 and 20).

A visitor exports or erases their own conversation from the widget; an admin (REST or CLI)
finds, exports and erases everything tied to an email address: conversations by transcript
address, offline-form messages, and outbox emails to, from or about them. Every act is audited
(without the address or any message text). After an erasure on SQLite the write-ahead log is
checkpointed and truncated, so the erased bytes are gone from the database file and the WAL
(secure_delete overwrites them in the database pages).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from chatserver.db.models import (
    Agent,
    AuditEvent,
    BotDecision,
    Conversation,
    Message,
    OfflineMessage,
    OutboxEmail,
)
from chatserver.errors import Code, ServiceError
from chatserver.i18n import gettext_noop as _
from chatserver.services import audit, notes, queue, reports
from chatserver.services.context import Context
from chatserver.services.conversations import Visitor
from chatserver.services.email.offline import valid_address
from chatserver.services.privacy import erasures, retention
from chatserver.services.tokens import keyed_hash
from chatserver.services.views import iso, message_view, note_view

EXPORT_FORMAT = "chatserver-export/1"


@dataclass(frozen=True)
class Actor:
    """Who exercises the right: the visitor themself, an admin agent, or the operator's CLI."""

    kind: str  # visitor | agent | cli
    id: str | int | None = None


@dataclass
class Found:
    conversations: list[Conversation]
    offline_messages: list[OfflineMessage]
    emails: list[OutboxEmail]

    def counts(self) -> dict[str, int]:
        return {"conversations": len(self.conversations),
                "offline_messages": len(self.offline_messages), "emails": len(self.emails)}


def _normalise(address: str) -> str:
    return valid_address(address, lookup=True).lower()


async def _find_by_email(ctx: Context, session: AsyncSession, email: str) -> Found:
    # A sent transcript's address is cleared from its conversation and from the email row, but
    # the row keeps the address's keyed hash and still links the conversation.
    hashed = keyed_hash(ctx.record_key, email)
    sent_to = select(OutboxEmail.conversation_id).where(or_(
        func.lower(OutboxEmail.to_address) == email,
        col(OutboxEmail.recipient_hash) == hashed)).where(
        col(OutboxEmail.conversation_id).is_not(None))
    found_conversations = list((await session.exec(
        select(Conversation).where(or_(func.lower(Conversation.transcript_email) == email,
                                       col(Conversation.id).in_(sent_to)))
        .order_by(col(Conversation.created_at)))).all())
    offline = list((await session.exec(
        select(OfflineMessage).where(func.lower(OfflineMessage.email) == email)
        .order_by(col(OfflineMessage.created_at)))).all())
    return Found(found_conversations, offline, await _emails(
        session, [c.id for c in found_conversations], [m.id for m in offline], email, hashed))


async def _emails(session: AsyncSession, conversation_ids: list[str], offline_ids: list[str],
                  email: str | None, hashed: str | None = None) -> list[OutboxEmail]:
    conditions: list[ColumnElement[bool]] = []
    if conversation_ids:
        conditions.append(col(OutboxEmail.conversation_id).in_(conversation_ids))
    if offline_ids:
        conditions.append(col(OutboxEmail.offline_message_id).in_(offline_ids))
    if email:
        conditions += [func.lower(OutboxEmail.to_address) == email,
                       func.lower(OutboxEmail.reply_to) == email,
                       col(OutboxEmail.recipient_hash) == hashed]
    if not conditions:
        return []
    return list((await session.exec(
        select(OutboxEmail).where(or_(*conditions)).order_by(col(OutboxEmail.created_at)))).all())


async def _export(session: AsyncSession, found: Found, *, notes_too: bool) -> dict[str, Any]:
    """Everything stored in `found`, as machine-readable JSON (art. 20). Agents' notes only in
    an admin's export (`notes_too`): the visitor's own comes on their socket, which a note
    never reaches (notes.py); an admin answers a request for them (docs/privacy.md)."""
    agent_names = {a.id: a.display_name for a in (await session.exec(select(Agent))).all()}
    targets = [c.id for c in found.conversations] + [m.id for m in found.offline_messages]
    access = list((await session.exec(
        select(AuditEvent).where(col(AuditEvent.target_id).in_(targets))
        .order_by(col(AuditEvent.at)))).all()) if targets else []
    items = []
    for c in found.conversations:
        messages = (await session.exec(select(Message).where(Message.conversation_id == c.id)
                                       .order_by(col(Message.seq)))).all()
        # What the FAQ assistant decided about each message (docs/bot.md): stored about it too.
        decisions = (await session.exec(select(BotDecision).where(
            BotDecision.conversation_id == c.id).order_by(col(BotDecision.created_at)))).all()
        items.append({
            "id": c.id, "state": c.state, "language": c.language,
            "agent": agent_names.get(c.agent_id) if c.agent_id else None,
            "notice_version": c.notice_version,
            "notice_acknowledged_at": iso(c.notice_acknowledged_at),
            "created_at": iso(c.created_at), "last_activity_at": iso(c.last_activity_at),
            "queued_at": iso(c.queued_at), "claimed_at": iso(c.claimed_at),
            "closed_at": iso(c.closed_at), "transcript_email": c.transcript_email,
            "user_agent": c.user_agent, "page_url": c.page_url,
            "resume_key_sha256": c.token_hash,
            "rating": await reports.rating_of(session, c.id),
            "messages": [message_view(m) for m in messages],
            **({"notes": [note_view(n) for n in await notes.of_conversation(session, c.id)]}
               if notes_too else {}),
            "assistant": [{"message_id": d.message_id, "kind": d.kind, "entry_id": d.entry_id,
                           "confidence": d.confidence, "created_at": iso(d.created_at),
                           "reviewed": d.reviewed} for d in decisions],
        })
    return {
        "format": EXPORT_FORMAT,
        "conversations": items,
        "offline_messages": [{
            "id": m.id, "name": m.name, "email": m.email, "text": m.text,
            "language": m.language, "notice_version": m.notice_version,
            "created_at": iso(m.created_at), "handled_at": iso(m.handled_at),
        } for m in found.offline_messages],
        "emails": [{
            # None once delivered or failed: the address was forgotten then (docs/privacy.md).
            "id": e.id, "kind": e.kind, "to": e.to_address or None, "reply_to": e.reply_to,
            "subject": e.subject, "body_text": e.body_text, "status": e.status,
            "created_at": iso(e.created_at), "sent_at": iso(e.sent_at),
        } for e in found.emails],
        "access_log": [{"at": iso(a.at), "action": a.action, "actor": a.actor_kind,
                        "target": a.target_kind} for a in access],
    }


async def _erase(ctx: Context, session: AsyncSession, found: Found,
                 address: str | None = None) -> None:
    """Delete what `found` holds and leave tombstones of it (erasures.py), so the erasure holds
    after a restore from an older backup."""
    conversations = [c.id for c in found.conversations]
    offline = [m.id for m in found.offline_messages]
    emails = [e.id for e in found.emails]
    # Counted into the anonymous reports first, so that erasing does not change them.
    await reports.fold_before_delete(ctx, session, conversations)
    await erasures.delete_rows(session, conversations, offline, emails)
    erasures.record(ctx, session, "conversation", conversations)
    erasures.record(ctx, session, "offline_message", offline)
    erasures.record(ctx, session, "email", emails)
    if address is not None:
        erasures.record(ctx, session, "address", [keyed_hash(ctx.record_key, address)])


async def _after_erase(ctx: Context, erased: list[Conversation]) -> None:
    await retention.checkpoint(ctx)
    for conversation in erased:
        gone = {"id": conversation.id, "state": "closed", "erased": True}
        if conversation.agent_id is not None:
            await ctx.bus.to_agent(conversation.agent_id, "conversation", gone)
        await ctx.bus.to_visitors_of(conversation.id, "conversation", gone)
    await queue.left(ctx, [c.id for c in erased if c.state == "queued"])


# The visitor's own conversation (the widget's `export` and `erase` events).

async def _own(session: AsyncSession, visitor: Visitor) -> Conversation:
    if visitor.conversation_id is None:
        raise ServiceError(Code.NOT_FOUND, _("You have no conversation yet."))
    conversation = await session.get(Conversation, visitor.conversation_id)
    if conversation is None:
        raise ServiceError(Code.NOT_FOUND, _("The conversation was not found."))
    return conversation


async def _visitor_found(session: AsyncSession, conversation: Conversation) -> Found:
    return Found([conversation], [], await _emails(session, [conversation.id], [], None))


async def export_conversation(ctx: Context, visitor: Visitor) -> dict[str, Any]:
    if visitor.conversation_id is None:
        return {"format": EXPORT_FORMAT, "exported_at": iso(ctx.clock()), "conversations": [],
                "offline_messages": [], "emails": [], "access_log": []}
    async with ctx.db.begin() as session:
        conversation = await _own(session, visitor)
        data = await _export(session, await _visitor_found(session, conversation),
                             notes_too=False)
        audit.record(ctx, session, "conversation.export", actor_kind="visitor",
                     target_kind="conversation", target_id=conversation.id)
    return {**data, "exported_at": iso(ctx.clock())}


async def erase_conversation(ctx: Context, visitor: Visitor) -> None:
    async with ctx.db.begin() as session:
        conversation = await _own(session, visitor)
        found = await _visitor_found(session, conversation)
        await _erase(ctx, session, found)
        audit.record(ctx, session, "conversation.erase", actor_kind="visitor",
                     target_kind="conversation", target_id=conversation.id,
                     emails=len(found.emails))
    visitor.conversation_id = None
    await _after_erase(ctx, [conversation])


# Requests by email address (admins in the console or REST, the operator with the CLI).

def _summary(found: Found) -> dict[str, Any]:
    return {
        "conversations": [{"id": c.id, "state": c.state, "created_at": iso(c.created_at),
                           "closed_at": iso(c.closed_at), "messages": c.last_seq}
                          for c in found.conversations],
        "offline_messages": [{"id": m.id, "created_at": iso(m.created_at),
                              "handled_at": iso(m.handled_at)} for m in found.offline_messages],
        "emails": [{"id": e.id, "kind": e.kind, "status": e.status,
                    "created_at": iso(e.created_at)} for e in found.emails],
    }


async def find(ctx: Context, actor: Actor, address: str) -> dict[str, Any]:
    email = _normalise(address)
    async with ctx.db.begin() as session:
        found = await _find_by_email(ctx, session, email)
        audit.record(ctx, session, "dsar.find", actor_kind=actor.kind, actor_id=actor.id,
                     target_kind="email", **found.counts())
    return {"email": email, **_summary(found)}


async def export_by_email(ctx: Context, actor: Actor, address: str) -> dict[str, Any]:
    email = _normalise(address)
    async with ctx.db.begin() as session:
        found = await _find_by_email(ctx, session, email)
        data = await _export(session, found, notes_too=True)
        audit.record(ctx, session, "dsar.export", actor_kind=actor.kind, actor_id=actor.id,
                     target_kind="email", **found.counts())
    return {**data, "email": email, "exported_at": iso(ctx.clock())}


async def erase_by_email(ctx: Context, actor: Actor, address: str) -> dict[str, int]:
    email = _normalise(address)
    async with ctx.db.begin() as session:
        found = await _find_by_email(ctx, session, email)
        await _erase(ctx, session, found, email)
        counts = found.counts()
        audit.record(ctx, session, "dsar.erase", actor_kind=actor.kind, actor_id=actor.id,
                     target_kind="email", **counts)
    await _after_erase(ctx, found.conversations)
    return counts
