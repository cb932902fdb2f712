"""The queue agents see and what each side is told about it: the waiting conversations, an
agent's own, a visitor's place in line, and the changes pushed when any of that moves.

A change is pushed as a delta, proportional to the change and not to the queue
(docs/performance.md): `queue_update` `{"added": [...], "removed": [...]}` to the agents, and a
new `queue_position` only to the visitors who moved, at most twice a second (`Places`).
The whole queue is read only for an agent's `welcome` and when an agent asks for it.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from chatserver.db import trip
from chatserver.db.models import Agent, Conversation
from chatserver.db.rows import AnyConversation
from chatserver.services.context import Context
from chatserver.services.views import agent_conversation_view, visitor_conversation_view

log = logging.getLogger(__name__)


async def visitor_view(ctx: Context, conversation: Conversation) -> dict[str, Any]:
    async with ctx.read() as session:
        agent = await session.get(Agent, conversation.agent_id) if conversation.agent_id else None
        position = await position_of(session, conversation)
    return visitor_conversation_view(conversation, agent, position)


async def position_of(session: AsyncSession, conversation: Conversation) -> int | None:
    if conversation.state != "queued" or conversation.queued_at is None:
        return None
    ahead = await (await session.connection()).execute(
        AHEAD.clause, {"queued_at": conversation.queued_at})
    return int(ahead.scalar_one()) + 1


_CONVERSATION = Conversation.__table__  # type: ignore[attr-defined]
AHEAD = trip.Statement(
    select(func.count()).select_from(_CONVERSATION)
    .where(_CONVERSATION.c.state == "queued")
    .where(_CONVERSATION.c.queued_at < bindparam("queued_at"))
)
_RANKED = (
    select(_CONVERSATION.c.id, _CONVERSATION.c.queued_at,
           func.rank().over(order_by=_CONVERSATION.c.queued_at).label("place"))
    .where(_CONVERSATION.c.state == "queued")
    .subquery()
)


def place_in(runner: trip.Runner, queued_at: datetime) -> int:
    """The place in line of a conversation queued at `queued_at`: 1 + those queued before."""
    return int(runner.rows(AHEAD, {"queued_at": queued_at})[0][0]) + 1


async def waiting(ctx: Context) -> list[dict[str, Any]]:
    """The whole queue, oldest first (an agent's `welcome`, or when an agent asks)."""
    async with ctx.read() as session:
        rows = (
            await session.exec(
                select(Conversation)
                .where(Conversation.state == "queued")
                .order_by(col(Conversation.queued_at))
            )
        ).all()
    return [agent_conversation_view(c) for c in rows]


async def assigned(ctx: Context, agent: Agent) -> list[dict[str, Any]]:
    async with ctx.read() as session:
        rows = (
            await session.exec(
                select(Conversation)
                .where(Conversation.agent_id == agent.id)
                .where(Conversation.state == "active")
                .order_by(col(Conversation.claimed_at))
            )
        ).all()
    return [agent_conversation_view(c, agent) for c in rows]


# Every queued conversation's place in line, counted as `place_in` counts it (`rank()` = 1 +
# those queued before).
_PLACES = trip.Statement(select(_RANKED.c.id, _RANKED.c.place).order_by(_RANKED.c.place))


async def joined(ctx: Context, conversation: AnyConversation, place: int | None = None) -> None:
    """A conversation joined the end of the queue. Nobody ahead of it moved, so only the
    agents hear of it; its visitor was told `place` (when known) in the answer."""
    if place is not None:
        _places(ctx).sent[conversation.id] = place
    await ctx.bus.queue_update({"added": [agent_conversation_view(conversation)],
                                "removed": []})


async def left(ctx: Context, conversation_ids: list[str]) -> None:
    """Conversations left the queue (claimed, closed, erased): tell the agents, and the
    visitors behind them their new places soon (`Places`)."""
    if not conversation_ids:
        return
    await ctx.bus.queue_update({"added": [], "removed": conversation_ids})
    _places(ctx).soon()


class Places:
    """Sends queued visitors their new place in line after others left the queue, at most
    every PLACES_SECONDS per node, and only to those whose place changed since this node last
    told them.

    Sending each change at once cost O(queue) emits per claim: a burst of N visitors claimed
    one by one cost N²/2 (docs/performance.md). The first change after a quiet spell is sent at
    once. A place only ever falls while a conversation waits, so a node that missed another
    node's emit sends the same value again at worst, never a stale one.
    """

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.sent: dict[str, int] = {}
        self.last = 0.0
        self.task: asyncio.Task[None] | None = None

    def soon(self) -> None:
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._send())

    async def _send(self) -> None:
        try:
            wait = self.last + PLACES_SECONDS - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self.task = None  # a change from now on schedules the next round
            self.last = time.monotonic()
            places = {str(cid): int(place) for cid, place in
                      await trip.read(self.ctx.engine, lambda runner: runner.rows(_PLACES))}
            changed = [(cid, place) for cid, place in places.items()
                       if self.sent.get(cid) != place]
            self.sent = places  # conversations that left the queue are forgotten here
            for conversation_id, place in changed:
                await self.ctx.bus.to_visitors_of(
                    conversation_id, "conversation",
                    {"id": conversation_id, "state": "queued", "queue_position": place})
        except Exception:
            log.exception("queue places were not sent")
        finally:
            if self.task is asyncio.current_task():
                self.task = None


PLACES_SECONDS = 0.5
_BY_NODE: weakref.WeakKeyDictionary[Any, Places] = weakref.WeakKeyDictionary()


def _places(ctx: Context) -> Places:
    places = _BY_NODE.get(ctx.db)
    if places is None:
        places = _BY_NODE[ctx.db] = Places(ctx)
    return places
