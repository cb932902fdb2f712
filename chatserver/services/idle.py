"""Closing conversations nobody has written in for `chat.idle_close_minutes` (docs/protocol.md).

A worker of the chat core: each node looks every `chat.idle_check_seconds` (or when woken) for
open conversations with no message, hand-off or claim in that time, and closes them through
routing.close, exactly as if the visitor had; what hangs on a close (the transcript email) runs
through `ctx.on_close`. Two nodes closing the same conversation is harmless: closing twice is a
no-op.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

from sqlmodel import col, or_, select

from chatserver.db.models import Conversation
from chatserver.errors import ServiceError
from chatserver.services import routing
from chatserver.services.background import background
from chatserver.services.context import Context
from chatserver.services.conversations import OPEN_STATES

log = logging.getLogger(__name__)
WAKEUP = "idle"


def wake(ctx: Context) -> None:
    """Look now instead of at the next interval (tests move the clock and wake the worker)."""
    if (event := ctx.wakeups.get(WAKEUP)) is not None:
        event.set()


async def close_idle(ctx: Context, limit: int = 100) -> int:
    """Close up to `limit` open conversations idle for chat.idle_close_minutes."""
    minutes = ctx.settings.chat.idle_close_minutes
    if minutes <= 0:
        return 0
    cutoff = ctx.clock() - timedelta(minutes=minutes)
    async with ctx.db() as session:
        ids = (
            await session.exec(
                select(Conversation.id)
                .where(col(Conversation.state).in_(OPEN_STATES))
                .where(col(Conversation.last_activity_at) < cutoff)
                .where(or_(col(Conversation.queued_at).is_(None),
                           col(Conversation.queued_at) < cutoff))
                .where(or_(col(Conversation.claimed_at).is_(None),
                           col(Conversation.claimed_at) < cutoff))
                .limit(limit)
            )
        ).all()
    closed = 0
    for conversation_id in ids:
        try:
            await routing.close(ctx, conversation_id)
            closed += 1
        except ServiceError:
            continue  # erased or closed meanwhile
    if closed:
        log.info("closed %d idle conversation(s)", closed)
    return closed


async def work(ctx: Context) -> None:
    wakeup = ctx.wakeups.setdefault(WAKEUP, asyncio.Event())
    while True:
        wakeup.clear()
        try:
            while await close_idle(ctx) == 100:
                pass
        except Exception:
            log.exception("closing idle conversations failed; trying again later")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(ctx.settings.chat.idle_check_seconds):
                await wakeup.wait()


@contextlib.asynccontextmanager
async def running(ctx: Context) -> AsyncIterator[None]:
    """Run the worker for the lifetime of the app (app.py's cleanup_ctx)."""
    async with background(work(ctx), "idle-conversations"):
        yield
