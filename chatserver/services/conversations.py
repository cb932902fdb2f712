"""Conversations: opening, posting the visitor's and the agent's messages (appending them is
messages.py, or message_batch.py's group commit), history and typing (who holds a conversation:
routing.py; the queue: queue.py). A message is acknowledged only after its commit.

The optional FAQ assistant is not imported here: the app wires it as `ctx.assistant`
(services/assistant/bot.py), so the chat core works the same with it on, off or absent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from chatserver.db import trip
from chatserver.db.models import Agent, Conversation, Message
from chatserver.db.rows import AnyMessage, ConversationRow, MessageRow
from chatserver.errors import Code, ServiceError
from chatserver.i18n import gettext_noop as _
from chatserver.services import (
    address_limits,
    audit,
    message_batch,
    messages,
    metrics,
    notes,
    queue,
    reports,
)
from chatserver.services.context import Context
from chatserver.services.tokens import new_token, token_hash
from chatserver.services.views import iso, message_view, note_view, visitor_conversation_view

OPEN_STATES = ("bot", "queued", "active")


@dataclass(slots=True)
class Visitor:
    """The identity of one visitor connection, as the socket layer established it."""

    token_hash: str
    language: str
    notice_version: str
    conversation_id: str | None = None
    # Optional metadata, set only when the operator switched it on (privacy.collect_*).
    user_agent: str | None = None
    page_url: str | None = None
    # The keyed hash of the client address, for the per-address limits; None sets no limit.
    address_key: str | None = None
    # The visitor's previous conversation (its key was sent as `previous`), linked to the next.
    previous_id: str | None = None


@dataclass(frozen=True)
class Posted:
    message: dict[str, Any]
    conversation: dict[str, Any] | None  # set when this message opened the conversation


async def resume(ctx: Context, token: str | None) -> tuple[str, Conversation | None]:
    """The visitor's conversation for `token`, or a fresh token when there is none.

    Nothing is stored here: a conversation row is created only by the first message or an
    explicit hand-off.
    """
    if token:
        async with ctx.read() as session:
            conversation = (
                await session.exec(
                    select(Conversation).where(Conversation.token_hash == token_hash(token))
                )
            ).first()
        if conversation is not None:
            return token, conversation
    return new_token(), None


async def previous_of(ctx: Context, token: str | None, resumed: Conversation | None
                      ) -> str | None:
    """The id of the conversation whose key the widget sent as `previous`, if it is stored
    and the connection resumes nothing (a new chat after that one)."""
    if not token or resumed is not None:
        return None
    async with ctx.read() as session:
        return (await session.exec(select(Conversation.id).where(
            Conversation.token_hash == token_hash(token)))).first()


async def earlier(session: AsyncSession, conversation: Conversation,
                  limit: int = 10) -> list[dict[str, Any]]:
    """The same visitor's earlier conversations still stored, newest first (the chain of
    `previous_id`); what agents see of them here is when, in which language, and the id."""
    found: list[dict[str, Any]] = []
    previous = conversation.previous_id
    while previous is not None and len(found) < limit:
        row = await session.get(Conversation, previous)
        if row is None:
            break
        found.append({"id": row.id, "created_at": iso(row.created_at), "language": row.language,
                      "state": row.state})
        previous = row.previous_id
    return found


def new_conversation(ctx: Context, visitor: Visitor, state: str) -> ConversationRow:
    """A new conversation's row, within `limits.conversations_per_address_per_hour`."""
    if visitor.address_key is not None:
        ctx.address_limits.take("conversation", visitor.address_key,
                                ctx.settings.limits.conversations_per_address_per_hour,
                                address_limits.NEW_CONVERSATIONS)
    now = ctx.clock()
    return ConversationRow(
        token_hash=visitor.token_hash, state=state, language=visitor.language,
        notice_version=visitor.notice_version, notice_acknowledged_at=now, created_at=now,
        last_activity_at=now, queued_at=now if state == "queued" else None,
        user_agent=visitor.user_agent, page_url=visitor.page_url, previous_id=visitor.previous_id,
    )


def open_conversation(ctx: Context, visitor: Visitor, state: str) -> Conversation:
    """`new_conversation` as a model, for a session to add."""
    return Conversation(**new_conversation(ctx, visitor, state).values())


