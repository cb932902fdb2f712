"""The hot path stays cheap: exact statement counts for one chat message (after Zulip's
test_tornado). A change that adds a query here must say why."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from tests.helpers import Chat


@contextmanager
def statements(chat: Chat) -> Iterator[list[str]]:
    engine = chat.ctx.engine.sync_engine
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement.split()[0].upper())

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def test_one_visitor_and_one_agent_message_cost_two_statements_each(
    chat_factory: Any,
) -> None:
    # The agent's session is re-checked at most every few seconds, not on every message.
    chat: Chat = await chat_factory(auth={"session_recheck_seconds": 60})
    agent = await chat.agent("anna@example.fi", "Anna", queue_version=2)
    visitor = await chat.visitor("en")
    opened = await visitor.call("message", {"client_id": "0", "text": "open"})
    conversation_id = opened["conversation"]["id"]
    await agent.call("claim", {"conversation_id": conversation_id})

    with statements(chat) as seen:
        assert (await visitor.call("message", {"client_id": "1", "text": "hello"}))["ok"]
    assert seen == ["BEGIN", "UPDATE", "INSERT"]

    with statements(chat) as seen:
        reply = await agent.call("message", {"conversation_id": conversation_id,
                                             "client_id": "2", "text": "hi"})
        assert reply["ok"]
    assert seen == ["BEGIN", "UPDATE", "INSERT"]


async def test_opening_handing_off_and_claiming_cost_few_statements(chat_factory: Any) -> None:
    """No ORM loading and no read of the whole queue on these paths (docs/performance.md)."""
    chat: Chat = await chat_factory(auth={"session_recheck_seconds": 60})
    agent = await chat.agent("anna@example.fi", "Anna", queue_version=2)
    await agent.next("queue")  # the whole queue, once, right after the welcome
    first, second = await chat.visitor("en"), await chat.visitor("en")

    # The conversation (already at seq 1), its first message, and its place in line.
    with statements(chat) as seen:
        opened = await first.call("message", {"client_id": "0", "text": "open"})
        assert opened["conversation"]["queue_position"] == 1
        await agent.next("queue_update")
    assert seen == ["BEGIN", "INSERT", "INSERT", "SELECT"]

    with statements(chat) as seen:
        handed = await second.call("handoff", {})
        assert handed["ok"] and handed["conversation"]["queue_position"] == 2, handed
        await agent.next("queue_update")
    assert seen == ["BEGIN", "INSERT", "SELECT"]

    # Take it and reserve the note's seq, the note, the history, the audit row, and who moved
    # up in line behind it.
    with statements(chat) as seen:
        claimed = await agent.call("claim", {"conversation_id": opened["conversation"]["id"]})
        assert claimed["ok"], claimed
        moved = await second.next("conversation", where=lambda c: c.get("queue_position"))
        assert moved["queue_position"] == 1
    assert seen == ["BEGIN", "UPDATE", "INSERT", "SELECT", "INSERT", "SELECT"]
