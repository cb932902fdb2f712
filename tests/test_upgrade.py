"""Upgrading keeps the data (issue 17, docs/deployment.md "Upgrading"): a database made by the
first release's migration and filled as that release filled it (conversations, messages, outbox
rows) is migrated to the current head, on SQLite and on PostgreSQL, and every row reads back
through today's models. The rows are written in the first schema's own SQL, so a later
migration that renames, drops or mistypes a column loses them and this test fails."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from chatserver.db import migrate
from chatserver.db.models import Conversation, Message, OutboxEmail

FIRST_RELEASE = "0001"
AT = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
FIRST_RELEASE_ROWS = [
    ("INSERT INTO conversation (id, token_hash, state, language, agent_id, notice_version, "
     "notice_acknowledged_at, last_seq, created_at, last_activity_at, transcript_email) "
     "VALUES (:id, :token, :state, 'fi', NULL, 'v1', :at, 2, :at, :at, :email)",
     [{"id": "c-open", "token": "a" * 64, "state": "queued", "at": AT, "email": None},
      {"id": "c-closed", "token": "b" * 64, "state": "closed", "at": AT,
       "email": "ville@example.fi"}]),
    ("INSERT INTO message (id, conversation_id, seq, author_kind, text, client_key, created_at) "
     "VALUES (:id, :conversation, :seq, 'visitor', :text, :key, :at)",
     [{"id": f"m-{c}-{n}", "conversation": c, "seq": n, "text": f"Hei {c} {n}",
       "key": f"v:{c}{n}", "at": AT} for c in ("c-open", "c-closed") for n in (1, 2)]),
    ("INSERT INTO outbox_email (id, kind, to_address, subject, body_text, language, status, "
     "attempts, next_attempt_at, created_at, conversation_id) VALUES (:id, 'transcript', "
     "'ville@example.fi', 'Keskusteluhistoria', 'Hei', 'fi', 'pending', 0, :at, :at, "
     "'c-closed')", [{"id": "e-1", "at": AT}]),
]


async def _fill_first_release(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        for statement, rows in FIRST_RELEASE_ROWS:
            await connection.execute(text(statement), rows)
    await engine.dispose()


async def _read_back(url: str) -> tuple[list[tuple[str, str, str | None]], list[str],
                                          list[tuple[str, str]]]:
    engine = create_async_engine(url)
    async with AsyncSession(engine) as session:
        conversations = [(c.id, c.state, c.transcript_email) for c in (await session.exec(
            select(Conversation).order_by(col(Conversation.id)))).all()]
        messages = [m.text for m in (await session.exec(
            select(Message).order_by(col(Message.conversation_id), col(Message.seq)))).all()]
        emails = [(e.id, e.status) for e in (await session.exec(select(OutboxEmail))).all()]
    await engine.dispose()
    return conversations, messages, emails


async def _upgrade_keeps_the_rows(url: str) -> None:
    await asyncio.to_thread(migrate.upgrade, url, FIRST_RELEASE)
    await _fill_first_release(url)
    await asyncio.to_thread(migrate.upgrade, url, "head")
    engine = create_async_engine(url)
    assert await migrate.current_revision(engine) == migrate.head_revision()
    await engine.dispose()
    conversations, messages, emails = await _read_back(url)
    assert conversations == [("c-closed", "closed", "ville@example.fi"),
                             ("c-open", "queued", None)]
    assert messages == ["Hei c-closed 1", "Hei c-closed 2", "Hei c-open 1", "Hei c-open 2"]
    assert emails == [("e-1", "pending")]


async def test_a_first_release_sqlite_database_upgrades_with_nothing_lost(tmp_path: Path) -> None:
    await _upgrade_keeps_the_rows(f"sqlite+aiosqlite:///{tmp_path / 'chatserver.db'}")


@pytest.mark.postgres
async def test_a_first_release_postgres_database_upgrades_with_nothing_lost(
        postgres_url: str) -> None:
    await _upgrade_keeps_the_rows(postgres_url)
