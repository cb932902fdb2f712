"""Delivery on one node (realtime/relay.py, ObservedManager.emit): an emit puts its packet in
each recipient's queue and returns without waiting for a turn of the event loop, and every
recipient still gets it, in the order emitted."""

from __future__ import annotations

from typing import Any

from chatserver.keys import SIO
from chatserver.services.events import AGENT_NS, ALL_AGENTS_ROOM
from tests.helpers import Chat


def _finishes_without_waiting(coroutine: Any) -> bool:
    """True when the coroutine returns at its first step, never handing the loop a future."""
    try:
        coroutine.send(None)
    except StopIteration:
        return True
    coroutine.close()
    return False


async def test_an_emit_reaches_every_socket_without_waiting_for_the_loop(chat: Chat) -> None:
    anna = await chat.agent("anna@example.fi", "Anna", queue_version=2)
    bo = await chat.agent("bo@example.fi", "Bo", queue_version=2)
    sio = chat.app[SIO]
    for n in range(3):
        # python-socketio's own emit starts a task per socket and waits for them all: a turn
        # of the loop for the emitting handler every time (docs/performance.md).
        assert _finishes_without_waiting(sio.emit(
            "queue_update", {"added": [], "removed": [f"c{n}"]}, to=ALL_AGENTS_ROOM,
            namespace=AGENT_NS))
    for client in (anna, bo):
        got = [await client.next("queue_update", where=lambda u: u["removed"])
               for _ in range(3)]
        assert [update["removed"] for update in got] == [["c0"], ["c1"], ["c2"]]


async def test_an_emit_skips_the_socket_it_is_told_to_skip(chat: Chat) -> None:
    anna = await chat.agent("anna@example.fi", "Anna", queue_version=2)
    bo = await chat.agent("bo@example.fi", "Bo", queue_version=2)
    sio = chat.app[SIO]
    skipped = anna.sio.get_sid(AGENT_NS)
    await sio.emit("queue_update", {"added": [], "removed": ["only bo"]}, to=ALL_AGENTS_ROOM,
                   namespace=AGENT_NS, skip_sid=skipped)
    await sio.emit("queue_update", {"added": [], "removed": ["both"]}, to=ALL_AGENTS_ROOM,
                   namespace=AGENT_NS)
    assert (await bo.next("queue_update", where=lambda u: u["removed"]))["removed"] == ["only bo"]
    assert (await anna.next("queue_update", where=lambda u: u["removed"]))["removed"] == ["both"]
