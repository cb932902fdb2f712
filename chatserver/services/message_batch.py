"""Group commit for the message hot path (docs/performance.md).

Messages that arrive while a commit is under way wait for the next one and share it. On SQLite
that is one transaction in one trip to its thread (db/trip.py), a seq `UPDATE ... RETURNING`
per conversation and one multi-row `INSERT`; alone, a message costs BEGIN, UPDATE, INSERT,
COMMIT (tests/test_query_counts.py). On PostgreSQL it is one statement, one round trip
(`BATCH_POSTGRES`). Under load the per-commit cost is shared. Nothing waits for a timer, so a
lone message is not delayed.

Anything unusual in a batch (a closed or unknown conversation, an agent writing to a
conversation that is not theirs, a retried client_id, a database error) rolls the batch back,
and its messages are then written one by one by `messages.append`, which raises the
precise error for each (only SQLite's "database is locked" fails the whole batch at once).
Retried client_ids are looked up first and answered alone; the rest of the batch is retried
as a batch.
Each message is acknowledged only after its own commit, as before.

Messages commit in the order they were queued: on SQLite one commit is under way at a time; on
PostgreSQL, where several are, a conversation's messages wait while an earlier commit holds
some of that conversation's, so one sender's messages never race each other for their seqs.
A caller that must not start its next event before its message has its place (an agent's
socket pipelines its messages, realtime/base.py) finds out through `QUEUED`.
"""

from __future__ import annotations

import asyncio
import sqlite3
import weakref
from collections import Counter
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import Integer, bindparam, insert, select, text, update
from sqlalchemy.exc import DBAPIError

from chatserver.db import trip
from chatserver.db.engine import is_busy
from chatserver.db.models import Agent, Conversation, Message
from chatserver.db.rows import AnyMessage, MessageRow
from chatserver.services import messages, metrics
from chatserver.services.context import Context

MAX_BATCH = 256
_CONVERSATION = Conversation.__table__  # type: ignore[attr-defined]
_MESSAGE = Message.__table__  # type: ignore[attr-defined]
_RETURNING = (_CONVERSATION.c.id, _CONVERSATION.c.last_seq, _CONVERSATION.c.agent_id)
# Built once: the common batch has one conversation, and building a statement costs more
# than running it.
_SEQ_ONE = trip.Statement(
    update(_CONVERSATION)
    .where(_CONVERSATION.c.id == bindparam("cid"))
    .where(_CONVERSATION.c.state != "closed")
    .values(last_seq=_CONVERSATION.c.last_seq + bindparam("n", type_=Integer),
            last_activity_at=bindparam("now"))
    .returning(*_RETURNING),
    returns=_RETURNING,
)
_INSERT = trip.Statement(insert(_MESSAGE))


@dataclass
class Item:
    """One message waiting for a group commit."""

    conversation_id: str
    kind: str
    text: str
    client_key: str | None
    agent: Agent | None
    assigned_only: bool
    future: asyncio.Future[tuple[AnyMessage, int | None]] = field(repr=False)


class Fallback(Exception):
    """The batch needs the one-by-one path."""


# Set by a caller that wants to know when its message has its place in the order of commits;
# `append` sets its result then.
QUEUED: ContextVar[asyncio.Future[None] | None] = ContextVar("message_batch_queued",
                                                             default=None)


class _Batcher:
    """Messages waiting for a commit, and the commits under way: one at a time on SQLite (one
    writer anyway), up to IN_FLIGHT on PostgreSQL, whose transactions run side by side (each
    is a few round trips long; one at a time, the messages queued behind them)."""

    def __init__(self, in_flight: int) -> None:
        self.items: list[Item] = []
        self.in_flight = in_flight
        self.tasks: set[asyncio.Task[None]] = set()
        # Conversations with messages in a commit under way, and how many.
        self.busy: Counter[str] = Counter()

    def add(self, ctx: Context, item: Item) -> None:
        self.items.append(item)
        self._start(ctx)

    def _start(self, ctx: Context) -> None:
        while len(self.tasks) < self.in_flight:
            batch = self._take()
            if not batch:
                return
            task = asyncio.create_task(self._flight(ctx, batch))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    def _take(self) -> list[Item]:
        """The next batch in queue order, leaving the messages of conversations that have some
        in a commit under way for after it (so they cannot overtake those)."""
        if not self.busy:
            batch, self.items = self.items[:MAX_BATCH], self.items[MAX_BATCH:]
        else:
            batch, rest = [], []
            for item in self.items:
                if len(batch) < MAX_BATCH and item.conversation_id not in self.busy:
                    batch.append(item)
                else:
                    rest.append(item)
            self.items = rest
        self.busy.update(item.conversation_id for item in batch)
        return batch

    async def _flight(self, ctx: Context, batch: list[Item]) -> None:
        try:
            await _flush(ctx, batch)
        finally:
            self.busy.subtract(item.conversation_id for item in batch)
            self.busy = +self.busy  # drop the ones back at zero
            self.tasks.discard(asyncio.current_task())
            self._start(ctx)


