"""The offline form, agent replies, failures and retries, restarts, header safety and the
[smtp] settings, against a real aiosmtpd server on a loopback port."""

from __future__ import annotations

import asyncio
import mailbox
from typing import Any

import pytest
from sqlmodel import select

from chatserver.db.models import AuditEvent
from chatserver.services.conversations import Visitor
from chatserver.services.email import offline, outbox
from chatserver.settings import ConfigError, load_settings
from tests import mailserver
from tests.mailserver import (
    TEAM,
    VISITOR,
    Clock,
    Smtp,
    all_sent,
    failed_count,
    outbox_rows,
    until,
    waiting_retry,
)

# The fixtures, shared with the other email tests.
smtp = mailserver.smtp
mail_chat = mailserver.mail_chat


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
    again = await visitor.call("offline_message", {"name": "Greta", "email": VISITOR,
                                                   "text": "Och söndag?"})
    await smtp.inbox.wait(TEAM, 2)
    await until(lambda: all_sent(chat))
    assert len(smtp.inbox.to(VISITOR)) == 1  # one receipt per address per hour

    await chat.add_agent("anna@example.fi", "Anna")
    http = await chat.login("anna@example.fi")
    csrf = {"X-CSRF-Token": http.headers_csrf}  # type: ignore[attr-defined]
    async with http.get(f"{chat.url}/api/v1/offline-messages?handled=false") as response:
        inbox = (await response.json())["offline_messages"]
    assert [m["id"] for m in inbox] == [again["id"], left["id"]]
    assert inbox[1]["email"] == VISITOR and inbox[1]["name"] == "Greta Gäst"
    async with http.post(f"{chat.url}/api/v1/offline-messages/{left['id']}/reply",
                         json={"text": "Ja, 10–14."}, headers=csrf) as response:
        assert response.status == 202, await response.text()
    answers = await smtp.inbox.wait(VISITOR, 2)
    answer = answers[-1]
    assert answer["Subject"] == "Sv: ditt meddelande"
    assert answer["Reply-To"] == TEAM
    assert "Ja, 10–14." in answer.get_content() and "> Har ni öppet på lördag?" in \
        answer.get_content()
    await until(lambda: all_sent(chat))
    async with http.get(f"{chat.url}/api/v1/offline-messages?handled=true") as response:
        (item,) = (await response.json())["offline_messages"]
    assert item["id"] == left["id"] and item["replies"][0]["status"] == "sent"
    async with http.post(f"{chat.url}/api/v1/offline-messages/nope/reply",
                         json={"text": "x"}, headers=csrf) as response:
        assert response.status == 404


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
    await until(lambda: waiting_retry(chat, 1))
    assert smtp.inbox.to(TEAM) == []
    clock.advance(seconds=31)
    outbox.wake(chat.ctx)
    await smtp.inbox.wait(TEAM)  # the 451 was retried

    # A refused recipient fails at once; a server that stays down fails after the max time.
    async with chat.ctx.db.begin() as session:
        outbox.queue(chat.ctx, session, kind="reply", to="nobody@example.fi", subject="s",
                     body_text="b", language="en")
    await until(lambda: failed_count(chat, 1))
    smtp.stop()
    async with chat.ctx.db.begin() as session:
        outbox.queue(chat.ctx, session, kind="reply", to=VISITOR, subject="s", body_text="b",
                     language="en")
    for _ in range(12):
        clock.advance(minutes=10)
        await outbox.run_once(chat.ctx)
    await until(lambda: failed_count(chat, 2))
    async with chat.ctx.db() as session:
        audited = (await session.exec(
            select(AuditEvent).where(AuditEvent.action == "email.failed"))).all()
    assert len(audited) == 2 and all("@" not in a.detail for a in audited)
    await chat.add_agent("admin@example.fi", "Ada", "admin")
    http = await chat.login("admin@example.fi")
    async with http.get(f"{chat.url}/api/v1/outbox?status=failed") as response:
        failed = (await response.json())["emails"]
    assert len(failed) == 2 and all(e["last_error"] for e in failed)


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
    assert await outbox_rows(chat) == []


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
    await until(lambda: waiting_retry(first, 2))
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

    await until(lambda: all_sent(chat))
    box = mailbox.Maildir(f"{chat.settings.data_dir}/maildir", create=False)
    recipients = sorted(str(m["To"]) for m in box)
    assert recipients == sorted([TEAM, VISITOR])


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
