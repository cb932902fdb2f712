"""Storage: migrations from empty on SQLite and PostgreSQL, and SQLite's safety settings."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from chatserver.app import create_app
from chatserver.db import migrate
from chatserver.db.engine import make_engine
from tests.helpers import Chat, free_port, make_settings

TABLES = {"agent", "agent_session", "api_token", "login_failure", "agent_connection",
          "conversation", "message", "offline_message", "notice_version", "audit_event",
          "outbox_email", "canned_response", "alembic_version"}


async def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            names = await connection.run_sync(
                lambda sync: set(__import__("sqlalchemy").inspect(sync).get_table_names()))
        revision = await migrate.current_revision(engine)
    finally:
        await engine.dispose()
    assert revision == migrate.head_revision()
    return set(names)


async def test_migrations_run_up_from_empty_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    await asyncio.to_thread(migrate.upgrade, url)
    assert await _tables(url) >= TABLES
    # And back down to nothing, so the downgrade path is real too.
    await asyncio.to_thread(migrate.downgrade, url, "base")
    assert await _tables_after_downgrade(url) == {"alembic_version"}


async def _tables_after_downgrade(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            return set(await connection.run_sync(
                lambda sync: __import__("sqlalchemy").inspect(sync).get_table_names()))
    finally:
        await engine.dispose()


async def test_sqlite_runs_with_wal_foreign_keys_and_secure_delete(chat: Chat) -> None:
    async with chat.ctx.db() as session:
        pragmas = {name: (await session.exec(text(f"PRAGMA {name}"))).one()[0]  # type: ignore
                   for name in ("journal_mode", "foreign_keys", "secure_delete")}
    assert pragmas == {"journal_mode": "wal", "foreign_keys": 1, "secure_delete": 1}


async def test_server_refuses_to_start_on_an_unmigrated_database(tmp_path: Path,
                                                                 aiohttp_server: Any) -> None:
    settings = make_settings(tmp_path / "empty", free_port())
    from chatserver.app import NotMigrated

    with pytest.raises(NotMigrated, match="chatserver migrate"):
        await aiohttp_server(create_app(settings), port=settings.port)


@pytest.mark.postgres
async def test_postgres_migrations_and_chat_round_trip(
    postgres_url: str, tmp_path: Path, aiohttp_server: Any
) -> None:
    await asyncio.to_thread(migrate.upgrade, postgres_url)
    assert await _tables(postgres_url) >= TABLES
    settings = make_settings(tmp_path, free_port(), database_url=postgres_url)
    app = create_app(settings)
    server = await aiohttp_server(app, port=settings.port)
    chat = Chat(server, settings, app)
    try:
        agent = await chat.agent("pg@example.fi", "Pia")
        visitor = await chat.visitor("fi")
        opened = await visitor.call("message", {"client_id": "1", "text": "Hei PostgreSQL"})
        conversation_id = opened["conversation"]["id"]
        claimed = await agent.call("claim", {"conversation_id": conversation_id})
        assert claimed["ok"], claimed
        reply = await agent.call("message", {"conversation_id": conversation_id,
                                             "client_id": "r", "text": "Hei!"})
        assert reply["ok"], reply
        got = await visitor.next("message", where=lambda m: m["author"]["kind"] == "agent")
        assert got["text"] == "Hei!"
        again = await visitor.call("message", {"client_id": "1", "text": "Hei PostgreSQL"})
        assert again["message"]["seq"] == 1
        history = await visitor.call("history", {"after_seq": 0})
        assert [m["seq"] for m in history["messages"]] == [1, 2, 3]
    finally:
        await chat.close()


def test_the_hot_paths_rows_have_the_tables_columns() -> None:
    """db/rows.py's plain rows are written with Core INSERTs of their `values()`: a column
    added to the table and not to the row would be left out of every such INSERT."""
    from chatserver.db.models import Conversation, Message
    from chatserver.db.rows import ConversationRow, MessageRow

    for row, model in ((MessageRow, Message), (ConversationRow, Conversation)):
        columns = {column.name for column in model.__table__.columns}  # type: ignore[attr-defined]
        assert set(row.__slots__) == columns, (row.__name__, set(row.__slots__) ^ columns)


async def test_trips_return_and_close_pool_connections_cleanly(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """db/trip.py takes connections straight from the pool: sixteen trips at once use the
    pool's overflow, whose connections are closed as they come back; nothing may fail."""
    import time

    from chatserver.db import trip

    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'trips.db'}")
    try:
        def slow(_runner: trip.Runner) -> int:
            time.sleep(0.05)  # in the connection's thread: the trips overlap
            return 1

        with caplog.at_level("ERROR"):
            for _ in range(2):
                assert await asyncio.gather(*(trip.read(engine, slow) for _ in range(16))) \
                    == [1] * 16
        pool: Any = engine.sync_engine.pool
        assert pool.checkedout() == 0
        assert pool.overflow() <= 0  # every overflow connection was closed
        assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text
    finally:
        await engine.dispose()


