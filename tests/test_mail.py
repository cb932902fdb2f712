"""Transcript emails end to end against a real aiosmtpd server on a loopback port: one per
language and way of closing, complete, sent once, the address gone afterwards; SMTP down then up."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from chatserver.db import migrate
from chatserver.db.models import Conversation, Message
from chatserver.services import idle
from chatserver.services.email import outbox, transcripts
from tests import mailserver
from tests.mailserver import (
    VISITOR,
    Clock,
    Smtp,
    all_sent,
    chat_with_transcript,
    check_transcript,
    outbox_rows,
    until,
)

# The fixtures, shared with the other email tests.
smtp = mailserver.smtp
mail_chat = mailserver.mail_chat


async def test_transcript_in_finnish_when_the_visitor_closes(mail_chat: Any, smtp: Smtp) -> None:
    smtp.start()
    clock = Clock()
    chat = await mail_chat(clock, {"privacy": {"retention": {"conversations": 30}}})
    _agent, visitor, conversation_id = await chat_with_transcript(chat, "fi")
    assert (await visitor.call("close", {}))["ok"]
    await check_transcript(chat, smtp, clock, conversation_id, "fi", "Keskusteluhistoriasi",
                            "Sinä", "Säilytämme tätä keskustelua 30 päivää")


async def test_transcript_in_swedish_when_the_agent_closes(mail_chat: Any, smtp: Smtp) -> None:
    smtp.start()
    clock = Clock()
    chat = await mail_chat(clock)
    agent, _visitor, conversation_id = await chat_with_transcript(chat, "sv")
    assert (await agent.call("close", {"conversation_id": conversation_id}))["ok"]
    await check_transcript(chat, smtp, clock, conversation_id, "sv", "Din chatthistorik",
                            "Du", "Vi sparar den här konversationen i 60 dagar")


async def test_transcript_in_english_after_the_idle_timeout(mail_chat: Any, smtp: Smtp) -> None:
    smtp.start()
    clock = Clock()
    chat = await mail_chat(clock, transcript_idle_minutes=30)
    _agent, visitor, conversation_id = await chat_with_transcript(chat, "en")
    written = clock.now
    clock.advance(minutes=29)
    idle.wake(chat.ctx)
    await asyncio.sleep(0.2)
    assert smtp.inbox.to(VISITOR) == []  # not idle long enough yet
    clock.advance(minutes=2)
    idle.wake(chat.ctx)
    ended = await visitor.next("conversation", where=lambda c: c["state"] == "closed")
    assert ended["id"] == conversation_id
    clock.now = written  # the messages were written then; check their times as written
    await check_transcript(chat, smtp, clock, conversation_id, "en", "Your chat transcript",
                            "You", "We keep this conversation for 60 days")


async def test_idle_closing_is_the_chat_settings_own_and_the_old_key_still_works(
        mail_chat: Any, smtp: Smtp, caplog: pytest.LogCaptureFixture) -> None:
    smtp.start()
    clock = Clock()
    chat = await mail_chat(clock, settings={"chat": {"idle_close_minutes": 5}})
    assert chat.settings.chat.idle_close_minutes == 5 and not chat.settings.deprecations
    _agent, visitor, conversation_id = await chat_with_transcript(chat, "en")
    clock.advance(minutes=6)
    idle.wake(chat.ctx)
    ended = await visitor.next("conversation", where=lambda c: c["state"] == "closed")
    assert ended["id"] == conversation_id
    await until(lambda: _delivered(smtp))

    old = await mail_chat(Clock(), transcript_idle_minutes=30)
    assert old.settings.chat.idle_close_minutes == 30
    assert any("smtp.transcript_idle_minutes is deprecated" in r.getMessage()
               for r in caplog.records)


async def _delivered(smtp: Smtp) -> bool:
    return bool(smtp.inbox.to(VISITOR))


async def test_smtp_down_at_close_then_up_delivers_exactly_once(
    mail_chat: Any, smtp: Smtp
) -> None:
    clock = Clock()
    chat = await mail_chat(clock)
    _agent, visitor, _conversation_id = await chat_with_transcript(chat, "fi")
    assert (await visitor.call("close", {}))["ok"]

    async def tried() -> bool:
        rows = await outbox_rows(chat)
        return bool(rows) and rows[0].attempts == 1 and rows[0].last_error is not None

    await until(tried)
    (row,) = await outbox_rows(chat)
    assert row.status == "pending" and row.next_attempt_at > clock.now
    smtp.start()
    clock.advance(seconds=29)
    assert await outbox.run_once(chat.ctx) == 0  # backing off, not due yet
    clock.advance(seconds=2)
    outbox.wake(chat.ctx)
    await smtp.inbox.wait(VISITOR)
    await until(lambda: all_sent(chat))
    clock.advance(hours=2)
    await outbox.run_once(chat.ctx)
    assert len(smtp.inbox.to(VISITOR)) == 1
    (row,) = await outbox_rows(chat)
    assert row.status == "sent" and row.attempts == 2


async def test_transcripts_can_be_turned_off(mail_chat: Any, smtp: Smtp) -> None:
    chat = await mail_chat(Clock(), transcripts=False)
    visitor = await chat.visitor("sv")
    await visitor.call("message", {"client_id": "m", "text": "hej"})
    answer = await visitor.call("transcript", {"email": VISITOR})
    assert answer["error"]["code"] == "forbidden"
    assert answer["error"]["message"] == "Att skicka chatthistoriken per e-post är avstängt."


@pytest.mark.postgres
async def test_transcript_and_outbox_on_postgresql(mail_chat: Any, smtp: Smtp,
                                                   postgres_url: str) -> None:
    await asyncio.to_thread(migrate.upgrade, postgres_url)
    smtp.start()
    clock = Clock()
    chat = await mail_chat(clock, {"database_url": postgres_url})
    _agent, visitor, conversation_id = await chat_with_transcript(chat, "sv")
    assert (await visitor.call("close", {}))["ok"]
    await check_transcript(chat, smtp, clock, conversation_id, "sv", "Din chatthistorik",
                            "Du", "Vi sparar den här konversationen i 60 dagar")


async def test_a_very_long_transcript_is_cut_with_a_note(mail_chat: Any, smtp: Smtp) -> None:
    chat = await mail_chat(Clock())
    now = datetime.now(UTC)
    conversation = Conversation(token_hash="x" * 64, language="en", notice_version="v",
                                notice_acknowledged_at=now, created_at=now)
    messages = [Message(conversation_id=conversation.id, seq=n, author_kind="visitor",
                        text=f"message {n} " + "<" * 4000, created_at=now) for n in range(1, 61)]
    _subject, plain, rich = transcripts.render(chat.ctx, conversation, messages)
    assert "message 49 " in plain and "message 50 " not in plain
    assert "11 later messages are not included" in plain and rich.endswith("</html>")
    assert len(rich) <= outbox.MAX_BODY_CHARS
