"""The durable email outbox (docs/email.md). Every email is a row first; the rows are the truth.

- `queue(...)` adds a row inside the caller's transaction and wakes this node's worker once that
  transaction commits, so an email exists exactly when the act that caused it does.
- `run_once(ctx)` claims each due row with a conditional UPDATE that moves its next attempt
  forward by a lease (so two nodes never send one row at the same time), sends it, and marks it
  sent right after. A crash between sending and marking sends it once more when the lease ends:
  at most one duplicate, never a lost email.
- Temporary failures (connection errors, timeouts, 4xx) retry with exponential backoff; after
  `smtp.max_attempt_hours` (or at once on a 5xx refusal) the row is `failed` and audited.
- `running(ctx)` is the background loop for the app's lifetime. `wake(ctx)` makes it look now.
  (Closing idle conversations, which queues their transcripts, is the chat core's own worker:
  services/idle.py.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event, func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from chatserver.db.engine import checkpoint_wal
from chatserver.db.models import Conversation, OutboxEmail
from chatserver.services import audit
from chatserver.services.background import background
from chatserver.services.context import Context
from chatserver.services.email import mailer
from chatserver.services.tokens import keyed_hash
from chatserver.services.views import iso

log = logging.getLogger(__name__)

WAKEUP = "outbox"
BATCH = 50
FIRST_RETRY_SECONDS = 30.0
MAX_RETRY_SECONDS = 3600.0
MAX_BODY_CHARS = 1_000_000


def wake(ctx: Context) -> None:
    """Make this node's worker look for due rows now (also used by tests)."""
    ctx.wakeups.setdefault(WAKEUP, asyncio.Event()).set()


def queue(
    ctx: Context, session: AsyncSession, *, kind: str, to: str, subject: str, body_text: str,
    language: str, body_html: str | None = None, reply_to: str | None = None,
    conversation_id: str | None = None, offline_message_id: str | None = None,
) -> OutboxEmail:
    """Add an email to the caller's transaction. `to` and `reply_to` must be validated
    addresses (services.offline.valid_address); the subject is made header-safe here."""
    now = ctx.clock()
    row = OutboxEmail(
        kind=kind, to_address=to, reply_to=reply_to, subject=mailer.one_line(subject),
        body_text=body_text[:MAX_BODY_CHARS],
        # Cut HTML would be broken HTML: an oversized HTML part is left out (the text stays).
        body_html=body_html if body_html and len(body_html) <= MAX_BODY_CHARS else None,
        language=language, created_at=now, next_attempt_at=now,
        conversation_id=conversation_id, offline_message_id=offline_message_id,
        recipient_hash=keyed_hash(ctx.record_key, to),
    )
    session.add(row)
    event.listen(session.sync_session, "after_commit", lambda _s: wake(ctx), once=True)
    return row


def _send_limit(ctx: Context) -> float:
    """Seconds one whole send may take (every SMTP step has `smtp.timeout` on its own)."""
    return ctx.settings.smtp.timeout * 8


def _lease(ctx: Context) -> timedelta:
    """How long a claimed row is left alone: longer than any one send is allowed to take."""
    return timedelta(seconds=_send_limit(ctx) + 60)


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(FIRST_RETRY_SECONDS * 2 ** max(attempts - 1, 0),
                                 MAX_RETRY_SECONDS))


async def run_once(ctx: Context, limit: int = BATCH) -> int:
    """Attempt every row due now (at most `limit`); returns how many were sent."""
    now = ctx.clock()
    async with ctx.db() as session:
        ids = (
            await session.exec(
                select(OutboxEmail.id)
                .where(OutboxEmail.status == "pending")
                .where(col(OutboxEmail.next_attempt_at) <= now)
                .order_by(col(OutboxEmail.next_attempt_at))
                .limit(limit)
            )
        ).all()
    sent = 0
    for row_id in ids:
        row = await _claim(ctx, row_id, now)
        if row is not None:
            sent += await _attempt(ctx, row)
    return sent


async def _claim(ctx: Context, row_id: str, now: datetime) -> OutboxEmail | None:
    async with ctx.db.begin() as session:
        result = await session.exec(
            update(OutboxEmail)
            .where(col(OutboxEmail.id) == row_id)
            .where(col(OutboxEmail.status) == "pending")
            .where(col(OutboxEmail.next_attempt_at) <= now)
            .values(next_attempt_at=now + _lease(ctx), attempts=OutboxEmail.attempts + 1)
        )
        if result.rowcount != 1:
            return None  # another node (or loop) took it
        return await session.get(OutboxEmail, row_id, populate_existing=True)


async def _attempt(ctx: Context, row: OutboxEmail) -> int:
    try:
        try:
            message = mailer.build_message(ctx.settings, row)
        except (ValueError, TypeError) as exc:
            raise mailer.PermanentFailure(f"cannot build the message: {exc}",
                                          type(exc).__name__) from None
        try:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a
            # cancellation that arrives as the inner task finishes, and shutdown would hang.
            async with asyncio.timeout(_send_limit(ctx)):
                await mailer.deliver(ctx.settings, message)
        except TimeoutError:
            raise mailer.TemporaryFailure("the send took too long", "TimeoutError") from None
    except mailer.PermanentFailure as failure:
        await _give_up(ctx, row, failure)
        return 0
    except mailer.TemporaryFailure as failure:
        await _retry_later(ctx, row, failure)
        return 0
    except Exception as exc:  # an unexpected bug must not stop the worker or lose the row
        log.exception("email %s: unexpected error while sending", row.id)
        await _retry_later(ctx, row, mailer.TemporaryFailure(repr(exc)[:500],
                                                             type(exc).__name__))
        return 0
    await _mark_sent(ctx, row)
    return 1


