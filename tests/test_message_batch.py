"""Group commit on the message hot path (chatserver/services/message_batch.py): messages that
arrive together share one transaction, keep their order, and a bad one fails alone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from sqlalchemy import event
from sqlmodel import col, select

from chatserver.db.models import Message
from chatserver.errors import ServiceError
from chatserver.services import agents, message_batch
from tests.helpers import Chat
from tests.test_query_counts import statements, statements_on_postgres


async def _claimed_conversation(chat: Chat, agent: Any, n: int) -> str:
    visitor = await chat.visitor("en")
    opened = await visitor.call("message", {"client_id": f"open{n}", "text": "hello"})
    conversation_id = str(opened["message"]["conversation_id"])
    assert (await agent.call("claim", {"conversation_id": conversation_id}))["ok"]
    # This console takes the whole queue (no queue_version): the node reads it again after the
    # claim's `queue_update`, a turn later. Wait for that read, so that a test counting
    # statements next does not count it.
    await agent.next("queue", where=lambda q: all(c["id"] != conversation_id
                                                  for c in q["conversations"]))
    return conversation_id


async def _stored(chat: Chat, conversation_id: str) -> list[Message]:
    async with chat.ctx.db() as session:
        rows = await session.exec(select(Message).where(Message.conversation_id
                                                        == conversation_id)
                                  .order_by(col(Message.seq)))
        return list(rows.all())


async def test_messages_that_arrive_together_share_one_commit_in_order(chat: Chat) -> None:
    agent_client = await chat.agent("anna@example.fi", "Anna")
    first = await _claimed_conversation(chat, agent_client, 1)
    second = await _claimed_conversation(chat, agent_client, 2)
    anna = await agents.get_by_email(chat.ctx, "anna@example.fi")

    def post(conversation_id: str, i: int) -> Any:
        if i % 3 == 0:
            return message_batch.append(chat.ctx, conversation_id, kind="agent", text=f"a{i}",
                                        client_key=f"a:{i}", agent=anna, assigned_only=True)
        return message_batch.append(chat.ctx, conversation_id, kind="visitor", text=f"v{i}",
                                    client_key=f"v:{i}")

    async with statements(chat) as seen:
        results = await asyncio.gather(*(post(first if i % 2 else second, i)
                                         for i in range(20)))
    # One transaction for all twenty (or the first alone, then the other nineteen), with one
    # seq UPDATE per conversation in it; each message inserted once (SQLite reports each row
    # of the one executemany).
    assert 1 <= seen.count("BEGIN") <= 2 and seen.count("COMMIT") == seen.count("BEGIN")
    assert seen.count("UPDATE") <= 2 * seen.count("BEGIN")
    assert seen.count("INSERT") == 20
    for conversation_id in (first, second):
        mine = [m for m, _ in results if m.conversation_id == conversation_id]
        stored = await _stored(chat, conversation_id)
        # The order of arrival is the order of seq, and seq has no gaps.
        assert [m.text for m in stored][-10:] == [m.text for m in mine]
        assert [m.seq for m in stored] == list(range(1, len(stored) + 1))
    assert {agent_id for _, agent_id in results} == {anna.id}


@pytest.fixture
async def any_chat(chat_factory: Any, database: dict[str, str]) -> Chat:
    """A chat on SQLite, then on PostgreSQL, whose batches take different ways
    (message_batch.py: one trip to SQLite's thread; one statement on PostgreSQL)."""
    return await chat_factory(**database)  # type: ignore[no-any-return]


@asynccontextmanager
async def _statements_on_sqlite(chat: Chat) -> AsyncIterator[list[str]]:
    """`statements` where SQLite runs them; nothing counted elsewhere."""
    if not chat.settings.is_sqlite:
        yield []
        return
    async with statements(chat) as seen:
        yield seen


async def test_a_bad_message_fails_alone_and_the_rest_are_stored(any_chat: Chat) -> None:
    chat = any_chat
    agent_client = await chat.agent("anna@example.fi", "Anna")
    await chat.add_agent("bo@example.fi", "Bo")
    good = await _claimed_conversation(chat, agent_client, 1)
    closed = await _claimed_conversation(chat, agent_client, 2)
    assert (await agent_client.call("close", {"conversation_id": closed}))["ok"]
    bo = await agents.get_by_email(chat.ctx, "bo@example.fi")
    ctx = chat.ctx
    await message_batch.append(ctx, good, kind="visitor", text="first", client_key="v:dup")

    outcomes = await asyncio.gather(
        message_batch.append(ctx, good, kind="visitor", text="one", client_key="v:1"),
        message_batch.append(ctx, closed, kind="visitor", text="late", client_key="v:2"),
        message_batch.append(ctx, "no-such-conversation", kind="visitor", text="x",
                             client_key="v:3"),
        message_batch.append(ctx, good, kind="agent", text="not mine", client_key="b:4",
                             agent=bo, assigned_only=True),
        message_batch.append(ctx, good, kind="visitor", text="again", client_key="v:dup"),
        message_batch.append(ctx, good, kind="visitor", text="two", client_key="v:5"),
        return_exceptions=True,
    )
    one, late, unknown, forbidden, duplicate, two = outcomes
    assert not isinstance(one, BaseException) and not isinstance(two, BaseException)
    assert two[0].seq == one[0].seq + 1
    assert isinstance(late, ServiceError) and late.code.value == "closed"
    assert isinstance(unknown, ServiceError) and unknown.code.value == "not_found"
    assert isinstance(forbidden, ServiceError) and forbidden.code.value == "forbidden"
    # A retried client_id: the caller (post_*_message) looks the first one up.
    assert isinstance(duplicate, Exception)
    texts = [m.text for m in await _stored(chat, good)]
    assert texts[-3:] == ["first", "one", "two"]


async def test_a_retry_among_new_messages_does_not_send_the_batch_one_by_one(
        any_chat: Chat) -> None:
    """After a restart every widget resends its unacknowledged messages; a retried client_id
    in a batch is answered alone and the new messages still share one commit (counted on
    SQLite; on PostgreSQL the batch is one statement, whose unique violation aborts it)."""
    chat = any_chat
    agent_client = await chat.agent("anna@example.fi", "Anna")
    conversation_id = await _claimed_conversation(chat, agent_client, 1)
    ctx = chat.ctx
    await message_batch.append(ctx, conversation_id, kind="visitor", text="sent before",
                               client_key="v:old")
    async with _statements_on_sqlite(chat) as seen:
        outcomes = await asyncio.gather(
            message_batch.append(ctx, conversation_id, kind="visitor", text="resent",
                                 client_key="v:old"),
            *(message_batch.append(ctx, conversation_id, kind="visitor", text=f"new {i}",
                                   client_key=f"v:new{i}") for i in range(30)),
            return_exceptions=True,
        )
    retried, *new = outcomes
    assert isinstance(retried, Exception)  # the caller looks the first one up
    assert not any(isinstance(outcome, BaseException) for outcome in new)
    # The failed batch, the retry alone, then the thirty together: not thirty-one commits.
    assert seen.count("BEGIN") <= 4, seen.count("BEGIN")
    texts = [m.text for m in await _stored(chat, conversation_id)]
    assert texts.count("sent before") == 1 and "resent" not in texts
    assert texts[-30:] == [f"new {i}" for i in range(30)]


async def test_the_socket_path_acknowledges_a_retry_with_the_first_message(
        any_chat: Chat) -> None:
    chat = any_chat
    agent_client = await chat.agent("anna@example.fi", "Anna")
    visitor = await chat.visitor("en")
    opened = await visitor.call("message", {"client_id": "0", "text": "hello"})
    conversation_id = opened["message"]["conversation_id"]
    await agent_client.call("claim", {"conversation_id": conversation_id})
    sent = [visitor.call("message", {"client_id": "same", "text": "once"}) for _ in range(3)]
    acks = await asyncio.gather(*sent)
    assert all(ack["ok"] for ack in acks)
    assert len({ack["message"]["id"] for ack in acks}) == 1
    assert [m.text for m in await _stored(chat, conversation_id)].count("once") == 1


@pytest.mark.parametrize("batched", [True, False])
async def test_batching_can_be_switched_off(chat_factory: Any, batched: bool) -> None:
    chat: Chat = await chat_factory(performance={"batch_messages": batched})
    agent_client = await chat.agent("anna@example.fi", "Anna")
    conversation_id = await _claimed_conversation(chat, agent_client, 1)
    reply = await agent_client.call("message", {"conversation_id": conversation_id,
                                                "client_id": "r", "text": "hi"})
    assert reply["ok"] and reply["message"]["seq"] >= 2
    # Ten visitors writing at once (one connection's events are handled in order, so the
    # messages come from ten): switched off, each has a commit of its own.
    visitors = [await chat.visitor("en") for _ in range(10)]
    for n, visitor in enumerate(visitors):
        assert (await visitor.call("message", {"client_id": "first", "text": f"v{n}"}))["ok"]
    commits: list[object] = []
    engine = chat.ctx.engine.sync_engine

    def committed(connection: object) -> None:
        commits.append(connection)

    event.listen(engine, "commit", committed)
    try:
        acks = await asyncio.gather(*(visitor.call("message", {"client_id": "second",
                                                               "text": "again"})
                                      for visitor in visitors))
    finally:
        event.remove(engine, "commit", committed)
    assert all(ack["ok"] for ack in acks)
    # (Batched, how many commits they share depends on how the events arrive; at most ten.)
    assert (len(commits) <= 10) if batched else (len(commits) >= 10), len(commits)


async def test_queue_positions_are_sent_only_to_visitors_who_moved(chat: Chat) -> None:
    agent_client = await chat.agent("anna@example.fi", "Anna")
    visitors, ids = [], []
    for n in range(3):
        visitor = await chat.visitor("en")
        ack = await visitor.call("message", {"client_id": f"o{n}", "text": "hello"})
        assert ack["conversation"]["queue_position"] == n + 1
        visitors.append(visitor)
        ids.append(ack["message"]["conversation_id"])
    # Joining the end of the queue moved nobody ahead, so nobody was told anything.
    await agent_client.call("claim", {"conversation_id": ids[0]})
    for visitor, position in ((visitors[1], 1), (visitors[2], 2)):
        moved = await visitor.next("conversation", where=lambda c: "queue_position" in c)
        assert moved["queue_position"] == position
        assert [c for c in visitor.pending("conversation") if "queue_position" in c] == []


async def test_an_agents_messages_sent_at_once_share_a_commit_and_keep_their_order(
        chat_factory: Any) -> None:
    """An agent's socket starts its next message while the previous one waits for its commit
    (realtime/base.py `pipelined`), so ten sent at once share one or two commits instead of
    taking ten one after another; they are stored in the order sent."""
    # The session is checked once a minute, as by default (the tests' 0 reads it every event).
    chat: Chat = await chat_factory(auth={"session_recheck_seconds": 60})
    agent_client = await chat.agent("anna@example.fi", "Anna")
    conversation_id = await _claimed_conversation(chat, agent_client, 1)
    async with statements(chat) as seen:
        acks = await asyncio.gather(*(agent_client.call(
            "message", {"conversation_id": conversation_id, "client_id": f"m{i}",
                        "text": f"reply {i}"}) for i in range(10)))
    assert all(ack["ok"] for ack in acks)
    assert seen.count("BEGIN") <= 2, seen
    stored = [m.text for m in await _stored(chat, conversation_id) if m.author_kind == "agent"]
    assert stored == [f"reply {i}" for i in range(10)]
    assert [ack["message"]["seq"] for ack in acks] == sorted(ack["message"]["seq"]
                                                             for ack in acks)


async def test_an_event_after_pipelined_messages_waits_for_them(chat_factory: Any) -> None:
    """A `close` sent right after messages does not overtake them: each message is stored
    and acknowledged, and the conversation closes after the last one."""
    chat: Chat = await chat_factory(auth={"session_recheck_seconds": 60})
    agent_client = await chat.agent("anna@example.fi", "Anna")
    conversation_id = await _claimed_conversation(chat, agent_client, 1)
    calls = [agent_client.call("message", {"conversation_id": conversation_id,
                                           "client_id": f"m{i}", "text": f"bye {i}"})
             for i in range(5)]
    calls.append(agent_client.call("close", {"conversation_id": conversation_id}))
    acks = await asyncio.gather(*calls)
    assert all(ack["ok"] for ack in acks), acks
    stored = await _stored(chat, conversation_id)
    texts = [m.text for m in stored]
    assert texts[-6:-1] == [f"bye {i}" for i in range(5)]
    assert stored[-1].author_kind == "system"  # the closing note comes after them


async def test_concurrent_batches_keep_each_conversations_order(any_chat: Chat) -> None:
    """Many messages to three conversations at once: every conversation's seqs have no gaps
    and follow the order the messages were handed in (on PostgreSQL up to four batches are
    committed at a time, and a conversation's messages wait for an earlier batch holding
    some of them)."""
    chat = any_chat
    agent_client = await chat.agent("anna@example.fi", "Anna")
    ids = [await _claimed_conversation(chat, agent_client, n) for n in range(3)]
    anna = await agents.get_by_email(chat.ctx, "anna@example.fi")
    results = await asyncio.gather(*(message_batch.append(
        chat.ctx, ids[i % 3], kind="agent" if i % 2 else "visitor", text=f"m{i}",
        client_key=f"k:{i}", agent=anna if i % 2 else None, assigned_only=bool(i % 2))
        for i in range(90)))
    for n, conversation_id in enumerate(ids):
        stored = await _stored(chat, conversation_id)
        assert [m.seq for m in stored] == list(range(1, len(stored) + 1))
        assert [m.text for m in stored][-30:] == [f"m{i}" for i in range(n, 90, 3)]
    assert {agent_id for _, agent_id in results} == {anna.id}


@pytest.mark.postgres
async def test_on_postgres_a_batch_is_one_statement(chat_factory: Any,
                                                    migrated_postgres_url: str) -> None:
    """One round trip per batch: no BEGIN or COMMIT, no statement apart for the seq."""
    chat: Chat = await chat_factory(database_url=migrated_postgres_url)
    agent_client = await chat.agent("anna@example.fi", "Anna")
    conversation_id = await _claimed_conversation(chat, agent_client, 1)
    anna = await agents.get_by_email(chat.ctx, "anna@example.fi")
    async with statements_on_postgres(chat) as seen:
        message, agent_id = await message_batch.append(
            chat.ctx, conversation_id, kind="agent", text="hi", client_key="a:1", agent=anna,
            assigned_only=True)
    # ("WITH in a transaction" would be a statement inside BEGIN ... COMMIT.)
    assert seen in (["WITH"], ["BEGIN", "WITH"]), seen
    assert agent_id == anna.id
    assert [m.text for m in await _stored(chat, conversation_id)][-1] == "hi"
    assert message.seq == (await _stored(chat, conversation_id))[-1].seq
