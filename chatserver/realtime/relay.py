"""The Redis manager that carries emits between nodes, made to say whether it is relaying and
to come back quickly after Redis does (docs/deployment.md, "Failure behaviour").

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
from collections.abc import AsyncIterator
from typing import Any

import socketio

log = logging.getLogger(__name__)

RETRY_FIRST_SECONDS = 0.2
RETRY_MAX_SECONDS = 2.0
PUBLISH_SECONDS = 3.0


class RedisRelay(socketio.AsyncRedisManager):
    def __init__(self, url: str, channel: str) -> None:
        super().__init__(url, channel=channel,
                         redis_options={"socket_connect_timeout": PUBLISH_SECONDS})
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
