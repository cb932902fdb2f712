"""The life of one node's socket server: the Redis manager's start and clean close, and the
graceful shutdown (see docs/deployment.md).

aiohttp's order on SIGTERM is: stop listening, run `on_shutdown` (here: `drain`), wait for
HTTP handlers, then the `cleanup_ctx` teardowns in reverse order (here: presence heartbeat,
then `socket_lifetime`, then the database).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import redis.asyncio
import socketio
from aiohttp import web

from chatserver.keys import AGENTS, CONTEXT, SIO, VISITORS
from chatserver.services import presence

log = logging.getLogger(__name__)

# How long a shutting-down node waits for the events it is handling to finish.
DRAIN_SECONDS = 10.0
# How long start-up waits for the Redis subscription before going on without it.
SUBSCRIBE_SECONDS = 5.0


async def socket_lifetime(app: web.Application) -> AsyncIterator[None]:
    """With Redis: subscribe before serving (so this node hears every other node's emits from
    its first client on) and give services a Redis client; at the end close both cleanly."""
    sio, ctx = app[SIO], app[CONTEXT]
    manager = sio.manager
    if isinstance(manager, socketio.AsyncRedisManager):
        ctx.redis = redis.asyncio.Redis.from_url(ctx.settings.redis_url)
        sio.manager_initialized = True
        manager.initialize()
        if not await _subscribed(manager, ctx.redis):
            log.warning("Redis: not subscribed after %.0f s; emits from other nodes may be "
                        "missed until it is", SUBSCRIBE_SECONDS)
    try:
        yield
    finally:
        await sio.shutdown()
        if isinstance(manager, socketio.AsyncRedisManager):
            await _close_manager(manager)
        if ctx.redis is not None:
            await ctx.redis.aclose()
            ctx.redis = None


async def _subscribed(manager: socketio.AsyncRedisManager, client: redis.asyncio.Redis) -> bool:
    deadline = asyncio.get_running_loop().time() + SUBSCRIBE_SECONDS
    while asyncio.get_running_loop().time() < deadline:
        pubsub = manager.pubsub
        if pubsub is not None and pubsub.subscribed:
            # One round trip through Redis after SUBSCRIBE was sent.
            with contextlib.suppress(Exception):
                await client.ping()
            return True
        await asyncio.sleep(0.01)
    return False


async def _close_manager(manager: socketio.AsyncRedisManager) -> None:
    thread = getattr(manager, "thread", None)
    if isinstance(thread, asyncio.Future) and not thread.done():
        thread.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await thread
    with contextlib.suppress(Exception):
        if manager.pubsub is not None:
            await manager.pubsub.aclose()
    with contextlib.suppress(Exception):
        if manager.redis is not None:
            await manager.redis.aclose()
    manager.connected = False


async def drain(app: web.Application) -> None:
    """Graceful shutdown: refuse new connections and events, tell this node's clients, let the
    events in flight commit, then close the connections so clients reconnect elsewhere."""
    ctx, sio = app[CONTEXT], app[SIO]
    namespaces = (app[VISITORS], app[AGENTS])
    for namespace in namespaces:
        namespace.draining = True
    if any(namespace.connections for namespace in namespaces):
        try:
            await presence.announce_shutdown(ctx)
        except Exception:
            log.exception("shutdown: could not tell the clients")
        try:
            async with asyncio.timeout(DRAIN_SECONDS):
                await _idle(namespaces)
        except TimeoutError:
            log.warning("shutdown: events still running after %.0f s", DRAIN_SECONDS)
    try:
        async with asyncio.timeout(DRAIN_SECONDS):
            await _close_sockets(sio)
    except TimeoutError:
        log.warning("shutdown: connections still closing after %.0f s", DRAIN_SECONDS)
    try:
        await presence.forget_node(ctx)  # visitors and agents everywhere hear it now
    except Exception:
        log.exception("shutdown: could not remove this node's presence")


async def _close_sockets(sio: socketio.AsyncServer) -> None:
    """An engine.io-level close, so socket.io clients reconnect by themselves (a socket.io
    "disconnect" would tell them not to). Browsers ignore engine.io's CLOSE packet on a
    websocket, so each socket's writer is ended too: it closes the websocket itself, and a
    pending long-poll returns. Nothing waits for a client to collect its packets (a polling
    client may never come back)."""
    for eio_sid, socket in list(sio.eio.sockets.items()):
        try:
            await socket.close(wait=False, reason=sio.eio.reason.SERVER_DISCONNECT)
        except Exception:
            log.exception("shutdown: closing a connection failed")
        sio.eio.sockets.pop(eio_sid, None)
        await socket.queue.put(None)


async def _idle(namespaces: tuple[socketio.AsyncNamespace, ...]) -> None:
    # Each connection starts its events one at a time under its lock and keeps the pipelined
    # ones it started: settling each one means every event that had started has finished.
    for namespace in namespaces:
        for connection in list(namespace.connections.values()):
            await connection.settled()
