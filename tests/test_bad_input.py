"""Bad input of every kind gets an error ack in the contract's shape, in the caller's language;
the connection stays usable and nothing stored changes."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func
from sqlmodel import select

from chatserver.db.models import Conversation, Message
from tests.helpers import Chat


async def _counts(chat: Chat) -> tuple[int, int]:
    async with chat.ctx.db() as session:
        conversations = (await session.exec(select(func.count()).select_from(Conversation))).one()
        messages = (await session.exec(select(func.count()).select_from(Message))).one()
    return int(conversations), int(messages)


def _error(ack: Any, code: str) -> str:
    assert isinstance(ack, dict) and ack["ok"] is False, ack
    assert ack["error"]["code"] == code, ack
    assert isinstance(ack["error"]["message"], str) and ack["error"]["message"]
    return str(ack["error"]["message"])


BAD_MESSAGES = [
    ({"text": "no client id"}, "invalid_input"),
    ({"client_id": "a"}, "invalid_input"),
    ({"client_id": "a", "text": 42}, "invalid_input"),
    ({"client_id": 7, "text": "number id"}, "invalid_input"),
    ({"client_id": "a", "text": "hi", "extra": True}, "invalid_input"),
    ({"client_id": "a", "text": "   \n\t  "}, "invalid_input"),
    ({"client_id": "a", "text": "x" * 4001}, "too_large"),
    ({"client_id": "a", "text": "nul \x00 byte"}, "invalid_input"),
    ({"client_id": "a", "text": "lone \ud800 surrogate"}, "invalid_input"),
    ({"client_id": "", "text": "empty id"}, "invalid_input"),
    ({"client_id": "a" * 65, "text": "long id"}, "too_large"),
    ({"client_id": "a", "text": {"nested": ["deep"]}}, "invalid_input"),
    (["not", "an", "object"], "invalid_input"),
    ("just a string", "invalid_input"),
    (12345, "invalid_input"),
]


async def test_each_bad_visitor_message_is_refused_and_nothing_is_stored(chat: Chat) -> None:
    visitor = await chat.visitor("en")
    good = await visitor.call("message", {"client_id": "ok1", "text": "a real question"})
    assert good["ok"]
    before = await _counts(chat)
    for payload, code in BAD_MESSAGES:
        _error(await visitor.call("message", payload), code)
    assert await _counts(chat) == before
    after = await visitor.call("message", {"client_id": "ok2", "text": "still works"})
    assert after["ok"] and after["message"]["seq"] == 2


async def test_errors_come_in_the_visitors_language(chat: Chat) -> None:
    finnish = await chat.visitor("fi")
    swedish = await chat.visitor("sv-FI")
    english = await chat.visitor("en")
    payload = {"client_id": "a", "text": "x" * 4001}
    assert "liian pitkä" in _error(await finnish.call("message", payload), "too_large")
    assert "för långt" in _error(await swedish.call("message", payload), "too_large")
    assert "too long" in _error(await english.call("message", payload), "too_large")


@pytest.mark.parametrize("event,payload", [
    ("history", {"after_seq": -1}),
    ("history", {"after_seq": "3"}),
    ("history", {"after_seq": 1.5}),
    ("typing", {"typing": "yes"}),
    ("handoff", {"please": 1}),
    ("close", []),
    ("transcript", {"email": "not an address"}),
    ("transcript", {"email": "a@example.fi\r\nBcc: victim@example.com"}),
    ("offline_message", {"name": "A", "email": "bad", "text": "hi"}),
    ("offline_message", {"name": "", "email": "a@example.fi", "text": "hi"}),
    ("offline_message", {"name": "A\r\nX-Evil: 1", "email": "a@example.fi", "text": "hi"}),
    ("no_such_event", {}),
    ("__init__", {}),
])
async def test_bad_visitor_events_get_invalid_input(chat: Chat, event: str, payload: Any) -> None:
    visitor = await chat.visitor("en")
    await visitor.call("message", {"client_id": "1", "text": "open"})
    before = await _counts(chat)
    _error(await visitor.call(event, payload), "invalid_input")
    assert await _counts(chat) == before
    assert (await visitor.call("history", {"after_seq": 0}))["ok"]


async def test_extra_arguments_are_refused(chat: Chat) -> None:
    visitor = await chat.visitor("en")
    ack = await visitor.sio.call("message", ({"client_id": "1", "text": "a"}, "surplus"),
                                 namespace="/visitor", timeout=5)
    _error(ack, "invalid_input")


async def test_visitor_cannot_reach_another_conversation(chat: Chat) -> None:
    first = await chat.visitor("en")
    second = await chat.visitor("en")
    await first.call("message", {"client_id": "1", "text": "private to the first visitor"})
    await second.call("message", {"client_id": "1", "text": "second"})
    history = await second.call("history", {"after_seq": 0})
    assert [m["text"] for m in history["messages"]] == ["second"]
    # A made-up token resumes nothing: the visitor gets a fresh token and no conversation.
    stranger = await chat.visitor("en", token="not-a-real-token")
    assert stranger.welcome["conversation"] is None
    assert stranger.welcome["token"] != "not-a-real-token"


async def test_agent_events_on_conversations_that_are_not_theirs(chat: Chat) -> None:
    owner = await chat.agent("owner@example.fi", "Owner")
    other = await chat.agent("other@example.fi", "Other")
    visitor = await chat.visitor("en")
    opened = await visitor.call("message", {"client_id": "1", "text": "hello"})
    conversation_id = opened["conversation"]["id"]
    # Before anyone claims it, nobody may write into it.
    _error(await other.call("message", {"conversation_id": conversation_id, "client_id": "x",
                                        "text": "sneaky"}), "forbidden")
    assert (await owner.call("claim", {"conversation_id": conversation_id}))["ok"]
    before = await _counts(chat)
    _error(await other.call("message", {"conversation_id": conversation_id, "client_id": "x",
                                        "text": "not mine"}), "forbidden")
    _error(await other.call("history", {"conversation_id": conversation_id}), "forbidden")
    _error(await other.call("close", {"conversation_id": conversation_id}), "forbidden")
    _error(await other.call("transfer", {"conversation_id": conversation_id,
                                         "agent_id": owner.welcome["agent"]["id"]}), "forbidden")
    _error(await other.call("typing", {"conversation_id": conversation_id, "typing": True}),
           "forbidden")
    _error(await other.call("claim", {"conversation_id": "nope"}), "not_found")
    _error(await other.call("claim", {"conversation_id": 5}), "invalid_input")
    _error(await other.call("presence", {"status": "asleep"}), "invalid_input")
    assert await _counts(chat) == before
    ok = await owner.call("message", {"conversation_id": conversation_id, "client_id": "y",
                                      "text": "mine"})
    assert ok["ok"], ok


async def test_transfer_needs_an_online_agent(chat: Chat) -> None:
    owner = await chat.agent("owner@example.fi", "Owner")
    await chat.add_agent("offline@example.fi", "Offline")
    visitor = await chat.visitor("en")
    opened = await visitor.call("message", {"client_id": "1", "text": "hello"})
    conversation_id = opened["conversation"]["id"]
    await owner.call("claim", {"conversation_id": conversation_id})
    agents = await owner.http.get(f"{chat.url}/api/v1/agents")  # type: ignore[union-attr]
    assert agents.status == 403  # an agent is not an admin
    from chatserver.services import agents as agent_service

    offline = await agent_service.get_by_email(chat.ctx, "offline@example.fi")
    _error(await owner.call("transfer", {"conversation_id": conversation_id,
                                         "agent_id": offline.id}), "unavailable")


async def test_closed_conversation_refuses_new_messages(chat: Chat) -> None:
    visitor = await chat.visitor("en")
    await visitor.call("message", {"client_id": "1", "text": "hello"})
    assert (await visitor.call("close", {}))["ok"]
    assert (await visitor.call("close", {}))["ok"]  # closing twice is harmless
    _error(await visitor.call("message", {"client_id": "2", "text": "again"}), "closed")
    # The retry of an acknowledged message still returns the original.
    retry = await visitor.call("message", {"client_id": "1", "text": "hello"})
    assert retry["ok"] and retry["message"]["seq"] == 1


async def test_per_connection_rate_limit(chat_factory: Any) -> None:
    chat = await chat_factory(limits={"events_per_second": 2, "event_burst": 3})
    visitor = await chat.visitor("en")
    acks = [await visitor.call("history", {"after_seq": 0}) for _ in range(5)]
    assert [a["ok"] for a in acks[:3]] == [True, True, True]
    _error(acks[3], "rate_limited")
    await asyncio.sleep(0.6)
    assert (await visitor.call("history", {"after_seq": 0}))["ok"]


async def test_event_sent_before_the_namespace_connect_is_ignored_safely(chat: Chat) -> None:
    """A raw client sends an event to /visitor before connecting to it, then connects."""
    version = await chat.notice_version()
    async with aiohttp.ClientSession() as http, http.ws_connect(
        f"{chat.url}/socket.io/?EIO=4&transport=websocket"
    ) as ws:
        assert (await ws.receive_str()).startswith("0")
        await ws.send_str('42/visitor,1["message",{"client_id":"early","text":"too early"}]')
        await ws.send_str("40/visitor," + json.dumps({"notice_version": version, "lang": "en"}))
        frames = []
        while not any(f.startswith('42/visitor,["welcome"') for f in frames):
            frames.append(await asyncio.wait_for(ws.receive_str(), 5))
        assert not any(f.startswith("43/visitor,1") for f in frames)  # no ack for the early one
        await ws.send_str('42/visitor,2["message",{"client_id":"late","text":"now"}]')
        while True:
            frame = await asyncio.wait_for(ws.receive_str(), 5)
            if frame.startswith("43/visitor,2"):
                assert json.loads(frame[len("43/visitor,2"):])[0]["ok"] is True
                break
    async with chat.ctx.db() as session:
        texts = (await session.exec(select(Message.text))).all()
    assert list(texts) == ["now"]
