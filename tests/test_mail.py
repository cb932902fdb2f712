"""Email end to end against a real aiosmtpd server on a loopback port: transcripts, the offline
form, agent replies, retries while the server is down, restarts, and header safety."""

from __future__ import annotations

import asyncio
import email
import email.policy
import mailbox
import threading
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from babel.dates import format_datetime
from sqlmodel import select

from chatserver.app import create_app
from chatserver.db.models import AuditEvent, Conversation, OutboxEmail
from chatserver.services import offline, outbox
from chatserver.services.conversations import Visitor
from chatserver.settings import ConfigError, load_settings
from tests.conftest import Chat, free_port

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
async def mail_chat(aiohttp_server: Any, settings_factory: Callable[..., Any], smtp: Smtp
                    ) -> AsyncIterator[Callable[..., Any]]:
    """Start the real app (clock injected) whose SMTP host is the test server."""
    started: list[Chat] = []

    async def factory(clock: Clock, settings: dict[str, Any] | None = None,
                      **smtp_overrides: Any) -> Chat:
        settings = settings_factory(**(settings or {}), smtp={
            "host": "127.0.0.1", "port": smtp.port, "security": "none",
            "from_address": "chat@example.fi", "team_address": TEAM, "timeout": 5,
            **smtp_overrides,
        })
        app = create_app(settings, clock=clock)
        server = await aiohttp_server(app, port=settings.port)
        chat = Chat(server, settings, app)
        started.append(chat)
        return chat

    yield factory
    for chat in started:
        await chat.close()


async def _rows(chat: Chat) -> list[OutboxEmail]:
    async with chat.ctx.db() as session:
        return list((await session.exec(select(OutboxEmail))).all())


async def _until(predicate: Callable[[], Any], timeout: float = 5) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.02)


def _parts(message: EmailMessage) -> tuple[str, str]:
    plain = message.get_body(("plain",))
    rich = message.get_body(("html",))
    assert plain is not None and rich is not None
    text, markup = plain.get_content(), rich.get_content()  # type: ignore[attr-defined]
    return text.replace("\r\n", "\n"), markup.replace("\r\n", "\n")


async def _chat_with_transcript(chat: Chat, lang: str) -> tuple[Any, Any, str]:
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


async def _check_transcript(chat: Chat, smtp: Smtp, clock: Clock, conversation_id: str,
                            lang: str, subject_start: str, you: str, retention: str) -> None:
    (message,) = await smtp.inbox.wait(VISITOR)
    assert message["Subject"].startswith(subject_start)
    assert message["Reply-To"] == TEAM and message["From"] == "chat@example.fi"
    plain, rich = _parts(message)
    when = format_datetime(clock.now, "short", tzinfo=ZoneInfo("Europe/Helsinki"), locale=lang)
    for text in (f"[{when}] {you}:", "Hello <b>& bye</b>", "Anna:", "    Line one\n    line two",
                 retention):
        assert text in plain, (text, plain)
    assert "Hello &lt;b&gt;&amp; bye&lt;/b&gt;" in rich and "<b>&" not in rich
    assert f'lang="{lang}"' in rich and when in rich

    async def marked_sent() -> bool:
        return [r.status for r in await _rows(chat)] == ["sent"]

    await _until(marked_sent)  # the worker marks the row right after the server's 250
    async with chat.ctx.db() as session:
        conversation = await session.get(Conversation, conversation_id)
    assert conversation is not None and conversation.transcript_email is None
    clock.advance(hours=1)
    assert await outbox.run_once(chat.ctx) == 0
    assert len(smtp.inbox.to(VISITOR)) == 1
    assert [r.status for r in await _rows(chat)] == ["sent"]


async def test_transcript_in_finnish_when_the_visitor_closes(mail_chat: Any, smtp: Smtp) -> None:
    smtp.start()
    clock = Clock()
    chat = await mail_chat(clock, {"privacy": {"retention": {"conversations": 30}}})
    _agent, visitor, conversation_id = await _chat_with_transcript(chat, "fi")
    assert (await visitor.call("close", {}))["ok"]
    await _check_transcript(chat, smtp, clock, conversation_id, "fi", "Keskusteluhistoriasi",
                            "Sinä", "Säilytämme tätä keskustelua 30 päivää")


