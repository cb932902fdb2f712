"""Presence rows across nodes: expiry of other nodes' stale rows, and restoring this node's
rows when another node expired them while this node was too slow."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, update
from sqlmodel import col, select

from chatserver.db.models import AgentConnection
from chatserver.keys import AGENTS
from chatserver.services import presence
from tests.helpers import Chat


async def test_a_node_restores_rows_that_another_node_expired(chat: Chat) -> None:
    agent = await chat.agent("anna@example.fi", "Anna")
    watcher = await chat.visitor()
    assert watcher.welcome["online"] is True
    namespace = chat.app[AGENTS]
    # Another node, seeing no heartbeat for too long, deleted this node's row.
    async with chat.ctx.db.begin() as session:
        await session.exec(delete(AgentConnection))
    assert await presence.is_online(chat.ctx) is False
    await presence.heartbeat(chat.ctx, namespace.sids())
    async with chat.ctx.db() as session:
        rows = (await session.exec(select(AgentConnection))).all()
    assert [(r.sid, r.agent_id) for r in rows] == [
        (sid, agent.welcome["agent"]["id"]) for sid in namespace.sids()]
    assert await presence.is_online(chat.ctx) is True
    online = await agent.next("agents", where=lambda a: a["online"])
    assert online["online"] == [{"id": agent.welcome["agent"]["id"], "name": "Anna"}]


async def test_stale_rows_of_a_dead_node_expire(chat: Chat) -> None:
    await chat.agent("anna@example.fi", "Anna")
    watcher = await chat.visitor()
    # The row now looks like a dead node's: not refreshed for longer than the timeout.
    old = chat.ctx.clock() - timedelta(seconds=chat.settings.presence.timeout_seconds + 1)
    async with chat.ctx.db.begin() as session:
        await session.exec(update(AgentConnection).values(heartbeat_at=old, node_id="dead"))
    await presence.heartbeat(chat.ctx, {})
    assert await watcher.next("availability") == {"online": False}
    async with chat.ctx.db() as session:
        assert (await session.exec(select(AgentConnection).where(
            col(AgentConnection.node_id) == "dead"))).all() == []
