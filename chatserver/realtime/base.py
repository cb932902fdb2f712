"""What both namespaces share: dispatch by an explicit event table, one error shape for every
refusal, a rate limit and an ordering lock per connection.

Events of one connection start one at a time, in the order they came. Most also finish before
the next starts; the namespace's `pipelined` events (an agent's `message`) let the next start
as soon as they have taken their place in the group commit (services/message_batch.py, which
commits in that order), so an agent who sends many messages does not wait a whole commit for
each. Any other event waits until every pipelined one before it has finished, so a `close`
never overtakes the message sent before it.

Handlers stay thin (see docs/architecture.md): validate the payload, check who is asking,
call a service in chatserver.services, return the ack.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import socketio

from chatserver.db.engine import is_busy
from chatserver.errors import Code, ServiceError
from chatserver.i18n import gettext_noop as _
from chatserver.realtime.packets import MALFORMED
from chatserver.realtime.ratelimit import TokenBucket
from chatserver.services import message_batch
from chatserver.services.context import Context

log = logging.getLogger(__name__)

Ack = dict[str, Any] | None


@dataclass(slots=True)
class Connection:
    sid: str
    language: str
    bucket: TokenBucket
    # Events of one connection start one at a time (`lock`), so messages commit in the order
    # they were sent; `pending` are the pipelined events that started and have not finished.
    # Both are made on first use: an idle visitor's connection is ~470 bytes, and these would
    # add ~100 and ~220 (docs/performance.md, the idle scenario).
    _lock: asyncio.Lock | None = field(default=None, repr=False)
    pending: set[asyncio.Task[Any]] | None = None

    @property
    def lock(self) -> asyncio.Lock:
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    async def settled(self) -> None:
        """Returns once every event that had started, pipelined or not, has finished."""
        async with self.lock:
            await self.finish_pending()

    async def finish_pending(self) -> None:
        """Returns once the pipelined events started so far have finished (the caller holds
        `lock`, so no new one starts meanwhile)."""
        if self.pending:
            await asyncio.wait(list(self.pending))


C = TypeVar("C", bound=Connection)
Handler = Callable[[Any, Any], Awaitable[Ack]]


class ChatNamespace(socketio.AsyncNamespace, Generic[C]):
    # Events that let the connection's next event start once they are queued for their commit.
    pipelined: frozenset[str] = frozenset()

    def __init__(self, namespace: str, ctx: Context) -> None:
        super().__init__(namespace)
        self.ctx = ctx
        self.connections: dict[str, C] = {}
        self.handlers: dict[str, Handler] = {}
        # Set when this node shuts down: no new connections, no new events (see lifecycle.py).
        self.draining = False

    def new_bucket(self) -> TokenBucket:
        limits = self.ctx.settings.limits
        return TokenBucket(limits.events_per_second, limits.event_burst)

    def refuse(self, error: ServiceError, language: str, **extra: Any) -> ConnectionRefusedError:
        """A connect_error whose data is `{"code", "message", ...}`.

        The packet also nests the same object under `data`, because socket.io-client builds its
        error from `message` and exposes only the nested `data` as `err.data`.
        """
        data = {**error.body(self.ctx.translator, language), **extra}
        refused = socketio.exceptions.ConnectionRefusedError(data["message"])
        refused.error_args = {**data, "data": data}
        return refused

    async def trigger_event(self, event: str, *args: Any) -> Any:
        if event == "connect":
            if self.draining:
                raise self.refuse(ServiceError(Code.UNAVAILABLE),
                                  self.ctx.settings.default_language)
            sid, environ = args[0], args[1]
            auth = args[2] if len(args) > 2 else None
            try:
                return await self.connect(sid, environ, auth)
            except socketio.exceptions.ConnectionRefusedError:
                raise
            except Exception as error:
                # Refused in the contract's shape, so the client retries (python-socketio
                # would leave it waiting for an answer that never comes).
                self._log_failure("connect", error)
                lang = auth.get("lang") if isinstance(auth, dict) else None
                raise self.refuse(ServiceError(Code.UNAVAILABLE), self.ctx.translator.language(
                    lang if isinstance(lang, str) else None)) from None
        if event == "disconnect":
            connection = self.connections.pop(args[0], None)
            if connection is not None:
                try:
                    await self.disconnected(connection)
                except Exception:
                    log.exception("disconnect handling failed")
            return None
        return await self.dispatch(event, args[0], args[1:])

    async def dispatch(self, event: str, sid: str, args: tuple[Any, ...]) -> Ack:
        connection = self.connections.get(sid)
        language = connection.language if connection else self.ctx.settings.default_language
        try:
            # Before anything else, so unknown or unreadable events cannot flood either.
            if connection is not None and not connection.bucket.take():
                raise ServiceError(Code.RATE_LIMITED)
            if event == MALFORMED:
                raise ServiceError(Code.INVALID_INPUT, _("The event could not be read. Send an "
                                                         "event name and one JSON object."))
            handler = self.handlers.get(event) if isinstance(event, str) else None
            if handler is None:
                raise ServiceError(Code.INVALID_INPUT, _("Unknown event “{event}”."),
                                   event=str(event)[:40])
            if connection is None:
                raise ServiceError(Code.UNAUTHORIZED, _("The connection is not ready yet."))
            if len(args) > 1:
                raise ServiceError(Code.INVALID_INPUT,
                                   _("Send one JSON object with the event."))
            payload = args[0] if args else None
            async with connection.lock:
                if self.draining:
                    raise ServiceError(Code.UNAVAILABLE)
                await self.before_event(connection, event)
                if event not in self.pipelined:
                    await connection.finish_pending()
                    return await handler(connection, payload)
                task = await _start_in_order(connection, handler(connection, payload))
            return await task
        except ServiceError as error:
            return error.ack(self.ctx.translator, language)
        except Exception as error:
            self._log_failure(event if isinstance(event, str) else "?", error)
            return ServiceError(Code.UNAVAILABLE).ack(self.ctx.translator, language)

    @staticmethod
    def _log_failure(event: str, error: Exception) -> None:
        if is_busy(error):  # another process held SQLite's write lock: nothing stored
            log.warning("event %s failed: the database stayed locked", event)
        else:
            log.exception("event %s failed", event, exc_info=error)

    async def before_event(self, connection: C, event: str) -> None:
        """Hook for per-event checks, such as a session that may have ended."""

    async def connect(self, sid: str, environ: dict[str, Any], auth: Any) -> bool:
        raise NotImplementedError

    async def disconnected(self, connection: C) -> None:
        """Called once when a connection that completed `connect` goes away."""


async def _start_in_order(connection: Connection, event: Awaitable[Ack]) -> asyncio.Task[Ack]:
    """Runs `event` as a task until it has its place in the group commit (or has finished)."""
    queued = asyncio.get_running_loop().create_future()
    token = message_batch.QUEUED.set(queued)
    try:
        task = asyncio.ensure_future(event)  # the task keeps the context with `queued` set
    finally:
        message_batch.QUEUED.reset(token)
    if connection.pending is None:
        connection.pending = set()
    pending = connection.pending
    pending.add(task)

    def done(finished: asyncio.Task[Ack]) -> None:
        pending.discard(finished)
        if not queued.done():
            queued.set_result(None)

    task.add_done_callback(done)
    await queued
    return task


def ok(**fields: Any) -> dict[str, Any]:
    return {"ok": True, **fields}