def test_a_trip_statement_binds_the_same_values_after_learning_its_literals() -> None:
    """trip.py binds a statement's own literals (`state = "queued"`, `last_seq + 1`) from what
    it learnt on first use instead of asking SQLAlchemy each time: the values must not differ
    from SQLAlchemy's, whatever the caller's values."""
    from datetime import UTC, datetime

    from sqlalchemy.dialects import sqlite

    from chatserver.services import routing

    compiled = routing._TAKE.compiled(sqlite.dialect())  # noqa: SLF001
    for n in range(3):
        values = {"cid": f"c{n}", "agent_id": n, "now": datetime(2026, 1, n + 1, tzinfo=UTC)}
        merged = compiled.compiled.construct_params(values)
        expected = [merged[name] if compiled.binds.get(name) is None
                    else compiled.binds[name](merged[name]) for name in compiled.names]
        assert compiled.parameters(values) == expected
    assert compiled.literals and "cid" not in compiled.literals


async def _counting_table(engine: Any) -> tuple[Any, Any]:
    """A table whose `seq` says in which order rows were written, and its INSERT."""
    from sqlalchemy import Column, Integer, MetaData, Table, Text, bindparam, insert

    from chatserver.db import trip

    table = Table("written", MetaData(), Column("seq", Integer, primary_key=True),
                  Column("n", Integer), Column("label", Text, unique=True))
    async with engine.begin() as connection:
        await connection.run_sync(table.metadata.create_all)
    return table, trip.Statement(insert(table).values(n=bindparam("n"),
                                                       label=bindparam("label")))


async def test_sqlite_writes_share_the_gate_in_rounds_in_order_and_fail_alone(
        tmp_path: Path) -> None:
    """db/trip.py runs the SQLite writes queued meanwhile in one round: one hold of the write
    gate for many transactions, each committed or rolled back on its own, in the order asked."""
    from sqlalchemy import select
    from sqlalchemy.exc import IntegrityError

    from chatserver.db import trip
    from chatserver.db.engine import write_gate

    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'rounds.db'}")
    try:
        table, store = await _counting_table(engine)
        gate: Any = write_gate(engine)
        holds = 0
        hold = gate.hold

        async def counted(holder: Any) -> None:
            nonlocal holds
            holds += 1
            await hold(holder)

        gate.hold = counted

        def writer(n: int) -> Any:
            label = "twice" if n in (3, 4) else f"label {n}"  # the second "twice" must fail

            def work(runner: trip.Runner) -> int:
                runner.run(store, {"n": n, "label": label})
                return n
            return work

        results = await asyncio.gather(*(trip.write(engine, writer(n)) for n in range(20)),
                                       return_exceptions=True)
        assert isinstance(results[4], IntegrityError)
        assert [r for i, r in enumerate(results) if i != 4] == [n for n in range(20) if n != 4]
        assert holds <= 3, f"{holds} holds of the gate for 20 writes"
        async with engine.connect() as connection:
            stored = (await connection.execute(select(table.c.n).order_by(table.c.seq))).all()
        assert [n for (n,) in stored] == [n for n in range(20) if n != 4]
    finally:
        await engine.dispose()


async def test_a_sqlite_write_whose_caller_gave_up_before_its_round_is_not_run(
        tmp_path: Path) -> None:
    from sqlalchemy import select, text

    from chatserver.db import trip

    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'cancel.db'}")
    try:
        table, store = await _counting_table(engine)

        def writer(n: int) -> Any:
            return lambda runner: runner.run(store, {"n": n, "label": f"label {n}"})

        async with engine.begin() as connection:  # holds the write gate
            await connection.execute(text("SELECT 1"))
            abandoned = asyncio.create_task(trip.write(engine, writer(1)))
            await asyncio.sleep(0.05)
            abandoned.cancel()
            kept = asyncio.create_task(trip.write(engine, writer(2)))
            await asyncio.sleep(0.05)
        await kept
        with pytest.raises(asyncio.CancelledError):
            await abandoned
        async with engine.connect() as connection:
            stored = (await connection.execute(select(table.c.n))).all()
        assert [n for (n,) in stored] == [2]
    finally:
        await engine.dispose()