async def post_visitor_message(
    ctx: Context, visitor: Visitor, client_id: str, text: str, sid: str | None = None,
    choice: str | None = None,
) -> Posted:
    """Store the visitor's message and, while the assistant has the conversation, let it
    answer; `choice` is the FAQ entry the visitor picked from the assistant's choices."""
    client_key = f"v:{client_id}"
    opened: ConversationRow | None = None
    message: AnyMessage
    place: int | None = None
    try:
        if visitor.conversation_id is None:
            opened, message, place = await _open_with_message(ctx, visitor, text, client_key)
            agent_id = None
        elif ctx.settings.performance.batch_messages:
            # Group commit with other messages arriving now (message_batch.py).
            message, agent_id = await message_batch.append(
                ctx, visitor.conversation_id, kind="visitor", text=text, client_key=client_key)
        else:
            async with ctx.db.begin() as session:
                message, agent_id = await messages.append(
                    ctx, session, visitor.conversation_id, kind="visitor", text=text,
                    client_key=client_key,
                )
    except messages.Duplicate as duplicate:
        return Posted(duplicate.view, None)
    except IntegrityError:
        # A concurrent retry of the same message (or of the first one) won the race.
        return await _after_race(ctx, visitor, client_key)
    view = message_view(message)
    await ctx.bus.to_visitors_of(message.conversation_id, "message", view, skip_sid=sid)
    if agent_id is not None:
        await ctx.bus.to_agent(agent_id, "message", view)
    if ctx.assistant is not None and agent_id is None:
        handled = await ctx.assistant.after_visitor_message(
            ctx, visitor, message.conversation_id, text, opened=opened is not None, sid=sid,
            choice=choice)
        if opened is not None and handled is not None:
            return Posted(view, handled)
    if opened is not None:
        if opened.state == "queued":
            await queue.joined(ctx, opened, place)
        return Posted(view, visitor_conversation_view(opened, None, place))
    return Posted(view, None)


# Opening a conversation is on the hot path of a burst (docs/performance.md): two INSERTs (the
# conversation already at seq 1, and its first message) and, when it is queued, its place in
# line, in one trip (db/trip.py). No ORM object is built (db/rows.py).
_CONVERSATION = Conversation.__table__  # type: ignore[attr-defined]
_MESSAGE = Message.__table__  # type: ignore[attr-defined]
_INSERT_CONVERSATION = trip.Statement(insert(_CONVERSATION))
INSERT_MESSAGE = trip.Statement(insert(_MESSAGE))
# PostgreSQL: the same as one statement, so one round trip (trip.alone): both INSERTs as CTEs,
# and the count of those queued before it (queue.AHEAD; it does not see the new row, which is
# not queued before itself either way).
OPEN_POSTGRES = trip.Statement(
    queue.AHEAD.clause.add_cte(  # type: ignore[attr-defined]
        insert(_CONVERSATION).values(trip.column_binds(_CONVERSATION, "c_")).cte("opened"),
        insert(_MESSAGE).values(trip.column_binds(_MESSAGE, "m_")).cte("first")))


async def _open_with_message(ctx: Context, visitor: Visitor, text: str, client_key: str
                             ) -> tuple[ConversationRow, MessageRow, int | None]:
    conversation = new_conversation(ctx, visitor, "bot" if ctx.settings.bot.enabled
                                    else "queued")
    conversation.last_seq = 1
    message = MessageRow(conversation_id=conversation.id, seq=1, author_kind="visitor",
                         text=text, client_key=client_key, created_at=conversation.created_at)
    rows = conversation.values(), message.values()
    queued_at = conversation.queued_at

    def store(runner: trip.Runner) -> int | None:
        runner.run(_INSERT_CONVERSATION, rows[0])
        runner.run(INSERT_MESSAGE, rows[1])
        return queue.place_in(runner, queued_at) if queued_at is not None else None

    if not ctx.settings.is_sqlite:
        ahead = await trip.alone(ctx.engine, OPEN_POSTGRES, {
            **trip.prefixed(rows[0], "c_"), **trip.prefixed(rows[1], "m_"),
            "queued_at": queued_at})
        place = int(ahead[0][0]) + 1 if queued_at is not None else None
    else:
        place = await trip.write(ctx.engine, store)
    visitor.conversation_id = conversation.id
    metrics.count_message(ctx, "visitor")
    return conversation, message, place


async def _after_race(ctx: Context, visitor: Visitor, client_key: str) -> Posted:
    async with ctx.read() as session:
        conversation = (
            await session.exec(
                select(Conversation).where(Conversation.token_hash == visitor.token_hash)
            )
        ).first()
        if conversation is None:
            raise ServiceError(Code.UNAVAILABLE)
        visitor.conversation_id = conversation.id
        existing = await messages.by_client_key(session, conversation.id, client_key)
    if existing is None:
        raise ServiceError(Code.UNAVAILABLE)
    return Posted(message_view(existing), None)


