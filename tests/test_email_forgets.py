"""Delivered means forgotten (issue 19, DESIGN.md privacy rule 8): once an email is delivered to
a real aiosmtpd server, or fails for good, its addresses and bodies are gone from the database
file and its WAL, and what stays (kind, status, times, the keyed hash of the recipient) still
lets a data-subject request by address find that an email was sent."""

from __future__ import annotations

import json
from typing import Any

from chatserver.services.email import outbox
from chatserver.services.privacy.rights import Actor, find
from chatserver.services.tokens import keyed_hash
from tests import mailserver
from tests.mailserver import TEAM, Clock, Smtp, all_sent, failed_count, outbox_rows, until

smtp = mailserver.smtp
mail_chat = mailserver.mail_chat

TRANSCRIPT_TO = "transcript.reader@example.fi"
FORM_FROM = "form.writer@example.fi"
REPLY_TEXT = "Vastaus: tilauksesi 88812 lähtee huomenna"


async def test_delivered_transcript_receipt_and_reply_leave_no_address_or_text(
        mail_chat: Any, smtp: Smtp) -> None:
    smtp.start()
    chat = await mail_chat(Clock())
    agent = await chat.agent("anna@example.fi", "Anna")
    visitor = await chat.visitor("fi")
    opened = await visitor.call("message", {"client_id": "v1", "text": "Hei, kysyn tilauksesta"})
    conversation_id = opened["conversation"]["id"]
    assert (await agent.call("claim", {"conversation_id": conversation_id}))["ok"]
    assert (await visitor.call("transcript", {"email": TRANSCRIPT_TO}))["ok"]
    assert (await agent.call("close", {"conversation_id": conversation_id}))["ok"]
    (transcript,) = await smtp.inbox.wait(TRANSCRIPT_TO)
    transcript_subject = str(transcript["Subject"])

    other = await chat.visitor("fi")
    left = await other.call("offline_message", {"name": "Lomakkeen Lähettäjä",
                                                "email": FORM_FROM, "text": "Soittakaa"})
    assert left["ok"], left
    await smtp.inbox.wait(TEAM)
    (receipt,) = await smtp.inbox.wait(FORM_FROM)
    http = await chat.login("anna@example.fi")
    csrf = {"X-CSRF-Token": http.headers_csrf}  # type: ignore[attr-defined]
    async with http.post(f"{chat.url}/api/v1/offline-messages/{left['id']}/reply",
                         json={"text": REPLY_TEXT}, headers=csrf) as response:
        assert response.status == 202, await response.text()
    await smtp.inbox.wait(FORM_FROM, 2)
    await until(lambda: all_sent(chat))

    rows = await outbox_rows(chat)
    assert {r.kind for r in rows} == {"transcript", "offline_notice", "offline_receipt", "reply"}
    for row in rows:
        assert (row.to_address, row.reply_to, row.subject, row.body_text, row.body_html) == \
            ("", None, "", "", None), row.kind
        assert row.recipient_hash and row.sent_at is not None
    # The transcript's address was only in the email; the reply's text only in the reply. (The
    # form writer's address stays in the offline message itself, for its own retention.) The
    # WAL is checkpointed just after the status commits, so give that a moment.
    gone = [t.encode() for t in (TRANSCRIPT_TO, REPLY_TEXT, transcript_subject,
                                 str(receipt["Subject"]))]

    async def forgotten() -> bool:
        raw = chat.database_bytes()
        return not any(text in raw for text in gone)

    await until(forgotten)
    raw = chat.database_bytes()
    assert b"Hei, kysyn tilauksesta" in raw  # the conversation's own message stays

    found = await find(chat.ctx, Actor("cli"), TRANSCRIPT_TO)
    assert [e["kind"] for e in found["emails"]] == ["transcript"]
    assert [c["id"] for c in found["conversations"]] == [conversation_id]
    assert keyed_hash(chat.ctx.record_key, TRANSCRIPT_TO) not in json.dumps(found)


async def test_an_email_that_fails_for_good_is_forgotten_too(mail_chat: Any,
                                                             smtp: Smtp) -> None:
    smtp.inbox.refuse.add(TRANSCRIPT_TO)  # answered 550: a final failure at once
    smtp.start()
    chat = await mail_chat(Clock())
    async with chat.ctx.db.begin() as session:
        outbox.queue(chat.ctx, session, kind="reply", to=TRANSCRIPT_TO, subject="Aihe",
                     body_text=REPLY_TEXT, language="fi")
    await until(lambda: failed_count(chat, 1))
    (row,) = await outbox_rows(chat)
    assert (row.to_address, row.subject, row.body_text) == ("", "", "")
    assert row.last_error and "550" in row.last_error  # the SMTP reply stays

    async def forgotten() -> bool:  # the WAL is checkpointed just after the status commits
        raw = chat.database_bytes()
        return REPLY_TEXT.encode() not in raw and TRANSCRIPT_TO.encode() not in raw

    await until(forgotten)