# Delivered (or finally failed) means forgotten: the transaction that records the outcome
# overwrites the addresses, the subject and the bodies (secure_delete zeroes the old bytes, and
# the WAL is checkpointed right after); kind, status, times, attempts, the SMTP reply and the
# recipient's keyed hash stay for privacy.retention.sent_emails days (docs/privacy.md).
FORGET = {"to_address": "", "reply_to": None, "subject": "", "body_text": "", "body_html": None}


async def _mark_sent(ctx: Context, row: OutboxEmail) -> None:
    now = ctx.clock()
    async with ctx.db.begin() as session:
        await session.exec(
            update(OutboxEmail).where(col(OutboxEmail.id) == row.id)
            .values(status="sent", sent_at=now, last_error=None, **FORGET)
        )
        if row.kind == "transcript" and row.conversation_id:
            await _forget_transcript_address(session, row.conversation_id)
    await checkpoint_wal(ctx.engine)
    log.info("email %s (%s) sent after %d attempt(s)", row.id, row.kind, row.attempts)


async def _forget_transcript_address(session: AsyncSession, conversation_id: str) -> None:
    await session.exec(
        update(Conversation).where(col(Conversation.id) == conversation_id)
        .values(transcript_email=None)
    )


async def _retry_later(ctx: Context, row: OutboxEmail, failure: mailer.TemporaryFailure
                       ) -> None:
    now = ctx.clock()
    deadline = row.created_at + timedelta(hours=ctx.settings.smtp.max_attempt_hours)
    if now >= deadline:
        await _give_up(ctx, row, failure)
        return
    next_at = min(now + _backoff(row.attempts), deadline)
    async with ctx.db.begin() as session:
        await session.exec(
            update(OutboxEmail).where(col(OutboxEmail.id) == row.id)
            .values(next_attempt_at=next_at, last_error=failure.detail[:500])
        )
    log.warning("email %s (%s) not delivered (attempt %d: %s); next try at %s",
                row.id, row.kind, row.attempts, failure.summary, iso(next_at))


async def _give_up(ctx: Context, row: OutboxEmail, failure: mailer.TemporaryFailure) -> None:
    async with ctx.db.begin() as session:
        await session.exec(
            update(OutboxEmail).where(col(OutboxEmail.id) == row.id)
            .values(status="failed", last_error=failure.detail[:500], **FORGET)
        )
        if row.kind == "transcript" and row.conversation_id:
            # The address served only this email.
            await _forget_transcript_address(session, row.conversation_id)
        audit.record(ctx, session, "email.failed", actor_kind="system",
                     target_kind="email", target_id=row.id, kind=row.kind,
                     attempts=row.attempts, reason=failure.summary)
    await checkpoint_wal(ctx.engine)
    log.error("email %s (%s) failed for good after %d attempt(s): %s",
              row.id, row.kind, row.attempts, failure.summary)


async def _seconds_until_due(ctx: Context) -> float:
    poll = ctx.settings.smtp.poll_seconds
    async with ctx.db() as session:
        due = (
            await session.exec(
                select(func.min(OutboxEmail.next_attempt_at))
                .where(OutboxEmail.status == "pending")
            )
        ).one()
    if due is None:
        return poll
    if isinstance(due, str):  # SQLite returns the raw column value from an aggregate
        due = datetime.fromisoformat(due)
    if due.tzinfo is None:
        due = due.replace(tzinfo=ctx.clock().tzinfo)
    return max(0.5, min(poll, (due - ctx.clock()).total_seconds()))


async def work(ctx: Context) -> None:
    """The worker loop: send what is due, wait for a wake-up."""
    wakeup = ctx.wakeups.setdefault(WAKEUP, asyncio.Event())
    while True:
        wakeup.clear()
        delay = ctx.settings.smtp.poll_seconds
        try:
            while await run_once(ctx) == BATCH:
                pass
            delay = await _seconds_until_due(ctx)
        except Exception:
            log.exception("email worker pass failed; trying again later")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await wakeup.wait()


@contextlib.asynccontextmanager
async def running(ctx: Context) -> AsyncIterator[None]:
    """Run the worker for the lifetime of the app (see app.py's cleanup_ctx)."""
    if ctx.settings.smtp.host:
        log.info("emails are sent through %s:%d (%s)", ctx.settings.smtp.host,
                 ctx.settings.smtp.effective_port, ctx.settings.smtp.security)
    else:
        log.warning("no SMTP host is configured: emails are written to the maildir %s",
                    mailer.maildir_path(ctx.settings).resolve())
    async with background(work(ctx), "email-outbox"):
        yield


async def list_emails(ctx: Context, status: str | None, limit: int) -> list[dict[str, Any]]:
    """For admins: the outbox without bodies, newest first (failures stay visible here; an
    email that was sent or failed for good no longer has its address or subject)."""
    query = select(OutboxEmail).order_by(col(OutboxEmail.created_at).desc()).limit(limit)
    if status:
        query = query.where(OutboxEmail.status == status)
    async with ctx.db() as session:
        rows = (await session.exec(query)).all()
    return [email_view(row) for row in rows]


def email_view(row: OutboxEmail) -> dict[str, Any]:
    return {
        "id": row.id, "kind": row.kind, "to": row.to_address, "subject": row.subject,
        "status": row.status, "attempts": row.attempts, "last_error": row.last_error,
        "created_at": iso(row.created_at), "next_attempt_at": iso(row.next_attempt_at),
        "sent_at": iso(row.sent_at), "conversation_id": row.conversation_id,
        "offline_message_id": row.offline_message_id,
    }