async def post_agent_message(
    ctx: Context, agent: Agent, conversation_id: str, client_id: str, text: str,
    sid: str | None = None,
) -> dict[str, Any]:
    client_key = f"a{agent.id}:{client_id}"
    try:
        if ctx.settings.performance.batch_messages:  # group commit: message_batch.py
            message, _agent_id = await message_batch.append(
                ctx, conversation_id, kind="agent", text=text, client_key=client_key,
                agent=agent, assigned_only=True)
        else:
            async with ctx.db.begin() as session:
                message, _agent_id = await messages.append(
                    ctx, session, conversation_id, kind="agent", text=text,
                    client_key=client_key, agent=agent, assigned_only=True,
                )
    except messages.Duplicate as duplicate:
        return duplicate.view
    except IntegrityError:
        async with ctx.read() as session:
            existing = await messages.by_client_key(session, conversation_id, client_key)
        if existing is None:
            raise ServiceError(Code.UNAVAILABLE) from None
        return message_view(existing)
    view = message_view(message)
    await ctx.bus.to_visitors_of(conversation_id, "message", view)
    await ctx.bus.to_agent(agent.id or 0, "message", view, skip_sid=sid)
    return view


async def require_assigned(
    session: AsyncSession, agent: Agent, conversation_id: str
) -> Conversation:
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None:
        raise ServiceError(Code.NOT_FOUND, _("The conversation was not found."))
    if conversation.state == "closed":
        raise ServiceError(Code.CLOSED)
    if conversation.agent_id != agent.id:
        raise ServiceError(Code.FORBIDDEN, _("This conversation is not assigned to you."))
    return conversation


def system_wording(ctx: Context, language: str, text: str, **params: Any) -> str:
    """A system note's text in the conversation's language."""
    return ctx.translator.gettext(language, text).format(**params)


async def system_message(
    ctx: Context, session: AsyncSession, conversation_id: str, language: str, text: str,
    **params: Any,
) -> Message:
    message, _agent_id = await messages.append(ctx, session, conversation_id, kind="system",
                                               text=system_wording(ctx, language, text, **params))
    return message


async def stored_messages(session: AsyncSession, conversation_id: str, after_seq: int,
                    limit: int | None) -> list[Message]:
    query = (
        select(Message)
        .where(Message.conversation_id == conversation_id)
        .where(Message.seq > after_seq)
        .order_by(col(Message.seq))
    )
    if limit is not None:
        query = query.limit(limit)
    return list((await session.exec(query)).all())


async def history(ctx: Context, conversation_id: str, after_seq: int) -> list[dict[str, Any]]:
    page = ctx.settings.limits.history_page
    async with ctx.read() as session:
        rows = await stored_messages(session, conversation_id, after_seq, page)
    return [message_view(m) for m in rows]


async def agent_history(ctx: Context, agent: Agent, conversation_id: str,
                        after_seq: int) -> dict[str, Any]:
    """Agents read the conversations assigned to them; admins read any. The page of messages
    after `after_seq`, every note (notes.py: agents only), the visitor's earlier conversations.

    The holder's own reads are not audited again: their access was recorded when they got the
    conversation (the claim or the transfer), and a console catching up 50 chats after a
    reconnect would otherwise write 50 audit rows. Someone else's read (an admin) is audited."""
    async with ctx.read() as session:
        conversation = await session.get(Conversation, conversation_id)
        if conversation is None:
            raise ServiceError(Code.NOT_FOUND, _("The conversation was not found."))
        if conversation.agent_id != agent.id and agent.role != "admin":
            raise ServiceError(Code.FORBIDDEN, _("This conversation is not assigned to you."))
        page = ctx.settings.limits.history_page
        rows = await stored_messages(session, conversation_id, after_seq, page)
        written = await notes.of_conversation(session, conversation_id)
        before = await earlier(session, conversation)
        rating = await reports.rating_of(session, conversation_id)
    if after_seq == 0 and conversation.agent_id != agent.id:
        async with ctx.db.begin() as session:
            audit.record(ctx, session, "conversation.read", actor_kind="agent",
                         actor_id=agent.id, target_kind="conversation",
                         target_id=conversation_id, via="history")
    return {"messages": [message_view(m) for m in rows], "notes": [note_view(n) for n in written],
            "earlier": before, "rating": rating}


async def visitor_typing(ctx: Context, visitor: Visitor, typing: bool) -> None:
    if visitor.conversation_id is None:
        return
    async with ctx.read() as session:
        conversation = await session.get(Conversation, visitor.conversation_id)
    if conversation is not None and conversation.agent_id is not None \
            and conversation.state == "active":
        await ctx.bus.to_agent(conversation.agent_id, "typing",
                               {"conversation_id": conversation.id, "typing": typing})


async def agent_typing(ctx: Context, agent: Agent, conversation_id: str, typing: bool) -> None:
    async with ctx.read() as session:
        await require_assigned(session, agent, conversation_id)
    await ctx.bus.to_visitors_of(conversation_id, "typing",
                                 {"typing": typing, "name": agent.display_name})
