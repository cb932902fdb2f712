"""Engine lifetime and connection settings for SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.util.concurrency import await_, in_greenlet
from sqlmodel.ext.asyncio.session import AsyncSession

log = logging.getLogger(__name__)

SessionMaker = async_sessionmaker[AsyncSession]


def _sqlite_pragmas(busy_seconds: float) -> Callable[[Any, Any], None]:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        # secure_delete overwrites deleted content, so erased text does not linger in free
        # pages. busy_timeout: how long SQLite retries when another process holds the lock.
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA foreign_keys=ON",
            "PRAGMA secure_delete=ON",
            "PRAGMA synchronous=NORMAL",
            f"PRAGMA busy_timeout={int(busy_seconds * 1000)}",
        ):
            cursor.execute(pragma)
        cursor.close()
        # Take transactions into our own hands (see _WriteGate.begin).
        dbapi_connection.isolation_level = None

    return on_connect


def is_busy(error: BaseException) -> bool:
    """SQLite's "database is locked" (or busy): another process held the write lock for longer
    than `sqlite_busy_seconds`. Nothing of the transaction was stored; it is worth a retry."""
    original = getattr(error, "orig", error)
    return isinstance(original, sqlite3.OperationalError) and any(
        word in str(original) for word in ("database is locked", "database is busy"))


READ_ONLY = "chatserver_read_only"


def reader(engine: AsyncEngine) -> AsyncEngine:
    """The same engine and pool, for transactions that only read. On SQLite they begin
    deferred and do not wait for the write gate (a write in one fails); elsewhere it is the
    engine itself."""
    return engine.execution_options(**{READ_ONLY: True})


class _WriteGate:
    """One SQLite writer at a time in this process, queued in order on an asyncio lock.

    Without it, concurrent BEGIN IMMEDIATEs wait in SQLite's busy handler, which sleeps 1, 2,
    5 ... 100 ms between tries: under load that put seconds into the latency tail
    (docs/performance.md). The lock is taken before BEGIN IMMEDIATE and given back when the
    connection returns to the pool, after its COMMIT or ROLLBACK. Other processes (the CLI)
    still meet busy_timeout.
    """

    def __init__(self, timeout: float) -> None:
        self.lock = asyncio.Lock()
        self.holder: Any = None
        self.timeout = timeout  # as busy_timeout

    def begin(self, connection: Any) -> None:
        if connection.get_execution_options().get(READ_ONLY):
            # A reader (`reader()`): WAL lets it read its snapshot while one writer writes, so
            # it neither queues on the gate nor takes the write lock.
            connection.exec_driver_sql("BEGIN")
            return
        # A deferred transaction that reads and then writes cannot upgrade its WAL snapshot
        # when another writer committed meanwhile, and fails at once with "database is
        # locked". Taking the write lock at BEGIN makes writers queue instead.
        dbapi_connection = connection.connection.dbapi_connection
        if in_greenlet() and self.holder is not dbapi_connection:
            try:
                await_(self._acquire())
                self.holder = dbapi_connection
            except TimeoutError:
                pass  # a transaction nested in another: SQLite's busy_timeout decides, as before
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    async def hold(self, dbapi_connection: Any) -> None:
        """Take the gate for a transaction begun outside SQLAlchemy (trip.py)."""
        if self.holder is dbapi_connection:
            return
        try:
            await self._acquire()
            self.holder = dbapi_connection
        except TimeoutError:
            pass  # as in `begin`: SQLite's busy_timeout decides

    async def _acquire(self) -> None:
        # asyncio.timeout, not wait_for: on Python 3.11, wait_for can swallow a cancellation
        # that arrives as the lock is granted, and a cancelled worker would then run on.
        async with asyncio.timeout(self.timeout):
            await self.lock.acquire()

    def release(self, dbapi_connection: Any, *_args: Any) -> None:
        if self.holder is not None and self.holder is dbapi_connection:
            self.holder = None
            self.lock.release()


_GATES: weakref.WeakKeyDictionary[Any, _WriteGate] = weakref.WeakKeyDictionary()


def write_gate(engine: AsyncEngine) -> _WriteGate | None:
    """The SQLite write gate of this engine; None for other databases."""
    return _GATES.get(engine.sync_engine)


def make_engine(database_url: str, busy_seconds: float = 5.0) -> AsyncEngine:
    # hide_parameters: SQL errors (and so logged tracebacks) never quote the values, which can
    # be message text or email addresses.
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        # Readers run side by side (`reader`): keep enough connections open that a burst of
        # them does not open and close new ones (each is a thread and a file handle). No reset
        # on return: every transaction here ends in COMMIT or ROLLBACK before the connection
        # goes back (SQLAlchemy's own, and trip.py's), and the reset was one more hand-off.
        engine = create_async_engine(url, connect_args={"timeout": busy_seconds},
                                     pool_size=8, max_overflow=8, pool_reset_on_return=None,
                                     hide_parameters=True)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas(busy_seconds))
        gate = _GATES[engine.sync_engine] = _WriteGate(busy_seconds)
        event.listen(engine.sync_engine, "begin", gate.begin)
        for pool_event in ("checkin", "invalidate", "close"):
            event.listen(engine.sync_engine, pool_event, gate.release)
        return engine
    # No pre-ping: it was a round trip before every transaction (docs/performance.md). A
    # connection the server dropped fails its first statement; SQLAlchemy then invalidates
    # the whole pool, and the next checkouts reconnect.
    # No JIT: every query here is short, and PostgreSQL's JIT compiled a search's plan for
    # 60 ms to save less than that (docs/performance.md, the search benchmark).
    # 20 kept open (opened at start-up: trip.warm), 10 more at peaks: with 10 + 10 a burst
    # closed and opened the overflow again and again, 70–100 ms each (docs/performance.md).
    connect_args = ({"server_settings": {"jit": "off"}}
                    if url.get_driver_name() == "asyncpg" else {})
    return create_async_engine(url, pool_size=20, max_overflow=10, pool_pre_ping=False,
                               hide_parameters=True, connect_args=connect_args)


def make_sessionmaker(engine: AsyncEngine) -> SessionMaker:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


@asynccontextmanager
async def engine_lifetime(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url)
    try:
        yield engine
    finally:
        await engine.dispose()


async def checkpoint_wal(engine: AsyncEngine) -> bool:
    """SQLite: move the write-ahead log into the database and truncate it, so deleted or
    overwritten text (zeroed in the database pages by secure_delete) does not linger in old WAL
    frames. True when the WAL was fully checkpointed (or the database is not SQLite)."""
    if engine.dialect.name != "sqlite":
        return True
    for _attempt in range(20):
        # Outside any transaction: the engine opens every transaction with BEGIN IMMEDIATE.
        async with engine.connect() as connection:
            raw = await connection.get_raw_connection()
            assert raw.driver_connection is not None
            cursor = await raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            row = await cursor.fetchone()
            await cursor.close()
        if row is not None and row[0] == 0:
            return True
        await asyncio.sleep(0.05)
    log.warning("the SQLite WAL could not be truncated now; it will be at the next checkpoint")
    return False