IN_FLIGHT_POSTGRES = 4
_batchers: weakref.WeakKeyDictionary[Any, _Batcher] = weakref.WeakKeyDictionary()


async def append(
    ctx: Context, conversation_id: str, *, kind: str, text: str, client_key: str | None,
    agent: Agent | None = None, assigned_only: bool = False,
) -> tuple[AnyMessage, int | None]:
    """Like `messages.append` in a transaction of its own, committed when it returns:
    the stored message and the conversation's assigned agent id. Raises what that raises."""
    batcher = _batchers.get(ctx.db)
    if batcher is None:
        batcher = _batchers[ctx.db] = _Batcher(1 if ctx.settings.is_sqlite
                                               else IN_FLIGHT_POSTGRES)
    item = Item(conversation_id, kind, text, client_key, agent, assigned_only,
                 asyncio.get_running_loop().create_future())
    batcher.add(ctx, item)
    queued = QUEUED.get()
    if queued is not None and not queued.done():
        queued.set_result(None)
    return await item.future


async def _flush(ctx: Context, batch: list[Item]) -> None:
    try:
        results = await _commit(ctx, batch)
    except (Fallback, DBAPIError, sqlite3.Error) as error:
        if is_busy(error):
            # Another process held SQLite's lock for sqlite_busy_seconds: one by one, each
            # message would wait that long again. Every one of them fails alike, at once.
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(error)
            return
        retried = await _already_stored(ctx, batch)
        rest = [item for item in batch if item not in retried]
        # Clients resending after a reconnect put a few retried client_ids into batches of
        # new messages: answer those alone and keep the rest batched, or one retry would
        # send up to MAX_BATCH messages down the slow path (found by bench/restart.py).
        for item in retried:
            await _one_by_one(ctx, item)
        if retried and rest:
            await _flush(ctx, rest)
            return
        for item in rest:
            await _one_by_one(ctx, item)
        return
    except Exception as error:  # noqa: BLE001 - handed to every waiting caller
        for item in batch:
            if not item.future.done():
                item.future.set_exception(error)
        return
    except BaseException:
        for item in batch:
            item.future.cancel()
        raise
    for item, result in zip(batch, results, strict=True):
        metrics.count_message(ctx, item.kind)
        if not item.future.done():
            item.future.set_result(result)


async def _already_stored(ctx: Context, batch: list[Item]) -> list[Item]:
    """The items whose client_id is already stored in their conversation."""
    keys = {(item.conversation_id, item.client_key) for item in batch if item.client_key}
    if not keys:
        return []
    query = (select(_MESSAGE.c.conversation_id, _MESSAGE.c.client_key)
             .where(_MESSAGE.c.conversation_id.in_({cid for cid, _ in keys}))
             .where(_MESSAGE.c.client_key.in_({key for _, key in keys})))
    try:
        async with ctx.engine.connect() as connection:
            found = {(row[0], row[1]) for row in await connection.execute(query)}
    except (DBAPIError, sqlite3.Error):
        return []
    return [item for item in batch if (item.conversation_id, item.client_key) in found]


async def _one_by_one(ctx: Context, item: Item) -> None:

    try:
        async with ctx.db.begin() as session:
            result = await messages.append(ctx, session, item.conversation_id, kind=item.kind,
                                   text=item.text, client_key=item.client_key,
                                   agent=item.agent, assigned_only=item.assigned_only)
    except Exception as error:  # noqa: BLE001 - the caller's own error
        if not item.future.done():
            item.future.set_exception(error)
        return
    if not item.future.done():
        item.future.set_result(result)


async def _commit(ctx: Context, batch: list[Item]) -> list[tuple[MessageRow, int | None]]:
    now = ctx.clock()
    counts = Counter(item.conversation_id for item in batch)
    if ctx.settings.is_sqlite:
        # SQLite: the whole transaction in one trip to its thread (db/trip.py), one seq UPDATE
        # per conversation (each costs microseconds there).
        return await trip.write(ctx.engine, partial(_store, batch, counts, now))
    return await _commit_postgres(ctx, batch, counts, now)


