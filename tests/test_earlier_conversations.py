"""Earlier conversations of the same visitor (issue 21): a widget that starts a new chat after
one sends the old one's key as `previous`; agents see the earlier ones in `history` while they
are stored, and the link goes with an erase. A key that matches nothing links nothing."""

from __future__ import annotations

from typing import Any

from tests.helpers import Chat, Client


async def _visitor(chat: Chat, **auth: Any) -> Client:
    client = Client("/visitor")
    await client.connect(chat.url, auth={"lang": "sv", "notice_version":
                                         await chat.notice_version(), **auth})
    chat.clients.append(client.sio)
    await client.next("welcome")
    return client


async def test_a_new_chat_after_one_shows_the_earlier_ones_while_stored(chat: Chat) -> None:
    agent = await chat.agent("anna@example.fi", "Anna")
    first = await _visitor(chat)
    token = first.welcome["token"]
    opened = await first.call("message", {"client_id": "v1", "text": "Första frågan"})
    first_id = opened["conversation"]["id"]
    assert (await first.call("close", {}))["ok"]
    await first.sio.disconnect()

    second = await _visitor(chat, previous=token)  # the widget's "New chat"
    assert second.welcome["conversation"] is None and second.welcome["token"] != token
    opened = await second.call("message", {"client_id": "v1", "text": "Andra frågan"})
    second_id = opened["conversation"]["id"]
    assert (await agent.call("claim", {"conversation_id": second_id}))["ok"]
    history = await agent.call("history", {"conversation_id": second_id})
    assert [e["id"] for e in history["earlier"]] == [first_id]
    assert history["earlier"][0]["language"] == "sv"
    assert "Första" not in repr(history["earlier"])  # when and in which language, not the text

    # A third chat links the chain; a stranger's made-up key links nothing.
    third = await _visitor(chat, previous=second.welcome["token"])
    opened = await third.call("message", {"client_id": "v1", "text": "Tredje"})
    third_id = opened["conversation"]["id"]
    assert (await agent.call("claim", {"conversation_id": third_id}))["ok"]
    history = await agent.call("history", {"conversation_id": third_id})
    assert [e["id"] for e in history["earlier"]] == [second_id, first_id]
    stranger = await _visitor(chat, previous="x" * 40)
    opened = await stranger.call("message", {"client_id": "v1", "text": "Hej"})
    assert (await agent.call("claim", {"conversation_id": opened["conversation"]["id"]}))["ok"]
    history = await agent.call("history", {"conversation_id": opened["conversation"]["id"]})
    assert history["earlier"] == []

    # The visitor erases the second: the chain stops where the stored ones stop.
    assert (await second.call("erase", {}))["ok"]
    history = await agent.call("history", {"conversation_id": third_id})
    assert history["earlier"] == []
