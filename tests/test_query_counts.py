"""The hot paths stay cheap: exact statements for a chat message, opening, handing off and
claiming a conversation (after Zulip's test_tornado). A change that adds a query here must say
why. On SQLite each of these transactions runs in one trip to the connection's thread
(chatserver/db/trip.py); the statements are the same on PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.util.concurrency import await_

from tests.helpers import Chat


@asynccontextmanager
async def statements(chat: Chat) -> AsyncIterator[list[str]]:
    """The first word of every SQL statement SQLite runs meanwhile, as SQLite saw it: through
    SQLAlchemy or in one trip to the connection's thread (chatserver/db/trip.py). The pool is
    emptied first, so that every connection used is a new one that reports to `seen`."""
    engine = chat.ctx.engine
    seen: list[str] = []

    last: list[str] = [""]

    def trace(sql: str) -> None:
        # Not counted: a new connection's settings (PRAGMA); what SQLite runs inside a
        # statement, for its triggers and the search index (FTS5) that they keep ("-- ..."
        # lines, the index's own tables); the same statement reported again as its triggers
        # start (the trace repeats its text).
        if sql.startswith("--") or "_search" in sql.split("(")[0] or sql == last[0]:
            return
        last[0] = sql
        word = sql.split()[0].upper()
        if word != "PRAGMA":
            seen.append(word)

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        await_(dbapi_connection.driver_connection.set_trace_callback(trace))

    await engine.dispose()
    event.listen(engine.sync_engine, "connect", on_connect)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "connect", on_connect)
        await engine.dispose()


async def test_one_visitor_and_one_agent_message_cost_two_statements_each(
    chat_factory: Any,
) -> None:
    # The agent's session is re-checked at most every few seconds, not on every message.
    chat: Chat = await chat_factory(auth={"session_recheck_seconds": 60})
    agent = await chat.agent("anna@example.fi", "Anna", queue_version=2)
    visitor = await chat.visitor("en")
    opened = await visitor.call("message", {"client_id": "0", "text": "open"})
    conversation_id = opened["conversation"]["id"]
    await agent.call("claim", {"conversation_id": conversation_id})

    async with statements(chat) as seen:
        assert (await visitor.call("message", {"client_id": "1", "text": "hello"}))["ok"]
    assert seen == ["BEGIN", "UPDATE", "INSERT", "COMMIT"]

    async with statements(chat) as seen:
        reply = await agent.call("message", {"conversation_id": conversation_id,
                                             "client_id": "2", "text": "hi"})
        assert reply["ok"]
    assert seen == ["BEGIN", "UPDATE", "INSERT", "COMMIT"]


async def test_opening_handing_off_and_claiming_cost_few_statements(chat_factory: Any) -> None:
    """No ORM loading and no read of the whole queue on these paths (docs/performance.md)."""
    chat: Chat = await chat_factory(auth={"session_recheck_seconds": 60})
    agent = await chat.agent("anna@example.fi", "Anna", queue_version=2)
    await agent.next("queue")  # the whole queue, once, right after the welcome
    first, second = await chat.visitor("en"), await chat.visitor("en")

    # The conversation (already at seq 1), its first message, and its place in line.
    async with statements(chat) as seen:
        opened = await first.call("message", {"client_id": "0", "text": "open"})
        assert opened["conversation"]["queue_position"] == 1
        await agent.next("queue_update")
    assert seen == ["BEGIN", "INSERT", "INSERT", "SELECT", "COMMIT"]

    async with statements(chat) as seen:
        handed = await second.call("handoff", {})
        assert handed["ok"] and handed["conversation"]["queue_position"] == 2, handed
        await agent.next("queue_update")
    assert seen == ["BEGIN", "INSERT", "SELECT", "COMMIT"]

    # Take it and reserve the note's seq, the note, the history and the audit row; then, apart,
    # the places in line of those still queued (at most twice a second under load).
    async with statements(chat) as seen:
        claimed = await agent.call("claim", {"conversation_id": opened["conversation"]["id"]})
        assert claimed["ok"], claimed
        moved = await second.next("conversation", where=lambda c: c.get("queue_position"))
        assert moved["queue_position"] == 1
    assert seen == ["BEGIN", "UPDATE", "INSERT", "SELECT", "INSERT", "COMMIT",
                    "BEGIN", "SELECT", "COMMIT"]


@asynccontextmanager
async def statements_on_postgres(chat: Chat) -> AsyncIterator[list[str]]:
    """The first word of every statement sent to PostgreSQL meanwhile, and "in a transaction"
    for one sent inside a transaction block (one that costs a BEGIN and a COMMIT too). Both
    ways statements go are seen: through SQLAlchemy (its `before_cursor_execute`; its `begin`
    event cannot tell, SQLAlchemy fires it in autocommit as well) and on asyncpg's own
    connection (db/trip.py; asyncpg's query log, where BEGIN and COMMIT are statements)."""
    engine = chat.ctx.engine.sync_engine
    seen: list[str] = []
    loggers: dict[Any, Any] = {}

    def executed(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        alone = conn.connection.dbapi_connection.autocommit
        seen.append(statement.split()[0].upper() + ("" if alone else " in a transaction"))

    def logger() -> Any:
        in_transaction = [False]

        def log(record: Any) -> None:
            # asyncpg logs only what it runs unprepared: trip.py's statements, SQLAlchemy's
            # BEGIN and COMMIT (its statements come through `executed`), and its own lookup of
            # a type the connection has not met yet (not ours to count).
            query = record.query
            word = query.split()[0].upper().rstrip(";")
            if "typeinfo_tree" in query or "set_config('jit'" in query:
                return
            if word in ("BEGIN", "START", "COMMIT", "ROLLBACK"):
                in_transaction[0] = word in ("BEGIN", "START")
            else:
                seen.append(word + (" in a transaction" if in_transaction[0] else ""))

        return log

    def checked_out(dbapi_connection: Any, *_args: Any) -> None:
        raw = dbapi_connection.driver_connection
        if raw not in loggers:
            loggers[raw] = logger()
            raw.add_query_logger(loggers[raw])

    event.listen(engine, "before_cursor_execute", executed)
    event.listen(engine, "checkout", checked_out)
    try:
        yield seen
        await asyncio.sleep(0)  # asyncpg calls its loggers soon after, not at once
    finally:
        event.remove(engine, "before_cursor_execute", executed)
        event.remove(engine, "checkout", checked_out)
        for raw, log in loggers.items():
            raw.remove_query_logger(log)


@pytest.mark.postgres
async def test_on_postgres_opening_and_claiming_are_one_statement_each(
        chat_factory: Any, migrated_postgres_url: str) -> None:
    """Outside a transaction block (db/trip.py `alone`): the open's INSERTs and its place in
    line are one statement, the claim's UPDATE, note, audit row and history another; what they
    store and answer is what the SQLite path does."""
    chat: Chat = await chat_factory(database_url=migrated_postgres_url,
                                    auth={"session_recheck_seconds": 60})
    agent = await chat.agent("anna@example.fi", "Anna", queue_version=2)
    await agent.next("queue")
    first, second = await chat.visitor("fi"), await chat.visitor("en")

    async with statements_on_postgres(chat) as seen:
        opened = await first.call("message", {"client_id": "0", "text": "avaa"})
        assert opened["conversation"]["queue_position"] == 1
        await agent.next("queue_update")
    assert seen == ["WITH"]
    assert (await second.call("message", {"client_id": "0", "text": "open"})
            )["conversation"]["queue_position"] == 2

    conversation_id = opened["conversation"]["id"]
    async with statements_on_postgres(chat) as seen:
        claimed = await agent.call("claim", {"conversation_id": conversation_id})
        assert claimed["ok"], claimed
        moved = await second.next("conversation", where=lambda c: c.get("queue_position"))
        assert moved["queue_position"] == 1
    # The claim, then (apart) the places in line of those still queued.
    assert seen == ["WITH", "SELECT"], seen
    view = claimed["conversation"]
    assert view["state"] == "active" and view["agent"]["name"] == "Anna"
    texts = [m["text"] for m in view["messages"]]
    assert texts == ["avaa", "Anna liittyi keskusteluun."], texts
    note = await first.next("message", where=lambda m: m["author"]["kind"] == "system")
    assert note == view["messages"][1]
    async with chat.ctx.read() as session:
        reads = (await session.exec(text(
            "SELECT count(*) FROM audit_event WHERE action = 'conversation.read' "
            "AND target_id = :cid AND detail LIKE '%claim%'").bindparams(
                cid=conversation_id))).one()
    assert reads[0] == 1
    # Claiming it again: nothing changes, and the caller is told it is theirs already.
    again = await agent.call("claim", {"conversation_id": conversation_id})
    assert again["ok"] and [m["text"] for m in again["conversation"]["messages"]] == texts


@pytest.mark.postgres
async def test_on_postgres_the_pool_is_open_before_anything_is_served(
        chat_factory: Any, migrated_postgres_url: str) -> None:
    """After a restart every visitor reconnects at once; a connection opened under that burst
    took 70–100 ms. So the pool's connections are opened at start-up (db/trip.py `warm`), and
    asyncpg has already looked up the array types the message batch binds on each of them."""
    from sqlalchemy.util import greenlet_spawn

    from chatserver.services import message_batch

    chat: Chat = await chat_factory(database_url=migrated_postgres_url)
    started = time.time()
    pool: Any = chat.ctx.engine.sync_engine.pool
    # (The background tasks started with the app may hold one or two meanwhile.)
    assert pool.checkedin() + pool.checkedout() >= pool.size() > 1
    idle = pool.checkedin()
    fairies = await asyncio.gather(*(greenlet_spawn(pool.connect) for _ in range(idle)))
    # One of those may be new: a background task took an idle one while they were taken.
    warmed = [fairy for fairy in fairies if fairy._connection_record.starttime < started]  # noqa: SLF001
    assert len(warmed) >= idle - 1
    lookups: list[str] = []
    try:
        sql = message_batch.BATCH_POSTGRES.compiled(chat.ctx.engine.dialect).sql
        for fairy in warmed:
            raw = fairy.driver_connection
            raw.add_query_logger(lambda record: lookups.append(record.query))
            await raw.prepare(sql)
        await asyncio.sleep(0)
    finally:
        for fairy in fairies:
            fairy.close()
    assert not [query for query in lookups if "typeinfo_tree" in query]
