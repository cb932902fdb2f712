"""Test helpers for email: a real aiosmtpd server on a loopback port, an injectable clock, and
the `smtp` / `mail_chat` fixtures (imported by tests/test_mail*.py)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from babel.dates import format_datetime
from sqlmodel import select

from chatserver.db.models import Conversation, OutboxEmail
from chatserver.services.email import outbox
from tests.helpers import Chat, free_port

TEAM = "team@example.fi"
VISITOR = "visitor@example.fi"


class Inbox:
    """aiosmtpd handler (runs in the controller's thread) that keeps every message."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received: list[tuple[list[str], EmailMessage]] = []
        self.data_replies: list[str] = []  # scripted answers to DATA, then 250
        self.refuse: set[str] = set()  # recipients answered with 550

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          options: Any) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            if self.data_replies:
                return self.data_replies.pop(0)
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            self.received.append((list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for rcpts, m in self.received if address in rcpts]

    async def wait(self, address: str, count: int = 1, timeout: float = 5) -> list[EmailMessage]:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.to(address)) < count:
            assert asyncio.get_running_loop().time() < deadline, f"no email to {address}"
            await asyncio.sleep(0.02)
        return self.to(address)


class Smtp:
    def __init__(self) -> None:
        self.port = free_port()
        self.inbox = Inbox()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def smtp() -> Any:
    server = Smtp()
    yield server
    server.stop()


@pytest.fixture
def mail_chat(chat_factory: Callable[..., Any], smtp: Smtp) -> Callable[..., Any]:
    """Start the real app (clock injected) whose SMTP host is the test server."""

    async def factory(clock: Clock, settings: dict[str, Any] | None = None,
                      **smtp_overrides: Any) -> Chat:
        chat: Chat = await chat_factory(clock=clock, **(settings or {}), smtp={
            "host": "127.0.0.1", "port": smtp.port, "security": "none",
            "from_address": "chat@example.fi", "team_address": TEAM, "timeout": 5,
            **smtp_overrides,
        })
        return chat

    return factory


async def outbox_rows(chat: Chat) -> list[OutboxEmail]:
    async with chat.ctx.db() as session:
        return list((await session.exec(select(OutboxEmail))).all())


async def until(predicate: Callable[[], Any], timeout: float = 5) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.02)


def email_parts(message: EmailMessage) -> tuple[str, str]:
    plain = message.get_body(("plain",))
    rich = message.get_body(("html",))
    assert plain is not None and rich is not None
    text, markup = plain.get_content(), rich.get_content()  # type: ignore[attr-defined]
    return text.replace("\r\n", "\n"), markup.replace("\r\n", "\n")


async def chat_with_transcript(chat: Chat, lang: str) -> tuple[Any, Any, str]:
    agent = await chat.agent(f"anna-{lang}@example.fi", "Anna")
    visitor = await chat.visitor(lang)
    opened = await visitor.call("message", {"client_id": "v1", "text": "Hello <b>& bye</b>"})
    conversation_id = opened["conversation"]["id"]
    assert (await agent.call("claim", {"conversation_id": conversation_id}))["ok"]
    reply = await agent.call("message", {"conversation_id": conversation_id, "client_id": "a1",
                                         "text": "Line one\nline two"})
    assert reply["ok"], reply
    asked = await visitor.call("transcript", {"email": VISITOR})
    assert asked == {"ok": True}
    return agent, visitor, conversation_id


async def check_transcript(chat: Chat, smtp: Smtp, clock: Clock, conversation_id: str,
                            lang: str, subject_start: str, you: str, retention: str) -> None:
    (message,) = await smtp.inbox.wait(VISITOR)
    assert message["Subject"].startswith(subject_start)
    assert message["Reply-To"] == TEAM and message["From"] == "chat@example.fi"
    plain, rich = email_parts(message)
    when = format_datetime(clock.now, "short", tzinfo=ZoneInfo("Europe/Helsinki"), locale=lang)
    for text in (f"[{when}] {you}:", "Hello <b>& bye</b>", "Anna:", "    Line one\n    line two",
                 retention):
        assert text in plain, (text, plain)
    assert "Hello &lt;b&gt;&amp; bye&lt;/b&gt;" in rich and "<b>&" not in rich
    assert f'lang="{lang}"' in rich and when in rich

    async def marked_sent() -> bool:
        return [r.status for r in await outbox_rows(chat)] == ["sent"]

    await until(marked_sent)  # the worker marks the row right after the server's 250
    async with chat.ctx.db() as session:
        conversation = await session.get(Conversation, conversation_id)
    assert conversation is not None and conversation.transcript_email is None
    clock.advance(hours=1)
    assert await outbox.run_once(chat.ctx) == 0
    assert len(smtp.inbox.to(VISITOR)) == 1
    assert [r.status for r in await outbox_rows(chat)] == ["sent"]


async def waiting_retry(chat: Chat, count: int) -> bool:
    """`count` rows have failed an attempt and wait for their next one."""
    rows = await outbox_rows(chat)
    return sum(r.status == "pending" and r.last_error is not None for r in rows) == count


async def all_sent(chat: Chat) -> bool:
    return all(r.status == "sent" for r in await outbox_rows(chat))


async def failed_count(chat: Chat, count: int) -> bool:
    return sum(r.status == "failed" for r in await outbox_rows(chat)) == count