async def test_transcript_in_swedish_when_the_agent_closes(mail_chat: Any, smtp: Smtp) -> None:
    smtp.start()
    clock = Clock()
    chat = await mail_chat(clock)
    agent, _visitor, conversation_id = await _chat_with_transcript(chat, "sv")
    assert (await agent.call("close", {"conversation_id": conversation_id}))["ok"]
    await _check_transcript(chat, smtp, clock, conversation_id, "sv", "Din chatthistorik",
                            "Du", "Vi sparar den här konversationen i 60 dagar")


async def test_transcript_in_english_after_the_idle_timeout(mail_chat: Any, smtp: Smtp) -> None:
    smtp.start()
    clock = Clock()
    chat = await mail_chat(clock, transcript_idle_minutes=30)
    _agent, visitor, conversation_id = await _chat_with_transcript(chat, "en")
    written = clock.now
    clock.advance(minutes=29)
    outbox.wake(chat.ctx)
    await asyncio.sleep(0.2)
    assert smtp.inbox.to(VISITOR) == []  # not idle long enough yet
    clock.advance(minutes=2)
    outbox.wake(chat.ctx)
    ended = await visitor.next("conversation", where=lambda c: c["state"] == "closed")
    assert ended["id"] == conversation_id
    clock.now = written  # the messages were written then; check their times as written
    await _check_transcript(chat, smtp, clock, conversation_id, "en", "Your chat transcript",
                            "You", "We keep this conversation for 60 days")


async def test_offline_form_notifies_the_team_and_an_agent_reply_arrives(
    mail_chat: Any, smtp: Smtp
) -> None:
    smtp.start()
    chat = await mail_chat(Clock())
    visitor = await chat.visitor("sv")
    left = await visitor.call("offline_message", {"name": "Greta Gäst", "email": VISITOR,
                                                  "text": "Har ni öppet på lördag?"})
    assert left["ok"], left
    (notice,) = await smtp.inbox.wait(TEAM)
    assert notice["Reply-To"] == VISITOR
    assert "Greta Gäst" in notice["Subject"]
    assert "Har ni öppet på lördag?" in notice.get_content()
    (receipt,) = await smtp.inbox.wait(VISITOR)
    assert receipt["Subject"] == "Vi har tagit emot ditt meddelande"
    assert "lördag" not in receipt.get_content()  # the receipt repeats nothing typed

    await chat.add_agent("anna@example.fi", "Anna")
    http = await chat.login("anna@example.fi")
    csrf = {"X-CSRF-Token": http.headers_csrf}  # type: ignore[attr-defined]
    async with http.get(f"{chat.url}/api/v1/offline-messages?handled=false") as response:
        inbox = (await response.json())["offline_messages"]
    assert [m["id"] for m in inbox] == [left["id"]] and inbox[0]["email"] == VISITOR
    async with http.post(f"{chat.url}/api/v1/offline-messages/{left['id']}/reply",
                         json={"text": "Ja, 10–14."}, headers=csrf) as response:
        assert response.status == 202, await response.text()
    answers = await smtp.inbox.wait(VISITOR, 2)
    answer = answers[-1]
    assert answer["Subject"] == "Sv: ditt meddelande"
    assert answer["Reply-To"] == TEAM
    assert "Ja, 10–14." in answer.get_content() and "> Har ni öppet på lördag?" in \
        answer.get_content()
    await _until(lambda: _all_sent(chat))
    async with http.get(f"{chat.url}/api/v1/offline-messages") as response:
        (item,) = (await response.json())["offline_messages"]
    assert item["handled_at"] is not None and item["replies"][0]["status"] == "sent"
    async with http.post(f"{chat.url}/api/v1/offline-messages/nope/reply",
                         json={"text": "x"}, headers=csrf) as response:
        assert response.status == 404


