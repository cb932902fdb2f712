"""The whole queue for the agent sockets of this node that do not take deltas.

Since queue_version 2 (docs/protocol.md) a change of the queue reaches agents as a
`queue_update` delta. Consoles and API clients written before it (they connect without
`queue_version`) still get a `queue` event with the whole queue after each change, for one
release. Each node serves its own such sockets: it hears every delta as it delivers it (the
manager's listener, relay.py), on whichever node the change happened, and reads the queue once
for all of them. Changes that come while a read is under way are answered by one more read,
so a burst of changes costs a few reads, not one per change; nothing is read while no such
socket is connected here.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import socketio

from chatserver.services import queue
from chatserver.services.context import Context
from chatserver.services.events import AGENT_NS

log = logging.getLogger(__name__)
SNAPSHOT_ROOM = "queue-snapshots"  # this node's agent sockets without queue_version 2


class SnapshotFeed:
    def __init__(self, ctx: Context, server: socketio.AsyncServer) -> None:
        self.ctx = ctx
        self.server = server
        self.sids: set[str] = set()
        self._stale = False
        self._task: asyncio.Task[None] | None = None

    async def add(self, sid: str) -> None:
        self.sids.add(sid)
        await self.server.enter_room(sid, SNAPSHOT_ROOM, namespace=AGENT_NS)

    def remove(self, sid: str) -> None:
        self.sids.discard(sid)

    def changed(self, _delta: Any) -> None:
        """The manager's listener of `queue_update`: send the queue once more, soon."""
        if not self.sids:
            return
        self._stale = True
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._send())

    async def _send(self) -> None:
        try:
            while self._stale and self.sids:
                self._stale = False
                conversations = await queue.waiting(self.ctx)
                # ignore_queue: this node's sockets only; every node sends its own.
                await self.server.emit("queue", {"conversations": conversations},
                                       to=SNAPSHOT_ROOM, namespace=AGENT_NS, ignore_queue=True)
        except Exception:
            log.exception("the queue for consoles without queue_version 2 was not sent")
        finally:
            self._task = None
