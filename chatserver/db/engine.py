"""Engine lifetime and connection settings for SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

SessionMaker = async_sessionmaker[AsyncSession]


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # secure_delete overwrites deleted content, so erased text does not linger in free pages.
    for pragma in (
        "PRAGMA journal_mode=WAL",
        "PRAGMA foreign_keys=ON",
        "PRAGMA secure_delete=ON",
        "PRAGMA synchronous=NORMAL",
        "PRAGMA busy_timeout=5000",
    ):
        cursor.execute(pragma)
    cursor.close()
    # Take transactions into our own hands (see _begin_immediate).
    dbapi_connection.isolation_level = None


def _begin_immediate(connection: Any) -> None:
    # A deferred transaction that reads and then writes cannot upgrade its WAL snapshot when
    # another writer committed meanwhile, and fails at once with "database is locked". Taking
    # the write lock at BEGIN makes writers queue on busy_timeout instead.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(database_url: str) -> AsyncEngine:
    # hide_parameters: SQL errors (and so logged tracebacks) never quote the values, which can
    # be message text or email addresses.
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 5}, hide_parameters=True)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _begin_immediate)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True,
                               hide_parameters=True)


def make_sessionmaker(engine: AsyncEngine) -> SessionMaker:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


@asynccontextmanager
async def engine_lifetime(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url)
    try:
        yield engine
    finally:
        await engine.dispose()
