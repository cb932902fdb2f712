"""Data-subject rights (DESIGN.md §5.6): the visitor's export and erase, and the admin's
requests by email address over REST and the CLI. Every act is audited without message text."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from sqlmodel import select

from chatserver.cli import main
from chatserver.db.models import AuditEvent, Conversation, Message, OfflineMessage, OutboxEmail
from tests.helpers import Chat


async def start_chat(chat: Chat, text: str, email: str | None = None,
                     lang: str = "fi") -> tuple[Any, str]:
    visitor = await chat.visitor(lang)
    sent = await visitor.call("message", {"client_id": "c1", "text": text})
    assert sent["ok"] is True, sent
    if email:
        ack = await visitor.call("transcript", {"email": email})
        assert ack["ok"] is True, ack
    return visitor, sent["conversation"]["id"]


async def audit_rows(chat: Chat) -> list[AuditEvent]:
    async with chat.ctx.db() as session:
        return list((await session.exec(select(AuditEvent))).all())


def assert_audit_holds_no(rows: list[AuditEvent], *secrets: str) -> None:
    for row in rows:
        flat = json.dumps([row.action, row.actor_id, row.target_id, row.detail])
        for secret in secrets:
            assert secret.lower() not in flat.lower(), (row.action, secret)


async def test_visitor_export_has_everything_about_them_and_nothing_about_another(
        chat: Chat) -> None:
    agent = await chat.agent("anna@example.fi", "Anna")
    mine, mine_id = await start_chat(chat, "minun kysymykseni", "mina@example.fi")
    other, other_id = await start_chat(chat, "toisen salaisuus", "toinen@example.fi")
    claimed = await agent.call("claim", {"conversation_id": mine_id})
    assert claimed["ok"] is True
    await agent.call("message", {"conversation_id": mine_id, "client_id": "a", "text": "vastaus"})
    await mine.next("message", where=lambda m: m["text"] == "vastaus")

    exported = await mine.call("export", {})
    assert exported["ok"] is True, exported
    data = exported["data"]
    [conversation] = data["conversations"]
    assert conversation["id"] == mine_id
    assert conversation["transcript_email"] == "mina@example.fi"
    assert conversation["agent"] == "Anna" and conversation["notice_version"]
    texts = [m["text"] for m in conversation["messages"]]
    assert "minun kysymykseni" in texts and "vastaus" in texts
    dump = json.dumps(data, ensure_ascii=False)
    for foreign in ("toisen salaisuus", "toinen@example.fi", other_id, "anna@example.fi"):
        assert foreign not in dump
    assert {"at", "action", "actor", "target"} <= set(data["access_log"][0])
    assert any(e["action"] == "conversation.read" for e in data["access_log"])
    rows = await audit_rows(chat)
    assert any(r.action == "conversation.export" and r.target_id == mine_id for r in rows)
    assert_audit_holds_no(rows, "minun kysymykseni", "vastaus", "mina@example.fi")
    nothing = await chat.visitor("en")
    empty = await nothing.call("export", {})
    assert empty["ok"] is True and empty["data"]["conversations"] == []
    del other


async def test_erase_leaves_no_trace_in_the_database_file_or_its_wal(chat: Chat) -> None:
    agent = await chat.agent("anna@example.fi", "Anna")
    secret_text, secret_email = "ERASE-ME-7f3a9 salainen viesti", "erase.me.7f3a9@example.fi"
    keep_text = "KEEP-ME-2b8c1 toinen keskustelu"
    visitor, conversation_id = await start_chat(chat, secret_text, secret_email)
    await start_chat(chat, keep_text)
    assert (await agent.call("claim", {"conversation_id": conversation_id}))["ok"]
    more = await visitor.call("message", {"client_id": "c2", "text": secret_text + " 2"})
    assert more["ok"] is True
    before = chat.database_bytes()
    assert secret_text.encode() in before and secret_email.encode() in before  # can fail

    erased = await visitor.call("erase", {})
    assert erased["ok"] is True, erased
    gone = await agent.next("conversation", where=lambda c: c.get("erased"))
    assert gone["id"] == conversation_id

    after = chat.database_bytes()
    assert secret_text.encode() not in after
    assert secret_email.encode() not in after
    assert keep_text.encode() in after  # only that conversation went
    async with agent.http.get(  # type: ignore[union-attr]
            f"{chat.url}/api/v1/conversations/{conversation_id}") as response:
        assert response.status == 404
    async with chat.ctx.db() as session:
        assert await session.get(Conversation, conversation_id) is None
        assert not (await session.exec(
            select(Message).where(Message.conversation_id == conversation_id))).all()
    rows = await audit_rows(chat)
    assert any(r.action == "conversation.erase" and r.actor_kind == "visitor" for r in rows)
    assert_audit_holds_no(rows, "ERASE-ME", secret_email)
    # The visitor can start again; the erased conversation is not resumed.
    again = await visitor.call("message", {"client_id": "c3", "text": "uusi alku"})
    assert again["ok"] is True and again["conversation"]["id"] != conversation_id


async def admin_post(http: Any, chat: Chat, path: str, body: Any) -> tuple[int, Any]:
    async with http.post(f"{chat.url}{path}", json=body,
                         headers={"X-CSRF-Token": http.headers_csrf}) as response:
        return response.status, await response.json()


async def test_admin_finds_exports_and_erases_everything_for_an_address(chat: Chat) -> None:
    admin = await chat.agent("dpo@example.fi", "Dora", role="admin")
    agent = await chat.agent("anna@example.fi", "Anna")
    address = "Liisa.Visitor@Example.fi"
    _v1, first = await start_chat(chat, "ensimmäinen keskustelu", address)
    visitor2, second = await start_chat(chat, "toinen keskustelu", "liisa.visitor@example.fi")
    left = await visitor2.call("offline_message", {"name": "Liisa", "email": address,
                                                   "text": "jätetty viesti"})
    assert left["ok"] is True, left
    _other, other_id = await start_chat(chat, "muiden asia", "other@example.fi")
    http = admin.http

    async with agent.http.get(  # type: ignore[union-attr]
            f"{chat.url}/api/v1/dsar?email=liisa.visitor@example.fi") as response:
        assert response.status == 403
    async with http.get(  # type: ignore[union-attr]
            f"{chat.url}/api/v1/dsar?email=LIISA.visitor@example.fi") as response:
        found = await response.json()
    assert {c["id"] for c in found["conversations"]} == {first, second}
    assert [m["id"] for m in found["offline_messages"]] == [left["id"]]

    status, exported = await admin_post(http, chat, "/api/v1/dsar/export",
                                        {"email": "liisa.visitor@example.fi"})
    assert status == 200, exported
    data = exported["data"]
    dump = json.dumps(data, ensure_ascii=False)
    for expected in ("ensimmäinen keskustelu", "toinen keskustelu", "jätetty viesti", "Liisa"):
        assert expected in dump
    assert "muiden asia" not in dump and "other@example.fi" not in dump and other_id not in dump
    # A delivered email keeps no address: it is found by the address's keyed hash.
    assert all((e["to"] or "").lower() == "liisa.visitor@example.fi" or e["reply_to"]
               or (e["to"] is None and e["status"] in ("sent", "failed"))
               for e in data["emails"])

    status, erased = await admin_post(http, chat, "/api/v1/dsar/erase",
                                      {"email": "liisa.visitor@example.fi"})
    assert status == 200 and erased["erased"]["conversations"] == 2
    assert erased["erased"]["offline_messages"] == 1
    async with chat.ctx.db() as session:
        assert {c.id for c in (await session.exec(select(Conversation))).all()} == {other_id}
        assert not (await session.exec(select(OfflineMessage))).all()
        remaining = (await session.exec(select(OutboxEmail))).all()
        assert all("liisa" not in (e.to_address + (e.reply_to or "")).lower() for e in remaining)
    rows = await audit_rows(chat)
    assert {"dsar.find", "dsar.export", "dsar.erase"} <= {r.action for r in rows}
    assert_audit_holds_no(rows, "liisa", "keskustelu", "jätetty viesti")
    status, bad = await admin_post(http, chat, "/api/v1/dsar/erase", {"email": "not an address"})
    assert status == 400 and bad["error"]["code"] == "invalid_input"


async def test_cli_exports_and_erases_by_email(chat: Chat, tmp_path: Path) -> None:
    await start_chat(chat, "komentorivin testi", "cli.person@example.fi")
    _other, other_id = await start_chat(chat, "pysyy tallessa", "someone@example.fi")
    config = tmp_path / "cli.toml"
    config.write_text(f'data_dir = "{chat.settings.data_dir}"\n')
    output = tmp_path / "export.json"
    await asyncio.to_thread(main, ["--config", str(config), "dsar", "export",
                                   "--email", "cli.person@example.fi", "--output", str(output)])
    data = json.loads(output.read_text())
    assert data["conversations"][0]["messages"][0]["text"] == "komentorivin testi"
    assert "pysyy tallessa" not in output.read_text()
    await asyncio.to_thread(main, ["--config", str(config), "dsar", "erase",
                                   "--email", "cli.person@example.fi", "--yes"])
    async with chat.ctx.db() as session:
        assert {c.id for c in (await session.exec(select(Conversation))).all()} == {other_id}
    rows = await audit_rows(chat)
    assert [r.actor_kind for r in rows if r.action.startswith("dsar.")] == ["cli"] * 3


async def test_a_sent_transcript_still_ties_the_conversation_to_the_address(chat: Chat) -> None:
    from sqlalchemy import update

    from chatserver.services.privacy import rights

    _visitor, conversation_id = await start_chat(chat, "lähetetty historia")
    # The state the email worker leaves: the transcript row sent, the address forgotten.
    async with chat.ctx.db.begin() as session:
        session.add(OutboxEmail(kind="transcript", to_address="sent@example.fi",
                                subject="Keskusteluhistoria", body_text="lähetetty historia",
                                language="fi", status="sent", sent_at=chat.ctx.clock(),
                                conversation_id=conversation_id))
        await session.exec(update(Conversation).values(transcript_email=None))
    actor = rights.Actor("cli")
    found = await rights.find(chat.ctx, actor, "Sent@example.fi")
    assert [c["id"] for c in found["conversations"]] == [conversation_id]
    assert [e["kind"] for e in found["emails"]] == ["transcript"]
    erased = await rights.erase_by_email(chat.ctx, actor, "sent@example.fi")
    assert erased == {"conversations": 1, "offline_messages": 0, "emails": 1}
