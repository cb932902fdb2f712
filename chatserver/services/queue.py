"""The queue agents see and what each side is told about it: the waiting conversations, an
agent's own, a visitor's place in line, and the changes pushed when any of that moves.

A change is pushed as a delta, proportional to the change and not to the queue
(docs/performance.md): `queue_update` `{"added": [...], "removed": [...]}` to the agents, and a
new `queue_position` only to the visitors who moved (those behind a conversation that left).
The whole queue is read only for an agent's `welcome` and when an agent asks for it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from chatserver.db.models import Agent, Conversation
from chatserver.services.context import Context
from chatserver.services.views import agent_conversation_view, visitor_conversation_view


async def visitor_view(ctx: Context, conversation: Conversation) -> dict[str, Any]:
    async with ctx.db() as session:
        agent = await session.get(Agent, conversation.agent_id) if conversation.agent_id else None
        position = await position_of(session, conversation)
    return visitor_conversation_view(conversation, agent, position)


async def position_of(session: AsyncSession, conversation: Conversation) -> int | None:
    if conversation.state != "queued" or conversation.queued_at is None:
        return None
    return await place_of(await session.connection(), conversation.queued_at)


_CONVERSATION = Conversation.__table__  # type: ignore[attr-defined]
_AHEAD = (
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


async def place_of(connection: AsyncConnection, queued_at: datetime) -> int:
    """The place in line of a conversation queued at `queued_at`: 1 + those queued before."""
    ahead = await connection.execute(_AHEAD, {"queued_at": queued_at})
    return int(ahead.scalar_one()) + 1


async def waiting(ctx: Context) -> list[dict[str, Any]]:
    """The whole queue, oldest first (an agent's `welcome`, or when an agent asks)."""
    async with ctx.db() as session:
        rows = (
            await session.exec(
                select(Conversation)
                .where(Conversation.state == "queued")
                .order_by(col(Conversation.queued_at))
            )
        ).all()
    return [agent_conversation_view(c) for c in rows]


async def assigned(ctx: Context, agent: Agent) -> list[dict[str, Any]]:
    async with ctx.db() as session:
        rows = (
            await session.exec(
                select(Conversation)
                .where(Conversation.agent_id == agent.id)
                .where(Conversation.state == "active")
                .order_by(col(Conversation.claimed_at))
            )
        ).all()
    return [agent_conversation_view(c, agent) for c in rows]


async def behind(connection: AsyncConnection,
                 queued_at: datetime | None) -> list[tuple[str, int]]:
    """(id, place in line) of the queued conversations that joined after `queued_at` (all of
    them when None): the ones that move up when a conversation queued then leaves. One
    statement; the place is counted as `place_of` counts it (`rank()` = 1 + those ahead)."""
    query = select(_RANKED.c.id, _RANKED.c.place)
    if queued_at is not None:
        query = query.where(_RANKED.c.queued_at > queued_at)
    rows = await connection.execute(query.order_by(_RANKED.c.place))
    return [(str(conversation_id), int(place)) for conversation_id, place in rows]


async def joined(ctx: Context, conversation: Conversation) -> None:
    """A conversation joined the end of the queue. Nobody ahead of it moved, so only the
    agents hear of it."""
    await ctx.bus.queue_update({"added": [agent_conversation_view(conversation)],
                                "removed": []})


async def left(ctx: Context, conversation_ids: list[str], queued_at: datetime | None,
               moved: list[tuple[str, int]] | None = None) -> None:
    """Conversations left the queue (claimed, closed, erased); the earliest of them had joined
    it at `queued_at`. `moved` is `behind(queued_at)` read in the transaction that removed
    them; without it, it is read now."""
    if not conversation_ids:
        return
    await ctx.bus.queue_update({"added": [], "removed": conversation_ids})
    if moved is None:
        async with ctx.engine.connect() as connection:
            moved = await behind(connection, queued_at)
    for conversation_id, place in moved:
        await ctx.bus.to_visitors_of(
            conversation_id, "conversation",
            {"id": conversation_id, "state": "queued", "queue_position": place},
        )