async def test_smtp_down_at_close_then_up_delivers_exactly_once(
    mail_chat: Any, smtp: Smtp
) -> None:
    clock = Clock()
    chat = await mail_chat(clock)
    _agent, visitor, _conversation_id = await _chat_with_transcript(chat, "fi")
    assert (await visitor.call("close", {}))["ok"]

    async def tried() -> bool:
        rows = await _rows(chat)
        return bool(rows) and rows[0].attempts == 1 and rows[0].last_error is not None

    await _until(tried)
    (row,) = await _rows(chat)
    assert row.status == "pending" and row.next_attempt_at > clock.now
    smtp.start()
    clock.advance(seconds=29)
    assert await outbox.run_once(chat.ctx) == 0  # backing off, not due yet
    clock.advance(seconds=2)
    outbox.wake(chat.ctx)
    await smtp.inbox.wait(VISITOR)
    await _until(lambda: _all_sent(chat))
    clock.advance(hours=2)
    await outbox.run_once(chat.ctx)
    assert len(smtp.inbox.to(VISITOR)) == 1
    (row,) = await _rows(chat)
    assert row.status == "sent" and row.attempts == 2


async def test_temporary_refusal_retries_and_permanent_failures_are_audited(
    mail_chat: Any, smtp: Smtp
) -> None:
    smtp.start()
    smtp.inbox.data_replies.append("451 4.3.0 try again later")
    smtp.inbox.refuse.add("nobody@example.fi")
    clock = Clock()
    chat = await mail_chat(clock, max_attempt_hours=1, receipt_to_visitor=False)
    visitor = await chat.visitor("en")
    await visitor.call("offline_message", {"name": "A", "email": "nobody@example.fi",
                                           "text": "first"})
    await _until(lambda: _retried(chat, 1))
    assert smtp.inbox.to(TEAM) == []
    clock.advance(seconds=31)
    outbox.wake(chat.ctx)
    await smtp.inbox.wait(TEAM)  # the 451 was retried

    # A refused recipient fails at once; a server that stays down fails after the max time.
    async with chat.ctx.db.begin() as session:
        outbox.queue(chat.ctx, session, kind="reply", to="nobody@example.fi", subject="s",
                     body_text="b", language="en")
    await _until(lambda: _failed(chat, 1))
    smtp.stop()
    async with chat.ctx.db.begin() as session:
        outbox.queue(chat.ctx, session, kind="reply", to=VISITOR, subject="s", body_text="b",
                     language="en")
    for _ in range(12):
        clock.advance(minutes=10)
        await outbox.run_once(chat.ctx)
    await _until(lambda: _failed(chat, 2))
    async with chat.ctx.db() as session:
        audited = (await session.exec(
            select(AuditEvent).where(AuditEvent.action == "email.failed"))).all()
    assert len(audited) == 2 and all("@" not in a.detail for a in audited)
    await chat.add_agent("admin@example.fi", "Ada", "admin")
    http = await chat.login("admin@example.fi")
    async with http.get(f"{chat.url}/api/v1/outbox?status=failed") as response:
        failed = (await response.json())["emails"]
    assert len(failed) == 2 and all(e["last_error"] for e in failed)


async def _retried(chat: Chat, count: int) -> bool:
    """`count` rows have failed an attempt and wait for their next one."""
    rows = await _rows(chat)
    return sum(r.status == "pending" and r.last_error is not None for r in rows) == count


async def _all_sent(chat: Chat) -> bool:
    return all(r.status == "sent" for r in await _rows(chat))


async def _failed(chat: Chat, count: int) -> bool:
    return sum(r.status == "failed" for r in await _rows(chat)) == count


async def test_malformed_addresses_get_invalid_input(mail_chat: Any, smtp: Smtp) -> None:
    chat = await mail_chat(Clock())
    visitor = await chat.visitor("fi")
    await visitor.call("message", {"client_id": "m", "text": "hei"})
    for bad in ("not an address", "a@b", "a@@example.fi", "x@example.fi\r\nBcc: y@example.fi",
                "ä" * 70 + "@example.fi"):
        answer = await visitor.call("transcript", {"email": bad})
        assert answer["ok"] is False and answer["error"]["code"] == "invalid_input", answer
        answer = await visitor.call("offline_message", {"name": "N", "email": bad, "text": "t"})
        assert answer["ok"] is False and answer["error"]["code"] == "invalid_input", answer
    assert "sähköpostiosoite" in answer["error"]["message"]
    assert await _rows(chat) == []


