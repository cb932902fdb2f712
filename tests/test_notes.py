"""Agents' private notes (issue 21): agents see them, the visitor never does (socket, history,
transcript email at a real SMTP server); they are in the admin's export and gone after erase."""

from __future__ import annotations

import json
from typing import Any

from tests.helpers import Chat, everything_received
from tests.mailserver import (
    TEAM,
    VISITOR,
    Clock,
    Smtp,
    email_parts,
    mail_chat,  # noqa: F401  (fixture)
    smtp,  # noqa: F401  (fixture)
)
from tests.test_rights import admin_post, audit_rows

NOTE = "NOTE-4d2e asiakas on kysynyt tätä ennenkin, ks. tilaus qzwvtilaus77"

assert TEAM  # the team address the transcripts reply to (used by mail_chat)


async def _claimed(chat: Chat, agent: Any, text: str = "Hei, kysymys", lang: str = "fi",
                   email: str | None = None) -> tuple[Any, str]:
    visitor = await chat.visitor(lang)
    sent = await visitor.call("message", {"client_id": "v1", "text": text})
    assert sent["ok"] is True, sent
    conversation_id = sent["conversation"]["id"]
    if email:
        assert (await visitor.call("transcript", {"email": email}))["ok"]
    assert (await agent.call("claim", {"conversation_id": conversation_id}))["ok"]
    return visitor, conversation_id


async def test_a_note_reaches_agents_only_and_never_the_visitor(
        mail_chat: Any, smtp: Smtp) -> None:  # noqa: F811
    smtp.start()
    chat = await mail_chat(Clock())
    agent = await chat.agent("anna@example.fi", "Anna")
    second_tab = await chat.agent("anna@example.fi")  # the same agent in another tab
    admin = await chat.agent("dpo@example.fi", "Dora", role="admin")
    visitor, conversation_id = await _claimed(chat, agent, email=VISITOR)

    added = await agent.call("note", {"conversation_id": conversation_id, "client_id": "n1",
                                      "text": NOTE})
    assert added["ok"] is True, added
    note = added["note"]
    assert note["text"] == NOTE and note["author"] == {"kind": "agent", "name": "Anna"}
    assert note["after_seq"] >= 1
    again = await agent.call("note", {"conversation_id": conversation_id, "client_id": "n1",
                                      "text": NOTE})
    assert again["note"]["id"] == note["id"]  # a retry is stored once
    assert (await second_tab.next("note"))["id"] == note["id"]
    # Another agent may not write in a conversation that is not theirs; an admin may read it.
    other = await chat.agent("bertil@example.fi", "Bertil")
    refused = await other.call("note", {"conversation_id": conversation_id, "client_id": "x",
                                        "text": "ei minun"})
    assert refused["ok"] is False and refused["error"]["code"] == "forbidden"
    read = await admin.call("history", {"conversation_id": conversation_id})
    assert [n["text"] for n in read["notes"]] == [NOTE]
    mine = await agent.call("history", {"conversation_id": conversation_id, "after_seq": 0})
    assert [n["id"] for n in mine["notes"]] == [note["id"]]

    reply = await agent.call("message", {"conversation_id": conversation_id, "client_id": "a1",
                                         "text": "Vastaus"})
    assert reply["ok"]
    await visitor.next("message", where=lambda m: m["text"] == "Vastaus")
    history = await visitor.call("history", {"after_seq": 0})
    assert NOTE not in json.dumps(history, ensure_ascii=False)
    exported = await visitor.call("export", {})  # their own export comes on their socket too
    assert exported["ok"] is True and exported["data"]["conversations"]
    assert NOTE not in json.dumps(exported, ensure_ascii=False)
    seen = everything_received(visitor)
    assert any(event == "conversation" for event, _ in seen)  # can fail: it does record
    assert NOTE not in json.dumps(seen, ensure_ascii=False)
    assert all(event != "note" for event, _ in seen)
    assert (await visitor.call("close", {}))["ok"]
    (message,) = await smtp.inbox.wait(VISITOR)
    plain, rich = email_parts(message)
    assert "Vastaus" in plain  # the transcript is there, so its missing note means something
    assert "NOTE-4d2e" not in plain and "NOTE-4d2e" not in rich
    rows = await audit_rows(chat)
    assert any(r.action == "note.add" and r.target_id == conversation_id for r in rows)
    assert all("NOTE-4d2e" not in (r.detail or "") for r in rows)


async def test_a_note_is_in_the_export_and_gone_after_the_erase(chat: Chat) -> None:
    admin = await chat.agent("dpo@example.fi", "Dora", role="admin")
    agent = await chat.agent("anna@example.fi", "Anna")
    address = "liisa@example.fi"
    _visitor, conversation_id = await _claimed(chat, agent, email=address)
    assert (await agent.call("note", {"conversation_id": conversation_id, "client_id": "n1",
                                      "text": NOTE}))["ok"]
    assert NOTE.encode() in chat.database_bytes()  # can fail: the note is stored

    status, exported = await admin_post(admin.http, chat, "/api/v1/dsar/export",
                                        {"email": address})
    assert status == 200, exported
    (conversation,) = exported["data"]["conversations"]
    assert [n["text"] for n in conversation["notes"]] == [NOTE]

    status, erased = await admin_post(admin.http, chat, "/api/v1/dsar/erase", {"email": address})
    assert status == 200, erased
    after = chat.database_bytes()
    assert b"NOTE-4d2e" not in after
    # The words of the note are gone from the search index too.
    for word in (b"ennenkin", b"qzwvtilaus77"):
        assert word not in after, word
