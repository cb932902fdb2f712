"""A batch of two or more messages on SQLite, with the statements run in one hand-off to
aiosqlite's thread (docs/performance.md).

Through SQLAlchemy's aiosqlite adapter every statement is about four round trips to that thread
(cursor, execute, fetch, close), and under load those hand-offs were the largest cost of the hot
path. Here the transaction is still begun and committed by SQLAlchemy (so this process's write
gate and BEGIN IMMEDIATE apply, see db/engine.py), but the seq UPDATE ... RETURNING and the
multi-row INSERT run together as one function inside the thread. The SQL is the same as
message_batch's; a lone message still goes through SQLAlchemy (tests/test_query_counts.py).
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from chatserver.db.models import Agent, Conversation, Message, new_id
from chatserver.services.context import Context


@dataclass
class Item:
    """One message waiting for a group commit (message_batch.py)."""

    conversation_id: str
    kind: str
    text: str
    client_key: str | None
    agent: Agent | None
    assigned_only: bool
    future: asyncio.Future[tuple[Message, int | None]] = field(repr=False)


class Fallback(Exception):
    """The batch needs the one-by-one path."""


_INSERT = ("INSERT INTO message (id, conversation_id, seq, author_kind, author_agent_id, "
           "author_name, text, client_key, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")


def _update_sql(conversations: int) -> str:
    whens = " ".join("WHEN ? THEN ?" for _ in range(conversations))
    marks = ", ".join("?" for _ in range(conversations))
    # Only placeholders are put together here; every value is a parameter.
    return (f"UPDATE conversation SET last_seq = last_seq + CASE id {whens} END, "  # noqa: S608
            f"last_activity_at = ? WHERE id IN ({marks}) AND state != 'closed' "
            "RETURNING id, last_seq, agent_id")


def _run(db: sqlite3.Connection, counts: dict[str, int], moment: Any,
         rows: list[list[Any]], assigned: list[int | None]) -> list[tuple[int, int | None]] | None:
    """In aiosqlite's thread: seqs for every row (in order), or None for the one-by-one path."""
    params: list[Any] = [value for pair in counts.items() for value in pair]
    params += [moment, *counts]
    found = {cid: (last, agent) for cid, last, agent in
             db.execute(_update_sql(len(counts)), params).fetchall()}
    if len(found) != len(counts):
        return None  # closed or unknown
    next_seq = {cid: found[cid][0] - n + 1 for cid, n in counts.items()}
    result = []
    for row, must_be in zip(rows, assigned, strict=True):
        agent_id = found[row[1]][1]
        if must_be is not None and agent_id != must_be:
            return None  # an agent writing to a conversation that is not theirs
        row[2] = next_seq[row[1]]
        next_seq[row[1]] += 1
        result.append((row[2], agent_id))
    db.executemany(_INSERT, rows)  # a retried client_id raises IntegrityError: one by one
    return result


def _bind(model: Any, column: str, engine: Any, value: Any) -> Any:
    processor = model.__table__.c[column].type._cached_bind_processor(engine.dialect)
    return processor(value) if processor else value


async def commit(ctx: Context, batch: list[Item]) -> list[tuple[Message, int | None]] | None:
    """Store the batch in one transaction; None when aiosqlite is not what it expects."""
    engine = ctx.engine
    now = ctx.clock()
    # Stored exactly as SQLAlchemy stores these columns' datetimes.
    moment, activity = _bind(Message, "created_at", engine, now), _bind(
        Conversation, "last_activity_at", engine, now)
    counts: dict[str, int] = {}
    for item in batch:
        counts[item.conversation_id] = counts.get(item.conversation_id, 0) + 1
    rows = [[new_id(), item.conversation_id, 0, item.kind,
             item.agent.id if item.agent else None,
             item.agent.display_name if item.agent else None,
             item.text, item.client_key, moment] for item in batch]
    assigned = [(item.agent.id if item.agent else -1) if item.assigned_only else None
                for item in batch]
    async with engine.begin() as connection:  # the write gate and BEGIN IMMEDIATE: db/engine.py
        raw = await connection.get_raw_connection()
        aio = raw.driver_connection
        run_in_thread = getattr(aio, "_execute", None)
        db = getattr(aio, "_conn", None)
        if run_in_thread is None or db is None:
            return None
        seqs = await run_in_thread(_run, db, counts, activity, rows, assigned)
        if seqs is None:
            raise Fallback  # rolls the transaction back
    return [
        (Message(id=row[0], conversation_id=row[1], seq=seq, author_kind=row[3],
                 author_agent_id=row[4], author_name=row[5], text=row[6], client_key=row[7],
                 created_at=now), agent_id)
        for row, (seq, agent_id) in zip(rows, seqs, strict=True)
    ]
