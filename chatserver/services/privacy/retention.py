"""Retention: delete each kind of personal data when its period ends (settings `privacy.retention`).

Work is done in small transactions of at most `privacy.purge_batch_size` rows, yielding to the
event loop between them, so chats go on while a large purge runs and no transaction holds the
database's write lock for long. What is due (with `now` from the context's clock):

- a conversation with its messages (and so its transcript address), `conversations` days after
  it was closed, or after its last activity if it was never closed;
- an offline-form message, `offline_messages` days after it arrived;
- an outbox email, `sent_emails` days after it was sent (or created, if it finally failed), and
  any email, whatever its state, once it is older than the conversation period;
- an audit event, `audit_events` days after it was written.

Each run also deletes agent sessions that have expired and failed-login records older than the
throttling window (`auth.login_window_minutes`); they hold only hashes, but nothing needs them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col, select

from chatserver.db.engine import checkpoint_wal
from chatserver.db.models import (
    AgentSession,
    AuditEvent,
    Conversation,
    LoginFailure,
    Message,
    OfflineMessage,
    OutboxEmail,
)
from chatserver.services import api_tokens, audit, metrics, passkeys, reports, search
from chatserver.services.background import background
from chatserver.services.context import Context
from chatserver.services.privacy import erasures

log = logging.getLogger(__name__)
KINDS = ("messages", "conversations", "offline_messages", "emails", "audit_events")
Progress = Callable[[str, int], None]  # (kind, rows deleted in this step)


@dataclass
class PurgeCounts:
    messages: int = 0
    conversations: int = 0
    offline_messages: int = 0
    emails: int = 0
    audit_events: int = 0

    def total(self) -> int:
        return sum(asdict(self).values())

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class Cutoffs:
    as_of: datetime
    conversations: datetime
    offline_messages: datetime
    sent_emails: datetime
    audit_events: datetime


def cutoffs(ctx: Context, now: datetime | None = None) -> Cutoffs:
    now = now or ctx.clock()
    days = ctx.settings.privacy.retention
    return Cutoffs(
        as_of=now,
        conversations=now - timedelta(days=days.conversations),
        offline_messages=now - timedelta(days=days.offline_messages),
        sent_emails=now - timedelta(days=days.sent_emails),
        audit_events=now - timedelta(days=days.audit_events),
    )


def _conversation_due(c: Cutoffs) -> ColumnElement[bool]:
    return or_(
        and_(col(Conversation.closed_at).is_not(None),
             col(Conversation.closed_at) < c.conversations),
        and_(col(Conversation.closed_at).is_(None),
             col(Conversation.last_activity_at) < c.conversations),
    )


def _email_due(c: Cutoffs) -> ColumnElement[bool]:
    return or_(
        and_(col(OutboxEmail.status) == "sent", col(OutboxEmail.sent_at) < c.sent_emails),
        and_(col(OutboxEmail.status) == "failed", col(OutboxEmail.created_at) < c.sent_emails),
        col(OutboxEmail.created_at) < c.conversations,
    )


def _offline_due(c: Cutoffs) -> ColumnElement[bool]:
    return col(OfflineMessage.created_at) < c.offline_messages


def _audit_due(c: Cutoffs) -> ColumnElement[bool]:
    return col(AuditEvent.at) < c.audit_events


async def due(ctx: Context, now: datetime | None = None) -> PurgeCounts:
    """How many rows of each kind a purge at `now` would delete (the dry run)."""
    c = cutoffs(ctx, now)
    due_ids = select(Conversation.id).where(_conversation_due(c))
    async with ctx.db() as session:
        async def count(query: Any) -> int:
            return int((await session.exec(query)).one())

        return PurgeCounts(
            messages=await count(select(func.count()).select_from(Message)
                                 .where(col(Message.conversation_id).in_(due_ids))),
            conversations=await count(select(func.count()).select_from(Conversation)
                                      .where(_conversation_due(c))),
            offline_messages=await count(select(func.count()).select_from(OfflineMessage)
                                         .where(_offline_due(c))),
            emails=await count(select(func.count()).select_from(OutboxEmail)
                               .where(_email_due(c))),
            audit_events=await count(select(func.count()).select_from(AuditEvent)
                                     .where(_audit_due(c))),
        )


async def _delete_batches(ctx: Context, model: Any, key: Any, condition: Any, kind: str,
                          progress: Progress | None) -> int:
    """Delete rows of `model` matching `condition`, `batch` rows per transaction."""
    batch = ctx.settings.privacy.purge_batch_size
    deleted = 0
    while True:
        async with ctx.db.begin() as session:
            result = await session.exec(
                delete(model).where(key.in_(select(key).where(condition).limit(batch)))
                .execution_options(synchronize_session=False)  # no RETURNING of every id
            )
            count = int(result.rowcount)
        deleted += count
        if count and progress is not None:
            progress(kind, count)
        await asyncio.sleep(0)  # let chats run between batches
        if count < batch:
            return deleted


async def purge(ctx: Context, now: datetime | None = None,
                progress: Progress | None = None, *, tombstone: bool = True) -> PurgeCounts:
    """Delete everything whose retention period has ended at `now` (default: the clock), and
    leave a tombstone with that time (erasures.py): after a restore from an older backup, the
    purge runs again as of it before anything is served (`tombstone=False` for that re-run)."""
    c = cutoffs(ctx, now)
    counts = PurgeCounts()
    batch = ctx.settings.privacy.purge_batch_size
    while True:
        # A slice of due conversations: first their messages in batches, then the rows.
        async with ctx.db() as session:
            ids = list((await session.exec(
                select(Conversation.id).where(_conversation_due(c))
                .order_by(col(Conversation.id)).limit(max(1, batch // 20)))).all())
        if not ids:
            break
        async with ctx.db.begin() as session:  # counted into the reports before they go
            await reports.fold_before_delete(ctx, session, ids)
        counts.messages += await _delete_batches(
            ctx, Message, col(Message.id), col(Message.conversation_id).in_(ids), "messages",
            progress)
        async with ctx.db.begin() as session:
            result = await session.exec(
                delete(Conversation).where(col(Conversation.id).in_(ids))
                .where(_conversation_due(c)).execution_options(synchronize_session=False))
            removed = int(result.rowcount)
        counts.conversations += removed
        if progress is not None and removed:
            progress("conversations", removed)
        if removed < len(ids):
            break  # a conversation became active again meanwhile; the next run decides
    counts.offline_messages = await _delete_batches(
        ctx, OfflineMessage, col(OfflineMessage.id), _offline_due(c), "offline_messages",
        progress)
    counts.emails = await _delete_batches(
        ctx, OutboxEmail, col(OutboxEmail.id), _email_due(c), "emails", progress)
    counts.audit_events = await _delete_batches(
        ctx, AuditEvent, col(AuditEvent.id), _audit_due(c), "audit_events", progress)
    await _expire_credentials(ctx, now or ctx.clock())
    await reports.purge(ctx, now or ctx.clock())
    for kind, rows in counts.as_dict().items():
        metrics.count_purged(ctx, kind, rows)  # chatserver_purged_total{kind=...}
    if counts.total():
        async with ctx.db.begin() as session:
            audit.record(ctx, session, "retention.purge", actor_kind="system",
                         deleted=counts.as_dict())
            if tombstone:
                erasures.record(ctx, session, "purge", [c.as_of.isoformat()])
        await checkpoint(ctx)
    if tombstone:
        await erasures.forget_old(ctx)
    return counts


async def _expire_credentials(ctx: Context, now: datetime) -> None:
    window_start = now - timedelta(minutes=ctx.settings.auth.login_window_minutes)
    await _delete_batches(ctx, LoginFailure, col(LoginFailure.id),
                          col(LoginFailure.created_at) < window_start, "login_failures", None)
    await _delete_batches(ctx, AgentSession, col(AgentSession.token_hash),
                          col(AgentSession.expires_at) < now, "agent_sessions", None)
    await api_tokens.delete_expired(ctx, now)
    await passkeys.delete_expired_challenges(ctx, now)


async def checkpoint(ctx: Context) -> bool:
    """SQLite: move the write-ahead log into the database and truncate it, so deleted text
    (overwritten in the database by secure_delete) does not linger in old WAL frames. The
    search index is merged first, so deleted words leave it too (search.compact)."""
    await search.compact(ctx)
    return await checkpoint_wal(ctx.engine)


@contextlib.asynccontextmanager
async def running(ctx: Context) -> AsyncIterator[None]:
    """The purge worker: first run shortly after start-up, then every interval."""
    interval = ctx.settings.privacy.purge_interval_minutes * 60

    async def loop() -> None:
        await asyncio.sleep(min(30.0, interval))
        while True:
            try:
                counts = await purge(ctx)
                if counts.total():
                    log.info("purged expired data: %s", counts.as_dict())
            except Exception:
                log.exception("purge failed")
            await asyncio.sleep(interval)

    async with background(loop(), "purge"):
        yield