async def test_sqlite_writes_fail_their_callers_when_no_connection_can_be_had(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A round that cannot get a connection fails every write waiting for it (the callers
    must hear of it, not wait forever), and the next write works again."""
    from chatserver.db import trip

    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'broken.db'}")
    try:
        _table, store = await _counting_table(engine)
        checkout = trip._checkout  # noqa: SLF001

        async def broken(_engine: Any) -> Any:
            raise OSError("no file handles left")

        monkeypatch.setattr(trip, "_checkout", broken)
        outcomes = await asyncio.wait_for(asyncio.gather(
            *(trip.write(engine, lambda runner, n=n: runner.run(
                store, {"n": n, "label": f"label {n}"})) for n in range(3)),
            return_exceptions=True), 5)
        assert all(isinstance(outcome, OSError) for outcome in outcomes), outcomes
        monkeypatch.setattr(trip, "_checkout", checkout)
        await trip.write(engine, lambda runner: runner.run(store, {"n": 9, "label": "again"}))
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_trips_on_postgres_raise_sqlalchemys_errors_and_survive_lost_connections(
        postgres_url: str) -> None:
    """On PostgreSQL db/trip.py runs statements on asyncpg's own connection: its errors must
    still come out as SQLAlchemy's (callers catch IntegrityError), without the values; a
    failed write leaves nothing behind; and when the server drops every connection, one call
    fails and the pool connects again for the next (as SQLAlchemy itself does)."""
    import asyncpg
    from sqlalchemy import func, select
    from sqlalchemy.exc import DBAPIError, IntegrityError

    from chatserver.db import trip

    engine = make_engine(postgres_url)
    try:
        table, insert_row = await _counting_table(engine)
        every = trip.Statement(select(table.c.label).order_by(table.c.seq),
                               returns=[table.c.label])

        assert await trip.alone(engine, trip.Statement(insert_row.clause.returning(table.c.n)),
                                {"n": 1, "label": "first"}) == [(1,)]
        with pytest.raises(IntegrityError) as raised:
            await trip.alone(engine, insert_row, {"n": 2, "label": "first"})
        assert "first" not in str(raised.value)

        def two_then_a_duplicate(runner: trip.Runner) -> None:
            runner.run(insert_row, [{"n": 3, "label": "second"}, {"n": 4, "label": "third"}])
            runner.run(insert_row, {"n": 5, "label": "first"})

        with pytest.raises(IntegrityError):
            await trip.write(engine, two_then_a_duplicate)
        assert await trip.read(engine, lambda runner: runner.rows(every)) == [("first",)]

        # Several connections idle in the pool, then the server drops them all.
        await asyncio.gather(*(trip.alone(engine, every, {}) for _ in range(6)))
        pool: Any = engine.sync_engine.pool
        assert pool.checkedin() >= 3
        url = postgres_url.replace("postgresql+asyncpg", "postgresql")
        killer = await asyncpg.connect(url)
        try:
            assert await killer.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()") >= 3
        finally:
            await killer.close()
        await asyncio.sleep(0.2)  # they are dropped while idle, as in a restart
        failures = 0
        for n in range(6):
            try:
                await trip.write(engine, lambda runner, n=n: runner.run(
                    insert_row, {"n": 10 + n, "label": f"after{n}"}))
            except DBAPIError as error:
                assert error.connection_invalidated
                failures += 1
        assert failures <= 1
        assert len(await trip.read(engine, lambda runner: runner.rows(every))) == 7 - failures
        assert pool.checkedout() == 0

        # Dropped in the middle of a statement: that call fails, the rest go on.
        sleeping = asyncio.ensure_future(trip.alone(
            engine, trip.Statement(select(func.pg_sleep(5))), {}))
        await asyncio.sleep(0.3)
        killer = await asyncpg.connect(url)
        try:
            assert await killer.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND query LIKE '%pg_sleep%' "
                "AND pid <> pg_backend_pid()") == 1
        finally:
            await killer.close()
        with pytest.raises(DBAPIError) as dropped:
            await sleeping
        assert dropped.value.connection_invalidated
        assert pool.checkedout() == 0
        read_back = await asyncio.gather(*(trip.alone(engine, every, {}) for _ in range(25)))
        assert [len(rows) for rows in read_back] == [7 - failures] * 25
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_a_trip_cancelled_mid_statement_on_postgres_leaves_the_pool_usable(
        postgres_url: str) -> None:
    """A caller cancelled while its statement runs (a shutdown's deadline) is cancelled, not
    handed some other error, and the connection it had goes back fit for the next user."""
    from sqlalchemy import text

    from chatserver.db import trip

    engine = make_engine(postgres_url)
    sleep = trip.Statement(text("SELECT pg_sleep(5)"))
    one = trip.Statement(text("SELECT 1"))
    try:
        await trip.warm(engine)
        for start in (lambda: trip.alone(engine, sleep, {}),
                      lambda: trip.write(engine, lambda runner: runner.rows(sleep)),
                      lambda: trip.read(engine, lambda runner: runner.rows(sleep))):
            task = asyncio.ensure_future(start())
            await asyncio.sleep(0.1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            pool: Any = engine.sync_engine.pool
            size = pool.size() + 5  # every pooled connection, the cancelled one included
            assert await asyncio.wait_for(asyncio.gather(
                *(trip.alone(engine, one, {}) for _ in range(size))), 10) == [[(1,)]] * size
    finally:
        await engine.dispose()
