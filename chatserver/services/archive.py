"""Reading stored conversations from the console and the REST API; every read is audited."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from chatserver.db.models import Agent, Conversation, Message
from chatserver.errors import Code, ServiceError
from chatserver.i18n import gettext_noop as _
from chatserver.services import audit, notes, reports
from chatserver.services.context import Context
from chatserver.services.views import agent_conversation_view, message_view, note_view

STATES = ("bot", "queued", "active", "closed")


async def list_conversations(
    ctx: Context, *, state: str | None = None, search: str | None = None, limit: int = 50,
    before: str | None = None,
) -> list[dict[str, Any]]:
    """Newest first. `search` matches message text; `before` is a conversation id to page from."""
    if state is not None and state not in STATES:
        raise ServiceError(Code.INVALID_INPUT, _("Unknown state “{state}”."), state=state[:20])
    query = select(Conversation).order_by(col(Conversation.created_at).desc(),
                                          col(Conversation.id).desc())
    if state:
        query = query.where(Conversation.state == state)
    if search:
        pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            col(Conversation.id).in_(
                select(Message.conversation_id).where(col(Message.text).ilike(pattern, escape="\\"))
            )
        )
    async with ctx.db() as session:
        if before:
            anchor = await session.get(Conversation, before)
            if anchor is None:
                raise ServiceError(Code.NOT_FOUND, _("The conversation was not found."))
            query = query.where(col(Conversation.created_at) <= anchor.created_at).where(
                col(Conversation.id) != anchor.id
            )
        rows = (await session.exec(query.limit(limit))).all()
        agents = {a.id: a for a in (await session.exec(select(Agent))).all()}
    return [agent_conversation_view(c, agents.get(c.agent_id)) for c in rows]


async def read_conversation(ctx: Context, reader: Agent, conversation_id: str) -> dict[str, Any]:
    async with ctx.db.begin() as session:
        conversation = await session.get(Conversation, conversation_id)
        if conversation is None:
            raise ServiceError(Code.NOT_FOUND, _("The conversation was not found."))
        agent = await session.get(Agent, conversation.agent_id) if conversation.agent_id else None
        messages = (
            await session.exec(
                select(Message)
                .where(Message.conversation_id == conversation_id)
                .order_by(col(Message.seq))
            )
        ).all()
        written = await notes.of_conversation(session, conversation_id)
        audit.record(ctx, session, "conversation.read", actor_kind="agent", actor_id=reader.id,
                     target_kind="conversation", target_id=conversation_id, via="api")
        rating = await reports.rating_of(session, conversation_id)
    return {
        **agent_conversation_view(conversation, agent),
        "rating": rating,
        "messages": [message_view(m) for m in messages],
        "notes": [note_view(n) for n in written],
    }
