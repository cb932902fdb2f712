"""The socket.io managers: `ObservedManager` delivers this node's emits and tells listeners of
chosen events as it does (realtime/queue_feed.py turns queue deltas into whole queues for the
agent sockets of this node that want those); `RedisRelay`, one of those that also carries emits
between nodes, made to say whether it is relaying and to come back quickly after Redis does
(docs/deployment.md, "Failure behaviour").

python-socketio's AsyncRedisManager resubscribes after an error with a back-off that doubles up
to 60 s, so a node could go on for a minute after Redis returned without hearing the other
nodes, and nothing showed it. Here the back-off stops at RETRY_MAX_SECONDS, `listening` tells
`/readyz` whether the subscription is live, and a publish that cannot reach Redis gives up
after PUBLISH_SECONDS instead of holding the event that emitted it (the message is stored
either way; the other nodes' clients get it from `history`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import socketio
from engineio import packet as eio_packet
from socketio import packet as socketio_packet

log = logging.getLogger(__name__)

RETRY_FIRST_SECONDS = 0.2
RETRY_MAX_SECONDS = 2.0
PUBLISH_SECONDS = 3.0


Listener = Callable[[Any], None]


class ObservedManager(socketio.AsyncManager):
    """python-socketio's delivery to this node's sockets, calling listeners of an event first.

    Every emit reaches `emit` here on every node that delivers it, whether it was emitted on
    this node or relayed from another (in RedisRelay's method order this class comes right
    before AsyncManager, so the pub/sub manager's local delivery goes through it too).
    """

    def __init__(self) -> None:
        super().__init__()
        self.listeners: dict[tuple[str, str], list[Listener]] = {}

    def listen(self, namespace: str, event: str, listener: Listener) -> None:
        """Call `listener(data)` (synchronously: it must not block) for each such emit."""
        self.listeners.setdefault((namespace, event), []).append(listener)

    async def emit(self, event: str, data: Any, namespace: str, room: Any = None,
                   skip_sid: Any = None, callback: Any = None, to: Any = None,
                   **kwargs: Any) -> Any:
        for listener in self.listeners.get((namespace, event), ()):
            listener(data)
        if callback is not None or namespace not in self.rooms:
            return await super().emit(event, data, namespace, room=room, skip_sid=skip_sid,
                                      callback=callback, to=to, **kwargs)
        # As AsyncManager.emit, except that it starts a task per recipient and then waits for
        # them all: every emit cost the emitting handler a turn of the event loop, and a claim
        # (four emits) waited four turns, 4-10 ms each under a burst (docs/performance.md). A
        # packet here goes straight into its socket's queue (an unbounded asyncio.Queue, so
        # the put does not wait); each socket's writer task sends it, in order, as before.
        args = list(data) if isinstance(data, tuple) else [] if data is None else [data]
        skip = skip_sid if isinstance(skip_sid, list) else [skip_sid]
        encoded = self.server.packet_class(
            socketio_packet.EVENT, namespace=namespace, data=[event, *args]).encode()
        packets = [eio_packet.Packet(eio_packet.MESSAGE, part)
                   for part in (encoded if isinstance(encoded, list) else [encoded])]
        for sid, eio_sid in self.get_participants(namespace, to or room):
            if sid in skip:
                continue
            for eio_pkt in packets:
                try:
                    await self.server._send_eio_packet(eio_sid, eio_pkt)  # noqa: SLF001
                except Exception:  # noqa: BLE001 - one gone socket must not stop the rest
                    log.debug("a packet to %s was not sent", sid, exc_info=True)
        return None


class RedisRelay(socketio.AsyncRedisManager, ObservedManager):
    def __init__(self, url: str, channel: str) -> None:
        # AsyncRedisManager's __init__ (it reaches ObservedManager's through super()).
        socketio.AsyncRedisManager.__init__(
            self, url, channel=channel, redis_options={"socket_connect_timeout": PUBLISH_SECONDS})
        self.listening = False

    async def _publish(self, data: Any) -> Any:
        try:
            async with asyncio.timeout(PUBLISH_SECONDS):
                return await super()._publish(data)
        except TimeoutError:
            self.connected = False
            log.warning("Redis: a publish timed out; other nodes miss this event")
            return None

    async def _redis_listen_with_retries(self) -> AsyncIterator[Any]:
        """As python-socketio's, with a short back-off and the `listening` flag."""
        retry = RETRY_FIRST_SECONDS
        while True:
            try:
                old = self.pubsub
                self._redis_connect()
                if old is not None:
                    with contextlib.suppress(Exception):
                        await old.aclose()
                await self.pubsub.subscribe(self.channel)
                if not self.listening:
                    log.info("Redis: subscribed; relaying events between nodes")
                self.listening, retry = True, RETRY_FIRST_SECONDS
                async for message in self.pubsub.listen():
                    yield message
            except asyncio.CancelledError:
                self.listening = False
                raise
            except Exception as exc:  # noqa: BLE001 - any failure means: reconnect
                if self.listening:
                    log.warning("Redis: lost the subscription (%s); retrying",
                                type(exc).__name__)
                self.listening = False
                await asyncio.sleep(retry)
                retry = min(retry * 2, RETRY_MAX_SECONDS)
