"""Retention (DESIGN.md §5.5): the purge deletes exactly what is due, with an injected clock."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from chatserver.app import build_context
from chatserver.cli import main
from chatserver.db.models import (
    Agent,
    AgentSession,
    AuditEvent,
    Conversation,
    LoginFailure,
    Message,
    OfflineMessage,
    OutboxEmail,
)
from chatserver.services.context import Context
from chatserver.services.events import EventBus
from chatserver.services.privacy import retention
from chatserver.settings import Settings

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


@pytest.fixture
async def ctx(settings_factory: Callable[..., Settings]) -> AsyncIterator[Context]:
    context = build_context(settings_factory(privacy={"purge_batch_size": 10}), EventBus(None),
                            clock=lambda: NOW)
    yield context
    await context.engine.dispose()


def conversation(name: str, *, closed: float | None, active: float,
                 email: str | None = None) -> Conversation:
    return Conversation(id=name, token_hash=name.ljust(64, "0"), language="fi",
                        state="closed" if closed is not None else "active",
                        notice_version="v", notice_acknowledged_at=ago(active + 1),
                        created_at=ago(active + 1), last_activity_at=ago(active),
                        closed_at=None if closed is None else ago(closed),
                        transcript_email=email)


def email(name: str, status: str, created: float, sent: float | None = None) -> OutboxEmail:
    return OutboxEmail(id=name, kind="transcript", to_address=f"{name}@example.fi",
                       subject="s", body_text="b", language="fi", status=status,
                       created_at=ago(created), sent_at=None if sent is None else ago(sent))


async def populate(ctx: Context) -> None:
    rows: list[Any] = [
        conversation("closed_old", closed=61, active=61, email="gone@example.fi"),
        conversation("closed_recent", closed=59, active=59),
        conversation("closed_late", closed=10, active=10),  # long chat, closed recently
        conversation("open_abandoned", closed=None, active=61),
        conversation("open_recent", closed=None, active=1),
        OfflineMessage(id="offline_old", language="fi", name="A", email="a@example.fi",
                       text="old", notice_version="v", created_at=ago(60.01)),
        OfflineMessage(id="offline_new", language="fi", name="B", email="b@example.fi",
                       text="new", notice_version="v", created_at=ago(59.99)),
        email("sent_old", "sent", 9, sent=8), email("sent_new", "sent", 9, sent=6),
        email("failed_old", "failed", 8), email("failed_new", "failed", 6),
        email("pending_recent", "pending", 8), email("pending_stuck", "pending", 61),
        AuditEvent(at=ago(366), actor_kind="agent", action="old"),
        AuditEvent(at=ago(364), actor_kind="agent", action="recent"),
    ]
    async with ctx.db.begin() as session:
        session.add_all(rows)
    async with ctx.db.begin() as session:
        for conv, count in (("closed_old", 25), ("closed_recent", 3), ("closed_late", 2),
                            ("open_abandoned", 12), ("open_recent", 1)):
            for seq in range(1, count + 1):
                session.add(Message(conversation_id=conv, seq=seq, author_kind="visitor",
                                    text=f"{conv} {seq}", created_at=ago(70)))


async def ids(ctx: Context, model: Any, column: Any) -> set[Any]:
    async with ctx.db() as session:
        return set((await session.exec(select(column))).all())


async def test_purge_deletes_exactly_what_is_due(ctx: Context) -> None:
    await populate(ctx)
    due = await retention.due(ctx)
    assert due.as_dict() == {"messages": 37, "conversations": 2, "offline_messages": 1,
                             "emails": 3, "audit_events": 1}
    steps: list[tuple[str, int]] = []
    counts = await retention.purge(ctx, progress=lambda kind, n: steps.append((kind, n)))
    assert counts.as_dict() == due.as_dict()
    assert max(n for _kind, n in steps) <= 10  # batches of privacy.purge_batch_size
    assert await ids(ctx, Conversation, Conversation.id) == {
        "closed_recent", "closed_late", "open_recent"}
    assert {m.split()[0] for m in await ids(ctx, Message, Message.text)} == {
        "closed_recent", "closed_late", "open_recent"}
    assert await ids(ctx, OfflineMessage, OfflineMessage.id) == {"offline_new"}
    assert await ids(ctx, OutboxEmail, OutboxEmail.id) == {
        "sent_new", "failed_new", "pending_recent"}
    actions = await ids(ctx, AuditEvent, AuditEvent.action)
    assert actions == {"recent", "retention.purge"}
    async with ctx.db() as session:
        record = (await session.exec(
            select(AuditEvent).where(AuditEvent.action == "retention.purge"))).one()
    assert json.loads(record.detail)["deleted"]["messages"] == 37
    # Nothing more is due at the same moment; a day later the next conversation is.
    assert (await retention.purge(ctx)).total() == 0
    later = await retention.due(ctx, NOW + timedelta(days=1, minutes=1))
    assert later.conversations == 1 and later.messages == 3


async def test_purge_drops_expired_sessions_and_failed_logins_past_the_window(
        ctx: Context) -> None:
    """They hold only hashes, but nothing needs them once they are over; without the purge
    nothing else deletes them (a login only reads the failures inside the window)."""
    window = timedelta(minutes=ctx.settings.auth.login_window_minutes)
    async with ctx.db.begin() as session:
        agent = Agent(email="anna@example.fi", display_name="Anna", password_hash="x")
        session.add(agent)
        await session.flush()
        for name, expires in (("expired", NOW - timedelta(seconds=1)),
                              ("current", NOW + timedelta(hours=1))):
            session.add(AgentSession(token_hash=name.ljust(64, "0"), agent_id=agent.id or 0,
                                     csrf_token="c", created_at=NOW - timedelta(hours=12),
                                     expires_at=expires))
        session.add(LoginFailure(key_hash="old", created_at=NOW - window - timedelta(seconds=1)))
        session.add(LoginFailure(key_hash="recent", created_at=NOW - window / 2))
    await retention.purge(ctx)
    assert await ids(ctx, AgentSession, AgentSession.token_hash) == {"current".ljust(64, "0")}
    assert await ids(ctx, LoginFailure, LoginFailure.key_hash) == {"recent"}


async def test_retention_settings_decide_what_is_due(ctx: Context) -> None:
    await populate(ctx)
    ctx.settings.privacy.retention.conversations = 5
    ctx.settings.privacy.retention.sent_emails = 30
    due = await retention.due(ctx)
    assert due.conversations == 4 and due.messages == 42
    assert due.emails == 6  # no email outlives the conversation period
    ctx.settings.privacy.retention.conversations = 400
    assert (await retention.due(ctx)).as_dict()["emails"] == 0


async def test_purge_command_dry_run_and_progress(ctx: Context, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    await populate(ctx)
    config = tmp_path / "chat.toml"
    config.write_text(f'data_dir = "{tmp_path}"\n[privacy]\npurge_batch_size = 10\n'
                      "[privacy.retention]\nconversations = 3650\noffline_messages = 3650\n"
                      "sent_emails = 3650\naudit_events = 1\n")
    await asyncio.to_thread(main, ["--config", str(config), "purge", "--dry-run"])
    out = capsys.readouterr().out
    assert "nothing was deleted" in out and "audit_events" in out
    assert await ids(ctx, AuditEvent, AuditEvent.action) == {"old", "recent"}
    await asyncio.to_thread(main, ["--config", str(config), "purge"])
    captured = capsys.readouterr()
    assert "audit_events 2" in captured.out and "conversations 0" in captured.out
    assert "[" in captured.err and "2/2" in captured.err  # the progress bar


@pytest.mark.postgres
async def test_purge_on_postgresql(postgres_url: str) -> None:
    from chatserver.db import migrate
    from chatserver.settings import load_settings

    await asyncio.to_thread(migrate.upgrade, postgres_url)
    settings = load_settings(environ={}, overrides={
        "database_url": postgres_url, "privacy": {"purge_batch_size": 10}})
    pg = build_context(settings, EventBus(None), clock=lambda: NOW)
    try:
        await populate(pg)
        counts = await retention.purge(pg)
        assert counts.as_dict() == {"messages": 37, "conversations": 2, "offline_messages": 1,
                                    "emails": 3, "audit_events": 1}
        assert await ids(pg, Conversation, Conversation.id) == {
            "closed_recent", "closed_late", "open_recent"}
    finally:
        await pg.engine.dispose()


async def test_the_running_server_purges_on_its_own(chat_factory: Any) -> None:
    chat = await chat_factory(privacy={"purge_interval_minutes": 0.001})
    visitor = await chat.visitor()
    sent = await visitor.call("message", {"client_id": "1", "text": "vanhenee"})
    assert (await visitor.call("close", {}))["ok"] is True
    real = chat.ctx.clock
    chat.ctx.clock = lambda: real() + timedelta(days=61)  # the retention period has passed
    for _ in range(200):
        async with chat.ctx.db() as session:
            if await session.get(Conversation, sent["conversation"]["id"]) is None:
                break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the purge worker did not delete the expired conversation")
