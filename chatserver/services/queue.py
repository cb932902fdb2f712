"""The queue agents see and what each side is told about it: the waiting conversations, an
agent's own, a visitor's place in line, and the pushes when any of that changes."""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from typing import Any

from sqlalchemy import func
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
    ahead = await session.exec(
        select(func.count())
        .select_from(Conversation)
        .where(Conversation.state == "queued")
        .where(col(Conversation.queued_at) < conversation.queued_at)
    )
    return int(ahead.one()) + 1


async def waiting(ctx: Context) -> list[dict[str, Any]]:
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


async def publish(ctx: Context) -> None:
    """Push the queue to every agent, and each queued visitor's new position to them."""
    conversations = await waiting(ctx)
    await ctx.bus.to_all_agents("queue", {"conversations": conversations})
    # Only visitors whose position moved: appending to the queue moves nobody.
    for conversation_id, position in _changed_positions(ctx, conversations):
        await ctx.bus.to_visitors_of(
            conversation_id, "conversation",
            {"id": conversation_id, "state": "queued", "queue_position": position},
        )


# Which queued visitors need to hear a new queue position (docs/performance.md).
#
# A new conversation joins the end of the queue, so nobody ahead of it moves; only a claim or a
# close moves the ones behind. Sending every queued visitor its position on every change made
# opening N conversations cost N² emits. This remembers, per node, the position last sent for each
# queued conversation and yields only the ones that changed. Positions only ever fall while a
# conversation waits, so a node that missed another node's emit sends the same value again at
# worst, never a stale one.
_sent: weakref.WeakKeyDictionary[Any, dict[str, int]] = weakref.WeakKeyDictionary()


def _changed_positions(ctx: Context, queued: list[dict[str, Any]]) -> Iterator[tuple[str, int]]:
    """(conversation id, position) for each queued conversation whose position is new."""
    previous = _sent.get(ctx.db, {})
    current = {item["id"]: position for position, item in enumerate(queued, start=1)}
    _sent[ctx.db] = current  # conversations that left the queue are forgotten here
    for conversation_id, position in current.items():
        if previous.get(conversation_id) != position:
            yield conversation_id, position
