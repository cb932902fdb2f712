"""Agent presence across nodes: each live agent socket is a row refreshed by its node's
heartbeat. An agent is available when they chose "online" and one of their rows is fresh, so
the agents of a crashed node go offline once its rows are older than presence.timeout_seconds.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, delete, exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col
from sqlmodel import select as model_select

from chatserver.db import trip
from chatserver.db.models import Agent, AgentConnection
from chatserver.errors import Code, ServiceError
from chatserver.i18n import gettext_noop as _
from chatserver.services import hours
from chatserver.services.context import Context

log = logging.getLogger(__name__)
# Where the nodes of one site keep the availability they last announced (with Redis only).
AVAILABILITY_KEY = "chatserver:availability"


async def available_agents(ctx: Context) -> list[Agent]:
    fresh_after = ctx.clock() - timedelta(seconds=ctx.settings.presence.timeout_seconds)
    async with ctx.read() as session:
        rows = await session.exec(
            model_select(Agent)
            .where(Agent.presence == "online")
            .where(col(Agent.disabled).is_(False))
            .where(
                col(Agent.id).in_(
                    model_select(AgentConnection.agent_id).where(
                        col(AgentConnection.heartbeat_at) > fresh_after
                    )
                )
            )
            .order_by(col(Agent.display_name))
        )
        return list(rows.all())


_AGENT = Agent.__table__  # type: ignore[attr-defined]
_CONNECTION = AgentConnection.__table__  # type: ignore[attr-defined]
# As available_agents, asking only whether there is one: every visitor's welcome asks.
_ANYONE = trip.Statement(
    select(exists().where(_AGENT.c.presence == "online").where(_AGENT.c.disabled.is_(False))
           .where(_AGENT.c.id.in_(select(_CONNECTION.c.agent_id)
                                  .where(_CONNECTION.c.heartbeat_at > bindparam("fresh_after")))))
)


async def is_online(ctx: Context) -> bool:
    """Whether a visitor can reach a person now: within the business hours (if a schedule is
    set, services/hours.py) and with an agent online."""
    if not hours.open_now(ctx):
        return False
    fresh_after = ctx.clock() - timedelta(seconds=ctx.settings.presence.timeout_seconds)
    rows = await trip.read(ctx.engine,
                           lambda runner: runner.rows(_ANYONE, {"fresh_after": fresh_after}))
    return bool(rows[0][0])


async def availability(ctx: Context) -> tuple[bool, dict[str, Any], str]:
    """Whether a person can be reached, the `availability` payload, and the key by which
    nodes tell a change (the payload, compactly). The business hours are read afresh: a node
    that still had an older schedule would otherwise announce the old state back."""
    await hours.load(ctx)
    online = await is_online(ctx)
    payload: dict[str, Any] = {"online": online}
    if not online and (back := hours.back_at_all(ctx)) is not None:
        payload["back_at"] = back  # closed by the business hours: when the team is back
    key = "1" if online else "0" + json.dumps(payload.get("back_at"), sort_keys=True)
    return online, payload, key


async def remember_availability(ctx: Context) -> None:
    """At start-up: what visitors are told from now on changes from this."""
    ctx.announced_online, _payload, ctx.announced_availability = await availability(ctx)


async def publish_availability(ctx: Context) -> None:
    """Tell every visitor when the first agent comes online or the last one leaves.

    With Redis the last announced value is shared by all nodes (one atomic SET ... GET), so a
    change is announced once, by whichever node sees it first, and every node's visitors get it
    through the socket.io Redis manager. Without Redis the node remembers it itself. Each
    heartbeat calls this again, so a change made on another node (or the expiry of a crashed
    node's agents) is announced within presence.heartbeat_seconds at the latest.
    """
    online, payload, key = await availability(ctx)
    changed = key != ctx.announced_availability
    if ctx.redis is not None:
        try:
            previous = await ctx.redis.set(AVAILABILITY_KEY, key, get=True)
        except Exception:
            log.warning("presence: Redis unreachable; announcing availability from this node")
        else:
            if previous is not None:
                changed = previous != key.encode()
    ctx.announced_online, ctx.announced_availability = online, key
    if changed:
        await ctx.bus.to_all_visitors("availability", payload)


async def publish_agents(ctx: Context) -> None:
    agents = await available_agents(ctx)
    await ctx.bus.to_all_agents(
        "agents", {"online": [{"id": a.id, "name": a.display_name} for a in agents]}
    )


async def connected(ctx: Context, agent: Agent, sid: str) -> None:
    now = ctx.clock()
    try:
        async with ctx.db.begin() as session:
            session.add(AgentConnection(sid=sid, agent_id=agent.id or 0,
                                        node_id=ctx.settings.node_id, connected_at=now,
                                        heartbeat_at=now))
    except IntegrityError:
        pass  # this node's heartbeat restored the row first (see heartbeat)
    await publish_availability(ctx)
    await publish_agents(ctx)


async def disconnected(ctx: Context, sid: str) -> None:
    async with ctx.db.begin() as session:
        await session.exec(delete(AgentConnection).where(col(AgentConnection.sid) == sid))
    await publish_availability(ctx)
    await publish_agents(ctx)


async def set_status(ctx: Context, agent: Agent, status: str) -> None:
    if status not in ("online", "away"):
        raise ServiceError(Code.INVALID_INPUT, _("The status must be online or away."))
    async with ctx.db.begin() as session:
        await session.exec(update(Agent).where(col(Agent.id) == agent.id).values(presence=status))
    agent.presence = status
    await publish_availability(ctx)
    await publish_agents(ctx)


async def heartbeat(ctx: Context, sids: Mapping[str, int] | Collection[str]) -> None:
    """Refresh this node's connections, drop everybody's stale ones, announce any change.

    With `sids` as {sid: agent id}, a live connection whose row is gone is written again: when
    this node was too slow for presence.timeout_seconds (a long pause, a database failover),
    another node expired its agents, and they come back online here instead of staying away
    until they reconnect.
    """
    now = ctx.clock()
    stale_before = now - timedelta(seconds=ctx.settings.presence.timeout_seconds)
    live = dict(sids) if isinstance(sids, Mapping) else {}
    restored = 0
    async with ctx.db.begin() as session:
        if sids:
            await session.exec(
                update(AgentConnection)
                .where(col(AgentConnection.sid).in_(list(sids)))
                .values(heartbeat_at=now)
            )
        if live:
            present = set((await session.exec(
                model_select(AgentConnection.sid).where(col(AgentConnection.sid).in_(list(live)))
            )).all())
            for sid in sorted(live.keys() - present):
                try:
                    async with session.begin_nested():
                        session.add(AgentConnection(sid=sid, agent_id=live[sid],
                                                    node_id=ctx.settings.node_id,
                                                    connected_at=now, heartbeat_at=now))
                except IntegrityError:
                    continue  # `connected` wrote it meanwhile
                restored += 1
        expired = await session.exec(
            delete(AgentConnection).where(col(AgentConnection.heartbeat_at) < stale_before)
        )
    await publish_availability(ctx)
    if expired.rowcount or restored:
        # A node died with agents on it, or this node's agents are back: the consoles' list of
        # who is online changed.
        await publish_agents(ctx)


async def forget_node(ctx: Context) -> None:
    """At shutdown: this node's connections are gone; tell visitors and agents at once."""
    async with ctx.db.begin() as session:
        await session.exec(
            delete(AgentConnection).where(col(AgentConnection.node_id) == ctx.settings.node_id)
        )
    await publish_availability(ctx)
    await publish_agents(ctx)


SHUTDOWN_EVENT = "shutdown"


async def announce_shutdown(ctx: Context) -> None:
    """This node is going away: `shutdown` `{"reconnect": true}` to its own sockets only. The
    node then closes their connections at the transport level, so a socket.io client reconnects
    by itself, through the proxy, to a node that is still up, and resumes as after any
    reconnect (visitors with their token and `history` after the last seq)."""
    await ctx.bus.to_clients_here(SHUTDOWN_EVENT, {"reconnect": True})
