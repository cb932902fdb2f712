"""Socket.IO: the /visitor and /agent namespaces of the wire contract.

Where things live is described in docs/architecture.md; the events themselves in
docs/protocol.md. Handlers here validate and authorise, then call chatserver.services.
"""

from __future__ import annotations

import socketio

from chatserver.realtime import tuning
from chatserver.realtime.packets import ClientPacket
from chatserver.realtime.relay import ObservedManager, RedisRelay
from chatserver.settings import Settings


def create_socket_server(settings: Settings) -> socketio.AsyncServer:
    manager: ObservedManager = ObservedManager()
    if settings.redis_url:
        # Carries emits (and room membership effects) between the nodes of one site.
        # RedisRelay: says whether it is subscribed and resubscribes quickly (relay.py).
        manager = RedisRelay(settings.redis_url, channel="chatserver")
    sio = socketio.AsyncServer(
        async_mode="aiohttp",
        client_manager=manager,
        cors_allowed_origins=settings.socket_origins,
        max_http_buffer_size=settings.limits.max_event_bytes,
        serializer=ClientPacket,  # lifecycle names are refused as events: packets.py
        logger=False,
        engineio_logger=False,
        json=tuning.json_module(settings.performance),  # orjson when installed: tuning.py
    )
    tuning.apply_to_server(sio, settings.performance)  # no WebSocket deflate by default
    return sio
