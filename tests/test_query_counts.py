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
    agent = await chat.agent("anna@example.fi", "Anna")
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
