"""Search of stored messages and notes (issue 21, `GET /api/v1/search`): inflected forms where
the index's configuration allows (porter on SQLite, snowball per language on PostgreSQL), the
filters, who may see what, the audit without the words, and an index that forgets what an
erase or the purge deleted, down to the database's bytes."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlencode

import pytest

from chatserver.db import migrate
from chatserver.services.privacy import retention
from tests.helpers import Chat
from tests.mailserver import Clock
from tests.test_rights import audit_rows


async def _search(client: Any, chat: Chat, **query: str) -> tuple[int, Any]:
    async with client.http.get(f"{chat.url}/api/v1/search?{urlencode(query)}") as response:
        return response.status, await response.json()


async def _conversation(chat: Chat, agent: Any, text: str, lang: str) -> tuple[Any, str]:
    visitor = await chat.visitor(lang)
    sent = await visitor.call("message", {"client_id": "v1", "text": text})
    assert sent["ok"] is True, sent
    conversation_id = sent["conversation"]["id"]
    assert (await agent.call("claim", {"conversation_id": conversation_id}))["ok"]
    return visitor, conversation_id


def _marked(result: dict[str, Any]) -> list[str]:
    return [piece["text"] for piece in result["snippet"] if piece["match"]]


async def test_search_finds_inflected_forms_with_filters_and_own_chats_only(chat: Chat) -> None:
    admin = await chat.agent("dpo@example.fi", "Dora", role="admin")
    anna = await chat.agent("anna@example.fi", "Anna")
    bertil = await chat.agent("bertil@example.fi", "Bertil")
    _v1, english = await _conversation(chat, anna, "Hello\nI was promised refunds for both "
                                       "orders", "en")
    _v2, other = await _conversation(chat, bertil, "Where is my refund?", "en")
    assert (await anna.call("note", {"conversation_id": english, "client_id": "n1",
                                     "text": "Refunded once already in May"}))["ok"]

    status, found = await _search(admin, chat, q="refund")
    assert status == 200, found
    by_id = {r["id"]: r for r in found["results"]}
    assert {r["conversation_id"] for r in found["results"]} == {english, other}
    assert sorted(r["kind"] for r in found["results"]) == ["message", "message", "note"]
    message = next(r for r in found["results"] if r["conversation_id"] == english
                   and r["kind"] == "message")
    # The matching line, with the inflected word marked.
    assert "".join(p["text"] for p in message["snippet"]).startswith("I was promised")
    assert _marked(message) == ["refunds"]
    assert len(by_id) == 3

    _status, mine = await _search(anna, chat, q="refunds")
    assert {r["conversation_id"] for r in mine["results"]} == {english}
    _status, none = await _search(admin, chat, q="refund", language="fi")
    assert none["results"] == []
    _status, before = await _search(admin, chat, q="refund", to="2000-01-01")
    assert before["results"] == []
    status, empty = await _search(admin, chat, q="  ")
    assert status == 400 and empty["error"]["code"] == "invalid_input"
    status, bad = await _search(admin, chat, q="refund", **{"from": "yesterday"})
    assert status == 400 and "from" in bad["error"]["message"]

    searches = [r for r in await audit_rows(chat) if r.action == "conversation.search"]
    assert len(searches) == 4  # the refused ones are not searches
    assert all("refund" not in (r.detail or "") for r in searches)
    assert '"results": 3' in (searches[0].detail or "")


async def test_erased_and_purged_words_leave_the_index_and_the_file(
        chat_factory: Any) -> None:
    clock = Clock()
    chat: Chat = await chat_factory(clock=clock)
    admin = await chat.agent("dpo@example.fi", "Dora", role="admin")
    anna = await chat.agent("anna@example.fi", "Anna")
    erased_visitor, _erased = await _conversation(chat, anna, "My xyloquartz order", "en")
    purged_visitor, purged = await _conversation(chat, anna, "The zorbulated parcel", "en")
    kept_visitor, kept = await _conversation(chat, anna, "A kept xyloquartz question", "en")
    for word in ("xyloquartz", "zorbulated"):
        _status, found = await _search(admin, chat, q=word)
        assert found["results"], word  # can fail: both are found first

    assert (await erased_visitor.call("erase", {}))["ok"]
    _status, found = await _search(admin, chat, q="xyloquartz")
    assert [r["conversation_id"] for r in found["results"]] == [kept]
    assert b"My xyloquartz" not in chat.database_bytes()

    assert (await purged_visitor.call("close", {}))["ok"]
    clock.advance(days=2)
    assert (await kept_visitor.call("close", {}))["ok"]
    # Only the first is due when the clock has moved on (the kept one closed two days later).
    clock.advance(days=chat.settings.privacy.retention.conversations - 1)
    counts = await retention.purge(chat.ctx)
    assert counts.conversations == 1, counts
    admin = await chat.agent("dpo@example.fi")  # the old session has expired meanwhile
    _status, found = await _search(admin, chat, q="zorbulated")
    assert found["results"] == [], purged
    _status, found = await _search(admin, chat, q="xyloquartz")
    assert [r["conversation_id"] for r in found["results"]] == [kept]
    assert b"zorbulat" not in chat.database_bytes()  # nor the stem in the index


@pytest.mark.postgres
async def test_postgres_finds_swedish_and_finnish_inflections(
        chat_factory: Any, postgres_url: str) -> None:
    await asyncio.to_thread(migrate.upgrade, postgres_url)
    chat: Chat = await chat_factory(database_url=postgres_url)
    admin = await chat.agent("dpo@example.fi", "Dora", role="admin")
    anna = await chat.agent("anna@example.fi", "Anna")
    _v1, swedish = await _conversation(chat, anna, "Var är mina beställningar?", "sv")
    _v2, english = await _conversation(chat, anna, "Two parcels arrived broken", "en")
    _status, found = await _search(admin, chat, q="beställning", language="sv")
    assert [r["conversation_id"] for r in found["results"]] == [swedish]
    assert _marked(found["results"][0]) == ["beställningar"]
    _status, found = await _search(admin, chat, q="parcel")
    assert [r["conversation_id"] for r in found["results"]] == [english]
    _status, found = await _search(admin, chat, q="beställning", language="en")
    assert found["results"] == []
