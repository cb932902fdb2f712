"""Whole transactions in one trip: the hot paths' statements, run together.

Through SQLAlchemy's aiosqlite adapter every statement is several hand-offs to the connection's
thread (cursor, execute, fetch, close; then BEGIN, COMMIT and the pool's reset), and each wakes
that thread and takes the GIL back and forth. Measured on this machine, a message's
transaction cost ~2 ms of CPU that way and ~0.2 ms as one function run in the thread
(docs/performance.md). So on SQLite `write` and `read` run a whole transaction (BEGIN
IMMEDIATE or BEGIN ... COMMIT, ROLLBACK on any error) as one call inside aiosqlite's thread,
with this process's write gate held around it (engine.py). The statements are SQLAlchemy Core
statements compiled once per dialect; values are bound and results read back exactly as
SQLAlchemy binds and reads those column types.

The work is a plain function of a `Runner`. Elsewhere (PostgreSQL) the same function runs
through SQLAlchemy on the async connection (`run_sync`), statement by statement, so each hot
path is written once. A database error comes out as SQLAlchemy's exception (IntegrityError,
OperationalError...) either way, without the values (hide_parameters).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from sqlalchemy import Column
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError, MissingGreenlet
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import PoolProxiedConnection, QueuePool
from sqlalchemy.sql import Executable
from sqlalchemy.util import greenlet_spawn

from chatserver.db.engine import write_gate

T = TypeVar("T")
Values = dict[str, Any]


class Statement:
    """A Core statement for `Runner`s; `returns` names the columns its rows hold, in order
    (for reading their values back on SQLite). No expanding `IN` (its SQL is only final
    when run); write `or_(...)` instead."""

    def __init__(self, clause: Executable, returns: Sequence[Column[Any]] = ()) -> None:
        self.clause = clause
        self.returns = tuple(returns)
        self._compiled: dict[str, _Compiled] = {}

    def compiled(self, dialect: Dialect) -> _Compiled:
        found = self._compiled.get(dialect.name)
        if found is None:
            found = self._compiled[dialect.name] = _Compiled(self, dialect)
        return found


class _Compiled:
    def __init__(self, statement: Statement, dialect: Dialect) -> None:
        compiled = statement.clause.compile(dialect=dialect)  # type: ignore[attr-defined]
        self.compiled = compiled
        self.sql = str(compiled)
        self.names = list(compiled.positiontup or ())
        self.binds = {name: bind.type._cached_bind_processor(dialect)  # noqa: SLF001
                      for name, bind in compiled.binds.items()}
        self.processors = [self.binds.get(name) for name in self.names]
        self.literals: dict[str, Any] = {}
        # A bind whose value is computed at each execution cannot be learnt once.
        self.computed = any(bind.callable is not None for bind in compiled.binds.values())
        self.reads = [column.type._cached_result_processor(dialect, None)  # noqa: SLF001
                      for column in statement.returns]

    def parameters(self, values: Values | None) -> list[Any]:
        values = values or {}
        raw = None if self.computed else self._from_literals(values)
        if raw is None:
            merged = self.compiled.construct_params(values)
            self.literals.update({name: merged[name] for name in self.names
                                  if name not in values})
            raw = [merged[name] for name in self.names]
        return [value if process is None else process(value)
                for process, value in zip(self.processors, raw, strict=True)]

    def _from_literals(self, values: Values) -> list[Any] | None:
        """The values in order, the statement's own literals (`state != "closed"`) as learnt
        on first use, without SQLAlchemy's construct_params (~20 µs); None when one is not
        known yet."""
        literals = self.literals
        try:
            return [values[name] if name in values else literals[name] for name in self.names]
        except KeyError:
            return None

    def row(self, raw: Sequence[Any]) -> tuple[Any, ...]:
        if not self.reads:
            return tuple(raw)
        return tuple(read(value) if read is not None else value
                     for read, value in zip(self.reads, raw, strict=False))


class Runner(Protocol):
    def rows(self, statement: Statement, values: Values | None = None) -> list[tuple[Any, ...]]:
        """Run it and return its rows (RETURNING or SELECT)."""

    def run(self, statement: Statement, values: Values | list[Values] | None = None) -> None:
        """Run it, once or (with a list) once per set of values."""


class _SqliteRunner:
    """Inside aiosqlite's thread, on its sqlite3 connection."""

    def __init__(self, db: sqlite3.Connection, dialect: Dialect) -> None:
        self.db, self.dialect = db, dialect

    def rows(self, statement: Statement, values: Values | None = None) -> list[tuple[Any, ...]]:
        compiled = statement.compiled(self.dialect)
        fetched = self.db.execute(compiled.sql, compiled.parameters(values)).fetchall()
        return [compiled.row(raw) for raw in fetched]

    def run(self, statement: Statement, values: Values | list[Values] | None = None) -> None:
        compiled = statement.compiled(self.dialect)
        if isinstance(values, list):
            self.db.executemany(compiled.sql, [compiled.parameters(v) for v in values])
        else:
            self.db.execute(compiled.sql, compiled.parameters(values))