async def test_header_injection_attempts_are_harmless(mail_chat: Any, smtp: Smtp) -> None:
    smtp.start()
    chat = await mail_chat(Clock(), receipt_to_visitor=False)
    visitor = await chat.visitor("en")
    sneaky = "Eve\r\nBcc: victim@example.fi\r\nSubject: cheap pills"
    refused = await visitor.call("offline_message", {"name": sneaky, "email": VISITOR,
                                                     "text": "hi"})
    assert refused["error"]["code"] == "invalid_input"
    # Straight to the service, past the socket's validation: still one header each.
    who = Visitor(token_hash="x" * 64, language="en", notice_version="v")
    await offline.leave_message(chat.ctx, who, sneaky, VISITOR, "<script>alert(1)</script>")
    (notice,) = await smtp.inbox.wait(TEAM)
    assert smtp.inbox.received[0][0] == [TEAM]
    assert notice["Bcc"] is None and len(notice.get_all("Subject")) == 1
    assert "\n" not in notice["Subject"] and "Eve Bcc: victim@example.fi" in notice["Subject"]
    assert notice["Reply-To"] == VISITOR


async def test_pending_emails_are_sent_after_a_restart(
    mail_chat: Any, smtp: Smtp
) -> None:
    clock = Clock()
    first = await mail_chat(clock)
    visitor = await first.visitor("fi")
    left = await visitor.call("offline_message", {"name": "Pekka", "email": VISITOR,
                                                  "text": "Soittakaa"})
    assert left["ok"]
    await _until(lambda: _retried(first, 2))
    await first.close()
    await first.server.close()  # the node stops with two emails pending

    smtp.start()
    clock.advance(minutes=5)
    await mail_chat(clock)  # a new node on the same database
    await smtp.inbox.wait(TEAM)
    await smtp.inbox.wait(VISITOR)
    await asyncio.sleep(0.1)
    assert len(smtp.inbox.received) == 2


async def test_without_smtp_host_emails_go_to_the_maildir(mail_chat: Any, smtp: Smtp) -> None:
    chat = await mail_chat(Clock(), host="")
    visitor = await chat.visitor("en")
    assert (await visitor.call("offline_message", {"name": "Mia", "email": VISITOR,
                                                   "text": "Hello"}))["ok"]

    await _until(lambda: _all_sent(chat))
    box = mailbox.Maildir(f"{chat.settings.data_dir}/maildir", create=False)
    recipients = sorted(str(m["To"]) for m in box)
    assert recipients == sorted([TEAM, VISITOR])


async def test_transcripts_can_be_turned_off(mail_chat: Any, smtp: Smtp) -> None:
    chat = await mail_chat(Clock(), transcripts=False)
    visitor = await chat.visitor("sv")
    await visitor.call("message", {"client_id": "m", "text": "hej"})
    answer = await visitor.call("transcript", {"email": VISITOR})
    assert answer["error"]["code"] == "forbidden"
    assert answer["error"]["message"] == "Att skicka chatthistoriken per e-post är avstängt."


@pytest.mark.parametrize(("overrides", "key"), [
    ({"from_address": "not-an-address"}, "smtp.from_address"),
    ({"team_address": "team@"}, "smtp.team_address"),
    ({"security": "ssl"}, "smtp.security"),
    ({"host": "smtp://mail.example.fi:25"}, "smtp.host"),
    ({"max_attempt_hours": 0}, "smtp.max_attempt_hours"),
])
def test_bad_smtp_settings_stop_start_up_naming_the_key(overrides: dict[str, Any],
                                                        key: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(environ={}, overrides={"smtp": overrides})
    assert str(error.value).startswith(f"configuration: {key}:")
