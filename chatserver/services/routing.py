"""Who holds a conversation: the visitor's hand-off to the queue, an agent's claim (exactly one
wins), a transfer to another agent, and the close (with its transcript), each announced to
both sides. Messages themselves are conversations.py's."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, insert, or_, select, union_all, update
from sqlmodel import col

from chatserver.db import trip
from chatserver.db.models import Agent, Conversation, Message
from chatserver.db.rows import ConversationRow, MessageRow
from chatserver.errors import Code, ServiceError
from chatserver.i18n import gettext_noop as _
from chatserver.services import audit, metrics, presence, queue
from chatserver.services.context import Context
from chatserver.services.conversations import (
    INSERT_MESSAGE,
    Visitor,
    open_conversation,
    require_assigned,
    stored_messages,
    system_message,
)
from chatserver.services.views import (
    agent_conversation_view,
    message_view,
    visitor_conversation_view,
)
from chatserver.settings import LANGUAGES

# Claiming is on the hot path of a burst (docs/performance.md): one trip (db/trip.py), no ORM
# object loaded. One UPDATE both takes the conversation and reserves the seq of its "joined"
# note; RETURNING gives back the row.
_CONVERSATION = Conversation.__table__  # type: ignore[attr-defined]
_MESSAGE = Message.__table__  # type: ignore[attr-defined]
_TAKE = trip.Statement(
    update(_CONVERSATION)
    .where(_CONVERSATION.c.id == bindparam("cid"))
    .where(or_(_CONVERSATION.c.state == "bot", _CONVERSATION.c.state == "queued"))
    .values(state="active", agent_id=bindparam("agent_id"), claimed_at=bindparam("now"),
            last_activity_at=bindparam("now"), last_seq=_CONVERSATION.c.last_seq + 1)
    .returning(*_CONVERSATION.c),
    returns=list(_CONVERSATION.c),
)
_HISTORY = trip.Statement(
    select(*_MESSAGE.c).where(_MESSAGE.c.conversation_id == bindparam("cid"))
    .order_by(_MESSAGE.c.seq),
    returns=list(_MESSAGE.c),
)
_COLUMNS = [column.name for column in _CONVERSATION.c]
_MESSAGE_COLUMNS = [column.name for column in _MESSAGE.c]


def _claim_postgres() -> trip.Statement:
    """PostgreSQL: `take` as one statement, so one round trip (trip.alone): the same UPDATE,
    the "joined" note worded in the conversation's language and the audit entry as CTEs. Its
    rows are the conversation's columns, then one message's: the history, the note last (the
    statement's own reads do not see the note it inserts, so it is added to them)."""
    taken = _TAKE.clause.cte("taken")  # type: ignore[attr-defined]
    texts = {language: bindparam("text_" + language, type_=_MESSAGE.c.text.type)
             for language in LANGUAGES}
    made = {"conversation_id": taken.c.id, "seq": taken.c.last_seq,
            "text": case(*((taken.c.language == language, text)
                           for language, text in texts.items()), else_=texts["en"])}
    joined = insert(_MESSAGE).from_select(_MESSAGE_COLUMNS, select(*(
        made.get(name, bindparam("m_" + name, type_=_MESSAGE.c[name].type))
        for name in _MESSAGE_COLUMNS))).returning(*_MESSAGE.c).cte("joined")
    history = union_all(_HISTORY.clause.order_by(None),  # type: ignore[attr-defined]
                        select(*joined.c)).subquery("history")
    return trip.Statement(
        select(taken, history).join_from(taken, history, history.c.conversation_id == taken.c.id)
        .order_by(history.c.seq).add_cte(audit.insert_for_each(taken).cte("audited")),
        returns=[*_CONVERSATION.c, *_MESSAGE.c])


CLAIM_POSTGRES = _claim_postgres()


async def claim(ctx: Context, agent: Agent, conversation_id: str) -> dict[str, Any]:
    """Exactly one agent wins: the state change is one conditional UPDATE."""
    now = ctx.clock()
    # The note in the conversation's language, worded here: the work below runs in the
    # database's thread, and touches nothing but its arguments and the database.
    wording = {language: ctx.translator.gettext(language, _("{name} joined the chat."))
               .format(name=agent.display_name) for language in LANGUAGES}

    def take(runner: trip.Runner
             ) -> tuple[ConversationRow, MessageRow, list[MessageRow]] | None:
        rows = runner.rows(_TAKE, {"cid": conversation_id, "agent_id": agent.id, "now": now})
        if not rows:
            return None
        conversation = ConversationRow.of(_COLUMNS, rows[0])
        joined = MessageRow(
            conversation_id=conversation_id, seq=conversation.last_seq, author_kind="system",
            created_at=now, text=wording.get(conversation.language, wording["en"]))
        runner.run(INSERT_MESSAGE, joined.values())
        history = [MessageRow.of(_MESSAGE_COLUMNS, row)
                   for row in runner.rows(_HISTORY, {"cid": conversation_id})]
        runner.run(audit.INSERT, audit.row(
            ctx, "conversation.read", actor_kind="agent", actor_id=agent.id,
            target_kind="conversation", target_id=conversation_id, via="claim"))
        return conversation, joined, history

    if not ctx.settings.is_sqlite:
        taken = await _take_postgres(ctx, agent, conversation_id, now, wording)
    else:
        taken = await trip.write(ctx.engine, take)
    if taken is None:
        return await _claimed_already(ctx, agent, conversation_id)
    conversation, joined, messages = taken
    metrics.count_message(ctx, "system")
    view = agent_conversation_view(conversation, agent)
    await ctx.bus.to_visitors_of(conversation_id, "conversation",
                                 visitor_conversation_view(conversation, agent))
    await ctx.bus.to_visitors_of(conversation_id, "message", message_view(joined))
    await ctx.bus.to_agent(agent.id or 0, "conversation", view)
    if conversation.queued_at is not None:  # None when it was taken from the assistant
        metrics.observe_queue_wait(ctx, (now - conversation.queued_at).total_seconds())
        await queue.left(ctx, [conversation_id])
    return {**view, "messages": [message_view(m) for m in messages]}


async def _take_postgres(ctx: Context, agent: Agent, conversation_id: str, now: datetime,
                         wording: dict[str, str]
                         ) -> tuple[ConversationRow, MessageRow, list[MessageRow]] | None:
    """`claim`'s `take` on PostgreSQL, in one round trip instead of six (_claim_postgres)."""
    note = MessageRow(conversation_id=conversation_id, seq=0, author_kind="system",
                      created_at=now, text="")
    rows = await trip.alone(ctx.engine, CLAIM_POSTGRES, {
        "cid": conversation_id, "agent_id": agent.id, "now": now,
        **{"text_" + language: text for language, text in wording.items()},
        **trip.prefixed(note.values(), "m_"),
        **trip.prefixed(audit.row(ctx, "conversation.read", actor_kind="agent",
                                  actor_id=agent.id, target_kind="conversation",
                                  target_id=conversation_id, via="claim"), "a_")})
    if not rows:
        return None
    history = [MessageRow.of(_MESSAGE_COLUMNS, row[len(_COLUMNS):]) for row in rows]
    return ConversationRow.of(_COLUMNS, rows[0][:len(_COLUMNS)]), history[-1], history


async def _claimed_already(ctx: Context, agent: Agent, conversation_id: str) -> dict[str, Any]:
    """Nothing was taken: the conversation is gone, closed, another agent's, or already this
    agent's (then claiming again returns it, and the read is audited)."""
    async with ctx.db.begin() as session:
        existing = await session.get(Conversation, conversation_id)
        if existing is None:
            raise ServiceError(Code.NOT_FOUND, _("The conversation was not found."))
        if existing.state == "closed":
            raise ServiceError(Code.CLOSED)
        if existing.agent_id != agent.id:
            raise ServiceError(
                Code.CONFLICT, _("Another agent has already taken this conversation."))
        messages = await stored_messages(session, conversation_id, 0, None)
        audit.record(ctx, session, "conversation.read", actor_kind="agent", actor_id=agent.id,
                     target_kind="conversation", target_id=conversation_id, via="claim")
    return {**agent_conversation_view(existing, agent),
            "messages": [message_view(m) for m in messages]}


async def transfer(ctx: Context, agent: Agent, conversation_id: str, target_id: int) -> None:
    if target_id == agent.id:
        raise ServiceError(Code.INVALID_INPUT, _("The conversation is already yours."))
    async with ctx.db() as session:
        # Ownership first, so an agent cannot probe other agents through others' chats.
        await require_assigned(session, agent, conversation_id)
        target = await session.get(Agent, target_id)
    if target is None or target.disabled:
        raise ServiceError(Code.NOT_FOUND, _("No such agent."))
    if target.id not in {a.id for a in await presence.available_agents(ctx)}:
        raise ServiceError(Code.UNAVAILABLE, _("{name} is not online."), name=target.display_name)
    async with ctx.db.begin() as session:
        await require_assigned(session, agent, conversation_id)
        await session.exec(
            update(Conversation).where(col(Conversation.id) == conversation_id)
            .values(agent_id=target.id)
        )
        conversation = await session.get(Conversation, conversation_id, populate_existing=True)
        assert conversation is not None
        note = await system_message(ctx, session, conversation_id, conversation.language,
                                    _("The chat was transferred to {name}."),
                                    name=target.display_name)
        conversation = await session.get(Conversation, conversation_id, populate_existing=True)
        assert conversation is not None
        messages = await stored_messages(session, conversation_id, 0, None)
        audit.record(ctx, session, "conversation.transfer", actor_kind="agent",
                     actor_id=agent.id, target_kind="conversation", target_id=conversation_id,
                     to_agent=target.id)
    view = agent_conversation_view(conversation, target)
    await ctx.bus.to_agent(agent.id or 0, "conversation", view)
    await ctx.bus.to_agent(target.id or 0, "conversation",
                           {**view, "messages": [message_view(m) for m in messages]})
    await ctx.bus.to_visitors_of(conversation_id, "conversation",
                                 visitor_conversation_view(conversation, target))
    await ctx.bus.to_visitors_of(conversation_id, "message", message_view(note))


async def handoff(ctx: Context, visitor: Visitor, sid: str | None = None) -> dict[str, Any]:
    """The visitor asks for a person: queue the conversation (opening it if need be)."""
    if ctx.assistant is not None:  # with nobody online it may offer the offline form
        return await ctx.assistant.handoff(ctx, visitor, sid)
    now = ctx.clock()
    opened = False
    async with ctx.db.begin() as session:
        if visitor.conversation_id is None:
            conversation = open_conversation(ctx, visitor, "queued")
            session.add(conversation)
            await session.flush()
            visitor.conversation_id = conversation.id
            opened = True
        else:
            found = await session.get(Conversation, visitor.conversation_id)
            if found is None:
                raise ServiceError(Code.NOT_FOUND, _("The conversation was not found."))
            conversation = found
            if conversation.state == "closed":
                raise ServiceError(Code.CLOSED)
            if conversation.state == "bot":
                conversation.state, conversation.queued_at = "queued", now
                session.add(conversation)
                await session.flush()
                opened = True
        # Its place in line, read before the commit (nobody can join ahead of it meanwhile).
        place = await queue.position_of(session, conversation) if opened else None
    if not opened:  # already queued or with an agent: nothing changes
        return await queue.visitor_view(ctx, conversation)
    view = visitor_conversation_view(conversation, None, place)
    await ctx.bus.to_visitors_of(conversation.id, "conversation", view)
    await queue.joined(ctx, conversation, place)
    return view


async def close(ctx: Context, conversation_id: str, *, by_agent: Agent | None = None,
                visitor: Visitor | None = None) -> None:
    """Close once; closing a closed conversation is a no-op that succeeds."""
    now = ctx.clock()
    async with ctx.db.begin() as session:
        conversation = await session.get(Conversation, conversation_id)
        if conversation is None:
            raise ServiceError(Code.NOT_FOUND, _("The conversation was not found."))
        if by_agent is not None and conversation.agent_id != by_agent.id \
                and by_agent.role != "admin":
            raise ServiceError(Code.FORBIDDEN, _("This conversation is not assigned to you."))
        if conversation.state == "closed":
            return
        was_queued = conversation.state == "queued"
        note = await system_message(ctx, session, conversation_id, conversation.language,
                                    _("The chat has ended."))
        await session.exec(
            update(Conversation).where(col(Conversation.id) == conversation_id)
            .values(state="closed", closed_at=now)
        )
        conversation = await session.get(Conversation, conversation_id, populate_existing=True)
        assert conversation is not None
        for hook in ctx.on_close:
            await hook(ctx, session, conversation)
        agent = await session.get(Agent, conversation.agent_id) if conversation.agent_id else None
    await ctx.bus.to_visitors_of(conversation_id, "message", message_view(note))
    await ctx.bus.to_visitors_of(conversation_id, "conversation",
                                 visitor_conversation_view(conversation))
    if agent is not None:
        await ctx.bus.to_agent(agent.id or 0, "message", message_view(note))
        await ctx.bus.to_agent(agent.id or 0, "conversation",
                               agent_conversation_view(conversation, agent))
    if was_queued:
        await queue.left(ctx, [conversation_id])
