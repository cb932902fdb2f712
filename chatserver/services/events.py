"""Where services send what clients must hear. Rooms are named here and nowhere else.

Visitors of a conversation share the room `conv:ID` in /visitor; each agent's sockets share
`agent:ID` in /agent, and all agents are in `agents`. Agent sockets that take the queue as
deltas (`queue_version` 2) are also in `queue-updates`; the others get the whole queue from their
own node (realtime/queue_feed.py). With a Redis manager these emits reach sockets on every node.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import socketio

log = logging.getLogger(__name__)

VISITOR_NS = "/visitor"
AGENT_NS = "/agent"
ALL_AGENTS_ROOM = "agents"
QUEUE_UPDATES_ROOM = "queue-updates"
QUEUE_UPDATE = "queue_update"


def conversation_room(conversation_id: str) -> str:
    return f"conv:{conversation_id}"


def agent_room(agent_id: int) -> str:
    return f"agent:{agent_id}"


class EventBus:
    def __init__(self, sio: socketio.AsyncServer | None) -> None:
        self._sio = sio
        # Queue changes not sent yet (`queue_update`): conversations by id, removed ids.
        self._added: dict[str, Any] = {}
        self._removed: dict[str, None] = {}
        self._sending: asyncio.Task[None] | None = None

    async def _emit(self, event: str, data: Any, room: str | None, namespace: str,
                    skip_sid: str | None = None) -> None:
        if self._sio is not None:
            await self._sio.emit(event, data, to=room, namespace=namespace, skip_sid=skip_sid)

    async def to_visitors_of(self, conversation_id: str, event: str, data: Any,
                             skip_sid: str | None = None) -> None:
        await self._emit(event, data, conversation_room(conversation_id), VISITOR_NS, skip_sid)

    async def to_agent(self, agent_id: int, event: str, data: Any,
                       skip_sid: str | None = None) -> None:
        await self._emit(event, data, agent_room(agent_id), AGENT_NS, skip_sid)

    async def to_all_agents(self, event: str, data: Any) -> None:
        await self._emit(event, data, ALL_AGENTS_ROOM, AGENT_NS)

    async def queue_update(self, delta: dict[str, Any]) -> None:
        """`{"added": [...], "removed": [...]}` to every agent socket that takes deltas.

        Sent at the event loop's next turn, together with the changes made in the same turn:
        under a burst many opens and claims finish in one turn (a round of SQLite writes, or
        PostgreSQL's answers read together), and each delta is a packet to every agent socket,
        so one delta per turn instead of one per change saves many of them (half in the
        benchmark's burst, docs/performance.md). An id added and removed within the turn is
        only removed. A delta may now reach an agent after another event sent in the same turn,
        as deltas relayed from two nodes already could; clients keep the queue by `queued_at`
        and ignore an `added` for an id they saw removed (docs/protocol.md)."""
        if self._sio is None:
            return
        for conversation in delta["added"]:
            self._added[conversation["id"]] = conversation
        for conversation_id in delta["removed"]:
            self._added.pop(conversation_id, None)
            self._removed[conversation_id] = None
        if self._sending is None:
            self._sending = asyncio.get_running_loop().create_task(self._send_queue_updates())

    async def _send_queue_updates(self) -> None:
        try:
            while self._added or self._removed:
                delta = {"added": list(self._added.values()), "removed": list(self._removed)}
                self._added, self._removed = {}, {}
                await self._emit(QUEUE_UPDATE, delta, QUEUE_UPDATES_ROOM, AGENT_NS)
        except Exception:
            # The change itself is committed; agents that missed it ask for `queue`.
            log.exception("queue_update was not sent")
        finally:
            self._sending = None

    async def to_all_visitors(self, event: str, data: Any) -> None:
        await self._emit(event, data, None, VISITOR_NS)

    async def to_clients_here(self, event: str, data: Any) -> None:
        """Every socket connected to *this* node, in both namespaces, and no other node's
        (used when this node shuts down)."""
        if self._sio is not None:
            for namespace in (VISITOR_NS, AGENT_NS):
                await self._sio.emit(event, data, namespace=namespace, ignore_queue=True)

    async def join_conversation(self, sid: str, conversation_id: str) -> None:
        """Put a visitor socket of this node in its conversation's room (used when a service
        opens the conversation and speaks in it before the handler returns)."""
        if self._sio is not None:
            await self._sio.enter_room(sid, conversation_room(conversation_id),
                                       namespace=VISITOR_NS)

    async def disconnect_visitors_of(self, conversation_id: str) -> None:
        if self._sio is not None:
            await self._sio.close_room(conversation_room(conversation_id), namespace=VISITOR_NS)
