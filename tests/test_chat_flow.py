"""User stories of DESIGN.md §4: a visitor and an agent chat both ways, in order."""

from __future__ import annotations

import asyncio

from tests.helpers import Chat


async def test_visitor_and_agent_chat_both_ways_in_order(chat: Chat) -> None:
    agent = await chat.agent("anna@example.fi", "Anna")
    visitor = await chat.visitor("fi")
    assert visitor.welcome["conversation"] is None
    assert visitor.welcome["online"] is True

    first = await visitor.call("message", {"client_id": "c1", "text": "Hei, kysymys tilauksesta"})
    assert first["ok"] is True, first
    conversation_id = first["conversation"]["id"]
    assert first["message"]["seq"] == 1
    assert first["message"]["author"] == {"kind": "visitor"}
    assert first["conversation"]["state"] == "queued"

    queue = await agent.next("queue", where=lambda q: q["conversations"])
    assert [c["id"] for c in queue["conversations"]] == [conversation_id]

    claimed = await agent.call("claim", {"conversation_id": conversation_id})
    assert claimed["ok"] is True, claimed
    assert [m["text"] for m in claimed["conversation"]["messages"]][0] == "Hei, kysymys tilauksesta"
    state = await visitor.next("conversation", where=lambda c: c["state"] == "active")
    assert state["agent"] == {"name": "Anna"}

    sent = []
    for n in range(5):
        reply = await agent.call("message", {"conversation_id": conversation_id,
                                             "client_id": f"a{n}", "text": f"agent {n}"})
        assert reply["ok"] is True, reply
        sent.append(reply["message"])
        answer = await visitor.call("message", {"client_id": f"v{n}", "text": f"visitor {n}"})
        assert answer["ok"] is True, answer
        sent.append(answer["message"])

    got_by_visitor = [await visitor.next("message", where=lambda m: m["author"]["kind"] == "agent")
                      for _ in range(5)]
    assert [m["text"] for m in got_by_visitor] == [f"agent {n}" for n in range(5)]
    assert all(m["author"]["name"] == "Anna" for m in got_by_visitor)
    got_by_agent = [await agent.next("message", where=lambda m: m["author"]["kind"] == "visitor")
                    for _ in range(5)]
    assert [m["text"] for m in got_by_agent] == [f"visitor {n}" for n in range(5)]

    history = await visitor.call("history", {"after_seq": 0})
    seqs = [m["seq"] for m in history["messages"]]
    assert seqs == list(range(1, len(seqs) + 1))  # 1..n with no gaps
    assert len(seqs) == 1 + 1 + 10  # first message, "Anna joined", ten exchanged
    assert all(m["created_at"].endswith("Z") for m in history["messages"])


async def test_two_agents_race_for_one_claim_and_exactly_one_wins(chat: Chat) -> None:
    first = await chat.agent("a1@example.fi", "Aino")
    second = await chat.agent("a2@example.fi", "Bertil")
    visitor = await chat.visitor("sv")
    sent = await visitor.call("message", {"client_id": "x", "text": "Hej"})
    conversation_id = sent["conversation"]["id"]
    for _ in range(5):
        results = await asyncio.gather(
            first.call("claim", {"conversation_id": conversation_id}),
            second.call("claim", {"conversation_id": conversation_id}),
        )
        winners = [r for r in results if r["ok"]]
        losers = [r for r in results if not r["ok"]]
        if len(winners) == 1:
            break
    assert len(winners) == 1 and len(losers) == 1, results
    assert losers[0]["error"]["code"] == "conflict"
    assert losers[0]["error"]["message"]  # localised text, English for these agents


async def test_retried_message_with_same_client_id_is_stored_once(chat: Chat) -> None:
    visitor = await chat.visitor()
    first = await visitor.call("message", {"client_id": "same", "text": "once"})
    again = await visitor.call("message", {"client_id": "same", "text": "once"})
    assert again["ok"] and again["message"] == first["message"]
    concurrent = await asyncio.gather(*[
        visitor.call("message", {"client_id": "burst", "text": "twice?"}) for _ in range(3)
    ])
    assert len({r["message"]["id"] for r in concurrent}) == 1
    history = await visitor.call("history", {"after_seq": 0})
    assert [m["text"] for m in history["messages"]] == ["once", "twice?"]


async def test_dropped_transport_resumes_with_token_and_history_without_gaps(chat: Chat) -> None:
    agent = await chat.agent("anna@example.fi", "Anna")
    visitor = await chat.visitor("en")
    token = visitor.welcome["token"]
    opened = await visitor.call("message", {"client_id": "m0", "text": "hello"})
    conversation_id = opened["conversation"]["id"]
    await agent.call("claim", {"conversation_id": conversation_id})
    last_seen = 0
    for m in visitor.pending("message"):
        last_seen = max(last_seen, m["seq"])

    # The visitor's transport drops; meanwhile the agent keeps writing.
    await visitor.sio.eio.disconnect(abort=True)
    await asyncio.sleep(0.1)
    for n in range(3):
        reply = await agent.call("message", {"conversation_id": conversation_id,
                                             "client_id": f"r{n}", "text": f"reply {n}"})
        assert reply["ok"], reply

    resumed = await chat.visitor("en", token=token)
    assert resumed.welcome["token"] == token
    assert resumed.welcome["conversation"]["id"] == conversation_id
    # A retry of an unacknowledged send after the reconnect is not stored twice.
    retry = await resumed.call("message", {"client_id": "m0", "text": "hello"})
    assert retry["message"]["seq"] == 1
    missed = await resumed.call("history", {"after_seq": last_seen})
    texts = [m["text"] for m in missed["messages"]]
    assert texts[-3:] == ["reply 0", "reply 1", "reply 2"]
    everything = await resumed.call("history", {"after_seq": 0})
    seqs = [m["seq"] for m in everything["messages"]]
    assert seqs == sorted(set(seqs)) == list(range(1, len(seqs) + 1))
