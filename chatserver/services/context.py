"""What every service function needs: settings, storage, the event bus, the clock, and the
hooks through which the app plugs the optional layers (the assistant, email) into the chat core
without the core importing them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from argon2 import PasswordHasher
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from chatserver.db.engine import SessionMaker, make_sessionmaker, reader
from chatserver.i18n import Translator
from chatserver.services.address_limits import AddressLimits, new_key
from chatserver.services.events import EventBus
from chatserver.services.tokens import record_key
from chatserver.settings import Settings

if TYPE_CHECKING:
    from chatserver.db.models import Conversation
    from chatserver.services.conversations import Visitor
    from chatserver.services.metrics import Metrics


class Assistant(Protocol):
    """The FAQ assistant as the chat core calls it (services/assistant/bot.py implements it)."""

    async def after_visitor_message(
            self, ctx: Context, visitor: Visitor, conversation_id: str, text: str, *,
            opened: bool, sid: str | None = None,
            choice: str | None = None) -> dict[str, Any] | None: ...

    async def handoff(self, ctx: Context, visitor: Visitor,
                      sid: str | None = None) -> dict[str, Any]: ...


# Called inside the transaction that closes a conversation, after its closing message (the
# transcript email is queued by one: services/email/transcripts.py).
CloseHook = Callable[["Context", AsyncSession, "Conversation"], Awaitable[None]]


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Context:
    settings: Settings
    engine: AsyncEngine
    db: SessionMaker
    bus: EventBus
    translator: Translator
    hasher: PasswordHasher
    clock: Callable[[], datetime] = system_clock
    # Last availability this node announced; see presence.publish_availability.
    announced_online: bool | None = field(default=None)
    # The same with the business hours' "back at" texts (presence.publish_availability).
    announced_availability: str | None = field(default=None)
    # This node's Prometheus metrics (services/metrics.py); None in the CLI.
    metrics: Metrics | None = field(default=None)
    # A redis.asyncio client when `redis_url` is set (shared state between nodes), else None.
    redis: Any | None = field(default=None)
    # Wake-up events of this node's background workers, by name (see services/email/outbox.py).
    wakeups: dict[str, asyncio.Event] = field(default_factory=dict)
    # Counts per client address on this node, and the keyed hash of addresses and accounts
    # (services/address_limits.py), keyed with `auth.address_key` or a random key.
    address_limits: AddressLimits = field(init=False)
    reader: AsyncEngine = field(init=False)
    read: SessionMaker = field(init=False)
    # The key of the hashes kept in place of addresses (see `record_key`), read when needed.
    _record_key: bytes | None = field(default=None, init=False, repr=False)
    # The FAQ assistant when `bot.enabled` (wired by app.build_context), else None.
    assistant: Assistant | None = field(default=None)
    # Run when a conversation closes, in its transaction (see CloseHook).
    on_close: list[CloseHook] = field(default_factory=list)
    # The FAQ the assistant answers from, live on this node (services/assistant/faq_store.py
    # `LiveFaq`, wired by app.build_context); the chat core never reads it.
    faq: Any | None = field(default=None)
    # This node's copy of the business hours (services/hours.py `Schedule`); None: not loaded.
    hours: Any | None = field(default=None)

    @property
    def record_key(self) -> bytes:
        """The key of the hashes that stand in for forgotten addresses (tokens.record_key)."""
        if self._record_key is None:
            self._record_key = record_key(self.settings.data_dir, self.settings.auth.address_key)
        return self._record_key

    def __post_init__(self) -> None:
        # Sessions and connections for reads only: on SQLite they do not queue behind writers
        # (db/engine.py `reader`). Hot paths that only read use these.
        self.reader = reader(self.engine)
        self.read = make_sessionmaker(self.reader)
        key = self.settings.auth.address_key
        # The clock is read each time: tests move it to see an hour's window pass.
        self.address_limits = AddressLimits(key.encode() if key else new_key(),
                                            now=lambda: self.clock().timestamp())


def make_password_hasher(settings: Settings) -> PasswordHasher:
    return PasswordHasher(
        time_cost=settings.auth.argon2_time_cost,
        memory_cost=settings.auth.argon2_memory_kib,
        parallelism=settings.auth.argon2_parallelism,
    )