# PostgreSQL: the whole batch is one statement, run outside a transaction block (so one round
# trip instead of BEGIN, UPDATE, INSERT, COMMIT). The seq UPDATE also checks each conversation
# (open; the agent's own where the message must be); when any of them fails that check, the
# INSERT divides by zero, which aborts the statement and with it the UPDATE, and the batch goes
# the one-by-one way that says what was wrong (as a unique violation from a retried client_id
# does).
BATCH_POSTGRES = trip.Statement(text("""
WITH counts AS (
    SELECT * FROM unnest(CAST(:cids AS varchar[]), CAST(:ns AS integer[]),
                         CAST(:required AS integer[])) AS c (cid, n, required)
), items AS (
    SELECT * FROM unnest(CAST(:ids AS varchar[]), CAST(:item_cids AS varchar[]),
                         CAST(:backs AS integer[]), CAST(:kinds AS varchar[]),
                         CAST(:agent_ids AS integer[]), CAST(:names AS varchar[]),
                         CAST(:texts AS text[]), CAST(:keys AS varchar[]))
        AS i (id, cid, back, kind, agent_id, name, text, client_key)
), seqs AS (
    UPDATE conversation SET last_seq = conversation.last_seq + counts.n,
                            last_activity_at = :now
    FROM counts
    WHERE conversation.id = counts.cid AND conversation.state <> 'closed'
      AND (counts.required IS NULL OR conversation.agent_id = counts.required)
    RETURNING conversation.id, conversation.last_seq, conversation.agent_id
), stored AS (
    INSERT INTO message (id, conversation_id, seq, author_kind, author_agent_id, author_name,
                         text, client_key, created_at)
    SELECT items.id, items.cid, seqs.last_seq - items.back, items.kind, items.agent_id,
           items.name, items.text, items.client_key, :now
    FROM items JOIN seqs ON seqs.id = items.cid
    WHERE 1 / CAST((SELECT count(*) FROM seqs) = :expected AS integer) = 1
    RETURNING 1
)
SELECT seqs.id, seqs.last_seq, seqs.agent_id, (SELECT count(*) FROM stored) FROM seqs
"""))


async def _commit_postgres(ctx: Context, batch: list[Item], counts: Counter[str], now: datetime
                           ) -> list[tuple[MessageRow, int | None]]:
    required: dict[str, int | None] = dict.fromkeys(counts)
    for item in batch:
        if item.assigned_only:
            if item.agent is None or required[item.conversation_id] not in (None, item.agent.id):
                raise Fallback  # two agents writing to one conversation: one of them may not
            required[item.conversation_id] = item.agent.id
    left = dict(counts)
    backs = []
    for item in batch:
        left[item.conversation_id] -= 1
        backs.append(left[item.conversation_id])  # how many of its conversation come after
    rows = [MessageRow(conversation_id=item.conversation_id, seq=0, author_kind=item.kind,
                       text=item.text, client_key=item.client_key, created_at=now,
                       author_agent_id=item.agent.id if item.agent else None,
                       author_name=item.agent.display_name if item.agent else None)
            for item in batch]
    values = {
        "cids": list(counts), "ns": list(counts.values()), "required": list(required.values()),
        "ids": [row.id for row in rows], "item_cids": [row.conversation_id for row in rows],
        "backs": backs, "kinds": [row.author_kind for row in rows],
        "agent_ids": [row.author_agent_id for row in rows],
        "names": [row.author_name for row in rows], "texts": [row.text for row in rows],
        "keys": [row.client_key for row in rows], "now": now, "expected": len(counts),
    }
    found = {cid: (last_seq, agent_id) for cid, last_seq, agent_id, _stored
             in await trip.alone(ctx.engine, BATCH_POSTGRES, values)}
    if len(found) != len(counts):
        raise Fallback  # nothing was stored: closed, unknown or not the agent's
    for row, back in zip(rows, backs, strict=True):
        row.seq = found[row.conversation_id][0] - back
    return [(row, found[row.conversation_id][1]) for row in rows]


def _store(batch: list[Item], counts: Counter[str], now: datetime,
           runner: trip.Runner) -> list[tuple[MessageRow, int | None]]:
    found: dict[str, tuple[int, int | None]] = {}
    for conversation_id, n in counts.items():
        rows = runner.rows(_SEQ_ONE, {"cid": conversation_id, "n": n, "now": now})
        if rows:
            found[conversation_id] = (rows[0][1], rows[0][2])
    results = _messages(batch, counts, found, now)
    runner.run(_INSERT, [m.values() for m, _ in results])
    return results


def _messages(batch: list[Item], counts: Counter[str], found: dict[str, tuple[int, int | None]],
              now: datetime) -> list[tuple[MessageRow, int | None]]:
    """The batch's messages with their seqs, given each conversation's new last seq and agent;
    Fallback when one is closed or unknown, or an agent writes where they may not."""
    if len(found) != len(counts):
        raise Fallback  # closed or unknown: the one-by-one path says which
    next_seq = {cid: found[cid][0] - n + 1 for cid, n in counts.items()}
    results: list[tuple[MessageRow, int | None]] = []
    for item in batch:
        agent_id = found[item.conversation_id][1]
        if item.assigned_only and (item.agent is None or agent_id != item.agent.id):
            raise Fallback
        seq = next_seq[item.conversation_id]
        next_seq[item.conversation_id] = seq + 1
        message = MessageRow(
            conversation_id=item.conversation_id, seq=seq, author_kind=item.kind,
            text=item.text, client_key=item.client_key, created_at=now,
            author_agent_id=item.agent.id if item.agent else None,
            author_name=item.agent.display_name if item.agent else None,
        )
        results.append((message, agent_id))
    return results
