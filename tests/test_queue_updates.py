"""The queue reaches agents as deltas (`queue_update`, queue_version 2), older consoles still
get the whole queue after each change, and only visitors who moved hear a new place in line
(docs/protocol.md, docs/performance.md)."""

from __future__ import annotations

import asyncio
from typing import Any

from chatserver.services import queue
from tests.helpers import Chat, QueueView, in_queue_order


async def test_agents_get_deltas_older_consoles_whole_queues_and_visitors_their_place(
    chat: Chat,
) -> None:
    anna = await chat.agent("anna@example.fi", "Anna", queue_version=2)
    bert = await chat.agent("bert@example.fi", "Bert")  # a console from before queue_version
    await anna.next("queue")
    await bert.next("queue")
    first, second, third = [await chat.visitor("en") for _ in range(3)]

    ids = []
    for number, visitor in enumerate((first, second, third), start=1):
        ack = await visitor.call("message", {"client_id": "c", "text": f"hello {number}"})
        assert ack["conversation"]["queue_position"] == number
        ids.append(ack["conversation"]["id"])
        update = await anna.next("queue_update")
        assert update["removed"] == [] and [c["id"] for c in update["added"]] == ids[-1:]
        added = update["added"][0]
        assert added["state"] == "queued" and added["language"] == "en"
        assert added["queued_at"] and added["agent"] is None
    # The older console's whole queue catches up (a burst may be answered by fewer reads).
    whole = await bert.next("queue", where=lambda q: len(q["conversations"]) == 3)
    assert [c["id"] for c in whole["conversations"]] == ids
    assert anna.pending("queue") == []  # no whole queue for a delta socket after the first

    # Claiming the second moves only the third up; nobody ahead of it hears anything.
    assert (await anna.call("claim", {"conversation_id": ids[1]}))["ok"]
    assert await anna.next("queue_update") == {"added": [], "removed": [ids[1]]}
    moved = await third.next("conversation", where=lambda c: "queue_position" in c)
    assert moved == {"id": ids[2], "state": "queued", "queue_position": 2}
    whole = await bert.next("queue", where=lambda q: len(q["conversations"]) == 2)
    assert [c["id"] for c in whole["conversations"]] == [ids[0], ids[2]]
    assert [c for c in first.pending("conversation") if "queue_position" in c] == []

    # A visitor who leaves the queue: the ones behind move up again.
    assert (await first.call("close", {}))["ok"]
    assert await anna.next("queue_update") == {"added": [], "removed": [ids[0]]}
    moved = await third.next("conversation", where=lambda c: "queue_position" in c)
    assert moved["queue_position"] == 1

    # The whole queue on request, equal to the database's.
    answer = await anna.call("queue", {})
    assert answer["ok"] and [c["id"] for c in answer["conversations"]] == [ids[2]]
    assert [c["id"] for c in await queue.waiting(chat.ctx)] == [ids[2]]


async def test_a_delta_view_equals_the_database_after_concurrent_opens_and_claims(
    chat: Chat,
) -> None:
    anna = await chat.agent("anna@example.fi", "Anna", queue_version=2)
    await anna.next("queue")
    view = QueueView(anna)

    async def one(number: int) -> None:
        visitor = await chat.visitor("en")
        ack = await visitor.call("message", {"client_id": "c", "text": f"hi {number}"})
        if number % 3 == 0:
            assert (await anna.call("claim", {"conversation_id": ack["conversation"]["id"]}))["ok"]
        elif number % 3 == 1:
            assert (await visitor.call("close", {}))["ok"]

    await asyncio.gather(*(one(n) for n in range(24)))
    expected = in_queue_order(await queue.waiting(chat.ctx))
    assert len(expected) == 8
    await _until(lambda: view.ids() == expected, lambda: (view.ids(), expected))


async def test_changes_made_in_one_turn_reach_agents_as_one_delta(chat: Chat) -> None:
    """Under a burst a round of commits finishes many opens and claims at once; their changes
    go out as one `queue_update` per turn of the event loop, not one per change."""
    anna = await chat.agent("anna@example.fi", "Anna", queue_version=2)
    await anna.next("queue")
    ids = []
    for number in range(3):
        visitor = await chat.visitor("en")
        ack = await visitor.call("message", {"client_id": "c", "text": f"hello {number}"})
        ids.append(ack["conversation"]["id"])
        await anna.next("queue_update")
    views = {view["id"]: view for view in await queue.waiting(chat.ctx)}
    bus = chat.ctx.bus

    # Two conversations leave and one is added and leaves again, all before the loop turns.
    await queue.left(chat.ctx, [ids[0]])
    await queue.left(chat.ctx, [ids[1]])
    await bus.queue_update({"added": [views[ids[2]]], "removed": []})
    await queue.left(chat.ctx, [ids[2]])
    assert await anna.next("queue_update") == {"added": [], "removed": ids}
    await asyncio.sleep(0.2)
    assert anna.pending("queue_update") == []

    # A change in a later turn is a delta of its own.
    await bus.queue_update({"added": [views[ids[2]]], "removed": []})
    assert await anna.next("queue_update") == {"added": [views[ids[2]]], "removed": []}


async def _until(check: Any, state: Any, seconds: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not check():
        assert loop.time() < deadline, ("the agent's view never matched the database", state())
        await asyncio.sleep(0.05)
