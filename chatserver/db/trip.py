"""Whole transactions in one trip: the hot paths' statements, run together.

Through SQLAlchemy's aiosqlite adapter every statement is several hand-offs to the connection's
thread (cursor, execute, fetch, close; then BEGIN, COMMIT and the pool's reset), and each wakes
that thread and takes the GIL back and forth. Measured on this machine, a message's
transaction cost ~2 ms of CPU that way and ~0.2 ms as one function run in the thread
(docs/performance.md). So on SQLite `write` and `read` run a whole transaction (BEGIN
IMMEDIATE or BEGIN ... COMMIT, ROLLBACK on any error) as one call inside aiosqlite's thread.
Writes hold this process's write gate (engine.py), and they take it in rounds: every write
queued while one round ran goes to the thread in the next, each still its own transaction
(`_SqliteWrites`). The statements are SQLAlchemy Core statements compiled once per dialect;
values are bound and results read back exactly as SQLAlchemy binds and reads those column
types.

The work is a plain function of a `Runner`. On PostgreSQL the same function runs statement by
statement on asyncpg's own connection, taken from SQLAlchemy's pool (`_asyncpg`: SQLAlchemy's
AsyncConnection cost two more visits of the event loop per statement), so each hot path is
written once; elsewhere it runs through SQLAlchemy (`run_sync`). A database error comes out as
SQLAlchemy's exception (IntegrityError, OperationalError...) every way, without the values
(hide_parameters).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import sqlite3
import weakref
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Protocol, TypeVar

import asyncpg
from sqlalchemy import Column, bindparam
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError, MissingGreenlet
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import PoolProxiedConnection, QueuePool
from sqlalchemy.sql import Executable
from sqlalchemy.util import await_, greenlet_spawn

from chatserver.db.engine import is_busy, write_gate

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


class _PostgresRunner:
    """On asyncpg's own connection, in a greenlet (SQLAlchemy's `await_`), with the values
    bound as SQLAlchemy binds them: each statement one round trip, without the adapter's CPU
    (`_asyncpg`)."""

    def __init__(self, connection: Any, dialect: Dialect) -> None:
        self.connection, self.dialect = connection, dialect

    def rows(self, statement: Statement, values: Values | None = None) -> list[tuple[Any, ...]]:
        compiled = statement.compiled(self.dialect)
        fetched = await_(self.connection.fetch(compiled.sql, *compiled.parameters(values)))
        return [compiled.row(raw) for raw in fetched]

    def run(self, statement: Statement, values: Values | list[Values] | None = None) -> None:
        compiled = statement.compiled(self.dialect)
        if isinstance(values, list):
            await_(self.connection.executemany(
                compiled.sql, [compiled.parameters(v) for v in values]))
        else:
            await_(self.connection.fetch(compiled.sql, *compiled.parameters(values)))


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


Outcome = tuple[bool, Any]  # (True, result) or (False, the exception)


def _each_in_transaction(db: sqlite3.Connection, works: list[Callable[[Runner], Any]],
                         runner: _SqliteRunner) -> list[Outcome]:
    """In aiosqlite's thread: each work in its own writing transaction, one after another;
    one that fails is rolled back alone. When another process held SQLite's write lock for the
    whole busy timeout, the rest fail with the same error at once instead of each waiting the
    timeout again (as a group-commit batch does: docs/deployment.md, "Failure behaviour")."""
    outcomes: list[Outcome] = []
    for work in works:
        try:
            outcomes.append((True, _in_transaction(db, "BEGIN IMMEDIATE", work, runner)))
        except Exception as error:  # noqa: BLE001 - handed to that work's caller
            outcomes.append((False, error))
            if is_busy(error):
                outcomes.extend((False, error) for _ in works[len(outcomes):])
                break
    return outcomes


def _database_error(error: BaseException) -> BaseException:
    if isinstance(error, sqlite3.Error):
        return DBAPIError.instance(None, None, error, sqlite3.Error, hide_parameters=True)
    return error


_Queued = tuple[Callable[[Runner], Any], asyncio.Future[Any]]  # a write, its caller's future


class _SqliteWrites:
    """SQLite writes of one engine, run in rounds: one task takes the write gate, hands every
    write queued so far to the connection's thread in one call, and gives the gate back.

    Each write is still its own transaction, committed before its caller resumes. Taking the
    gate per write held it until the event loop had resumed that write's caller, and under
    load that wait (2–19 ms, behind everything else ready to run) kept the gate busy for the
    whole of a burst with the thread idle most of the time (docs/performance.md, "The slow
    paths, third round: the write gate"). In a round the thread goes from one transaction
    straight to the next, and the loop is visited once per round. Writes run in the order they
    were asked for.
    """

    ROUND_MAX = 32  # the gate's other users (ORM sessions) wait at most one round

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.loop = asyncio.get_running_loop()
        self.queue: collections.deque[_Queued] = collections.deque()
        self.task: asyncio.Task[None] | None = None

    def submit(self, work: Callable[[Runner], T]) -> asyncio.Future[T]:
        future: asyncio.Future[T] = self.loop.create_future()
        self.queue.append((work, future))
        if self.task is None:
            self.task = self.loop.create_task(self._run())
        return future

    async def _run(self) -> None:
        try:
            while self.queue:
                try:
                    await self._round()
                except Exception as error:  # noqa: BLE001 - no connection: tell the callers
                    for _work, future in self._take(len(self.queue)):
                        future.set_exception(_database_error(error))
        finally:
            self.task = None
            for _work, future in self._take(len(self.queue)):  # cancelled: nothing runs them
                future.cancel()

    def _take(self, most: int) -> list[_Queued]:
        """Up to `most` queued writes whose callers still wait, oldest first."""
        taken: list[_Queued] = []
        while self.queue and len(taken) < most:
            work, future = self.queue.popleft()
            if not future.done():  # a caller that gave up before its round is not run
                taken.append((work, future))
        return taken

    async def _round(self) -> None:
        gate = write_gate(self.engine)
        assert gate is not None
        fairy = await _checkout(self.engine)
        batch: list[_Queued] = []
        try:
            aio = fairy.driver_connection
            holder = fairy.dbapi_connection
            await gate.hold(holder)
            try:
                # What was asked for while this round waited for the gate comes along too.
                batch = self._take(self.ROUND_MAX)
                if batch:
                    runner = _SqliteRunner(aio._conn, self.engine.dialect)  # type: ignore[union-attr]  # noqa: SLF001
                    outcomes = await aio._execute(  # type: ignore[union-attr]  # noqa: SLF001
                        _each_in_transaction, runner.db, [work for work, _ in batch], runner)
                    for (_work, future), (ok, value) in zip(batch, outcomes, strict=True):
                        if not future.done():
                            if ok:
                                future.set_result(value)
                            else:
                                future.set_exception(_database_error(value))
            finally:
                gate.release(holder)
        except BaseException as error:
            for _work, future in batch:
                if not future.done():
                    future.set_exception(_database_error(error))
            if not isinstance(error, Exception):
                raise  # cancelled: `_run` cancels what is still queued
        finally:
            await _checkin(self.engine, fairy)


_WRITES: weakref.WeakKeyDictionary[Any, _SqliteWrites] = weakref.WeakKeyDictionary()


def _sqlite_writes(engine: AsyncEngine) -> _SqliteWrites:
    writes = _WRITES.get(engine.sync_engine)
    if writes is None or writes.loop is not asyncio.get_running_loop():
        writes = _WRITES[engine.sync_engine] = _SqliteWrites(engine)
    return writes


async def write(engine: AsyncEngine, work: Callable[[Runner], T]) -> T:
    """Run `work` in one writing transaction, committed when this returns."""
    if _on_aiosqlite(engine):
        return await _sqlite_writes(engine).submit(work)
    if _on_asyncpg(engine):
        async with _asyncpg(engine) as connection, connection.transaction():
            return await greenlet_spawn(work, _PostgresRunner(connection, engine.dialect))
    return await _through_sqlalchemy(engine, work)


async def read(engine: AsyncEngine, work: Callable[[Runner], T]) -> T:
    """Run `work` in one reading transaction (on SQLite it does not wait for writers)."""
    if _on_aiosqlite(engine):
        return await _sqlite_read(engine, work)
    if _on_asyncpg(engine):
        # Without BEGIN and COMMIT: two round trips fewer. Each statement reads what was
        # committed before it began, as it would inside a READ COMMITTED transaction
        # (PostgreSQL's default).
        async with _asyncpg(engine) as connection:
            return await greenlet_spawn(work, _PostgresRunner(connection, engine.dialect))
    async with engine.connect() as connection:
        return await connection.run_sync(lambda sync: work(_CoreRunner(sync)))


async def alone(engine: AsyncEngine, statement: Statement, values: Values
                ) -> list[tuple[Any, ...]]:
    """PostgreSQL: one statement outside a transaction block, and its rows. A statement is
    atomic by itself, its data-modifying CTEs included, so BEGIN and COMMIT around it would
    only add two round trips, and under load each round trip waits for the busy event loop
    (docs/performance.md, "The slow paths, third round")."""
    if not _on_asyncpg(engine):
        return await write(engine, lambda runner: runner.rows(statement, values))
    compiled = statement.compiled(engine.dialect)
    async with _asyncpg(engine) as connection:
        fetched = await connection.fetch(compiled.sql, *compiled.parameters(values))
    return [compiled.row(raw) for raw in fetched]


@contextlib.asynccontextmanager
async def _asyncpg(engine: AsyncEngine) -> AsyncIterator[Any]:
    """asyncpg's connection from the pool, outside a transaction block until one is begun.

    Not SQLAlchemy's AsyncConnection: leaving its `async with` runs the close in a task of its
    own and waits for it, two visits of the event loop, and under a burst each visit waited
    15–20 ms behind everything else ready to run (docs/performance.md, "The slow paths, fourth
    round"). Taken from the pool and given back here, an idle connection is a plain call."""
    fairy = await _checkout(engine)
    while fairy.driver_connection.is_closed():  # type: ignore[union-attr]
        # The server dropped it while it was idle (a restart): so it did the others; the pool
        # connects again (no pre-ping here: engine.py).
        await greenlet_spawn(engine.sync_engine.pool._invalidate, fairy)  # noqa: SLF001
        fairy = await _checkout(engine)
    try:
        yield fairy.driver_connection
    except Exception as error:
        translated = await _postgres_error(engine, fairy, error)
        if translated is error:
            raise  # not the database's (a ServiceError from the work, say): as it was
        raise translated from error
    finally:
        await _checkin(engine, fairy)


async def _postgres_error(engine: AsyncEngine, fairy: PoolProxiedConnection,
                          error: Exception) -> BaseException:
    """asyncpg's exception as SQLAlchemy raises it (IntegrityError...: what callers catch),
    without the values. A lost connection is invalidated with every other connection of the
    pool, as SQLAlchemy does, so the next checkouts connect again."""
    if not isinstance(error, asyncpg.PostgresError | asyncpg.InterfaceError | OSError
                      | asyncio.TimeoutError):
        return error
    adapter: Any = fairy.dbapi_connection
    try:
        adapter._handle_exception(error)  # noqa: SLF001 - the DB-API error asyncpg's maps to
    except Exception as translated:  # noqa: BLE001
        error = translated
    dialect = engine.dialect
    lost = dialect.is_disconnect(error, adapter, None)  # type: ignore[arg-type]
    if lost:
        await greenlet_spawn(engine.sync_engine.pool._invalidate, fairy, error)  # noqa: SLF001
    return DBAPIError.instance(None, None, error, dialect.loaded_dbapi.Error,
                               hide_parameters=True, connection_invalidated=lost,
                               dialect=dialect)


async def warm(engine: AsyncEngine, statements: Sequence[Statement] = ()) -> int:
    """PostgreSQL: open the pool's connections before anything is served, and prepare
    `statements` (the hot paths') on each, so asyncpg has looked up the types they bind (two
    round trips per connection the first time); how many were opened. After a restart every
    visitor reconnects at once, and opening a connection under that burst took 70–100 ms
    (docs/performance.md, "The slow paths, fourth round")."""
    if not _on_asyncpg(engine):
        return 0
    pool = engine.sync_engine.pool
    size = pool.size() if isinstance(pool, QueuePool) else 1
    fairies = await asyncio.gather(*(greenlet_spawn(pool.connect) for _ in range(size)))
    sqls = [statement.compiled(engine.dialect).sql for statement in statements]

    async def prepare(connection: Any) -> None:
        for sql in sqls:
            await connection.prepare(sql)

    try:
        await asyncio.gather(*(prepare(fairy.driver_connection) for fairy in fairies))
    finally:
        for fairy in fairies:
            await _checkin(engine, fairy)
    return len(fairies)


def column_binds(table: Any, prefix: str) -> dict[str, Any]:
    """{column: bindparam(prefix + column)} for every column of `table`: an INSERT's values,
    named apart from another table's in the same statement (`prefixed`)."""
    return {column.name: bindparam(prefix + column.name, type_=column.type)
            for column in table.c}


def prefixed(values: Values, prefix: str) -> Values:
    return {prefix + name: value for name, value in values.items()}


def _on_asyncpg(engine: AsyncEngine) -> bool:
    return engine.dialect.driver == "asyncpg"


def _on_aiosqlite(engine: AsyncEngine) -> bool:
    """SQLite through aiosqlite, whose thread runs a whole transaction in one call."""
    return write_gate(engine) is not None and engine.dialect.driver == "aiosqlite"


async def _checkout(engine: AsyncEngine) -> PoolProxiedConnection:
    pool = engine.sync_engine.pool
    # Not on PostgreSQL: a connection to open again there (after `_asyncpg` found one lost)
    # fails here only after creating the coroutine that would have opened it.
    if isinstance(pool, QueuePool) and pool.checkedin() and _on_aiosqlite(engine):
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


async def _sqlite_read(engine: AsyncEngine, work: Callable[[Runner], T]) -> T:
    # Straight from the pool: an idle connection is a plain call (~10 µs), where
    # `engine.connect()` costs ~90 µs of CPU (an AsyncConnection, a greenlet, the engine's
    # events); only a new connection needs the greenlet, to open it.
    fairy = await _checkout(engine)
    try:
        aio = fairy.driver_connection
        db = aio._conn  # type: ignore[union-attr]  # noqa: SLF001
        try:
            return await aio._execute(  # type: ignore[union-attr]  # noqa: SLF001
                _in_transaction, db, "BEGIN", work, _SqliteRunner(db, engine.dialect))
        except sqlite3.Error as error:
            raise _database_error(error) from error
    finally:
        await _checkin(engine, fairy)


async def _through_sqlalchemy(engine: AsyncEngine, work: Callable[[Runner], T]) -> T:
    """PostgreSQL: statement by statement on the async connection, in one transaction."""
    async with engine.begin() as connection:
        return await connection.run_sync(lambda sync: work(_CoreRunner(sync)))