class _CoreRunner:
    """Through SQLAlchemy, statement by statement (PostgreSQL, and SQLite without aiosqlite's
    internals)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def rows(self, statement: Statement, values: Values | None = None) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self.connection.execute(statement.clause, values or {})]

    def run(self, statement: Statement, values: Values | list[Values] | None = None) -> None:
        self.connection.execute(statement.clause, values if values is not None else {})


def _in_transaction(db: sqlite3.Connection, begin: str, work: Callable[[Runner], T],
                    runner: _SqliteRunner) -> T:
    """In aiosqlite's thread: the whole transaction."""
    db.execute(begin)
    try:
        result = work(runner)
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    return result


async def write(engine: AsyncEngine, work: Callable[[Runner], T]) -> T:
    """Run `work` in one writing transaction, committed when this returns."""
    return await _trip(engine, work, writes=True)


async def read(engine: AsyncEngine, work: Callable[[Runner], T]) -> T:
    """Run `work` in one reading transaction (on SQLite it does not wait for writers)."""
    return await _trip(engine, work, writes=False)


async def _checkout(engine: AsyncEngine) -> PoolProxiedConnection:
    pool = engine.sync_engine.pool
    if isinstance(pool, QueuePool) and pool.checkedin():
        try:
            return pool.connect()
        except MissingGreenlet:
            pass  # the idle connection had to be opened again
    return await greenlet_spawn(pool.connect)


async def _checkin(engine: AsyncEngine, fairy: PoolProxiedConnection) -> None:
    """Back to the pool (no reset: the transaction ended). A pool already holding all it keeps
    closes the connection instead, and closing one needs the greenlet."""
    pool = engine.sync_engine.pool
    if isinstance(pool, QueuePool) and pool.checkedin() < pool.size():
        fairy.close()
    else:
        await greenlet_spawn(fairy.close)


async def _trip(engine: AsyncEngine, work: Callable[[Runner], T], *, writes: bool) -> T:
    gate = write_gate(engine)
    if gate is not None:
        # Straight from the pool: an idle connection is a plain call (~10 µs), where
        # `engine.connect()` costs ~90 µs of CPU (an AsyncConnection, a greenlet, the engine's
        # events); only a new connection needs the greenlet, to open it.
        fairy = await _checkout(engine)
        try:
            aio = fairy.driver_connection
            call, db = getattr(aio, "_execute", None), getattr(aio, "_conn", None)
            if call is not None and db is not None:
                runner = _SqliteRunner(db, engine.dialect)
                holder = fairy.dbapi_connection
                if writes:
                    await gate.hold(holder)
                try:
                    return await call(_in_transaction, db, "BEGIN IMMEDIATE" if writes
                                      else "BEGIN", work, runner)
                except sqlite3.Error as error:
                    raise DBAPIError.instance(None, None, error, sqlite3.Error,
                                              hide_parameters=True) from error
                finally:
                    if writes:
                        gate.release(holder)
        finally:
            await _checkin(engine, fairy)
    async with engine.begin() as connection:
        return await connection.run_sync(lambda sync: work(_CoreRunner(sync)))
