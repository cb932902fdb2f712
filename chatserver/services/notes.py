"""Agents' private notes in a conversation (issue 21, docs/protocol.md `note`).

A note is for agents only: it goes to the agents' sockets and their `history`, never to the
visitor's room, their history or the transcript (those read `message` rows only). It is personal
data like the messages: it is stored with its conversation, exported and erased with it, and
deleted by the purge with it (the foreign key cascades)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from chatserver.db.models import Agent, Conversation, Note
from chatserver.errors import Code, ServiceError
from chatserver.i18n import gettext_noop as _
from chatserver.services import audit
from chatserver.services.context import Context
from chatserver.services.views import note_view


def may_read(agent: Agent, conversation: Conversation) -> bool:
    """The agent holding the conversation writes and reads its notes; admins any."""
    return conversation.agent_id == agent.id or agent.role == "admin"


async def add(ctx: Context, agent: Agent, conversation_id: str, client_id: str, text: str,
              sid: str | None = None) -> dict[str, Any]:
    """Store a note (once per client_id) and show it to the agents of the conversation."""
    client_key = f"a{agent.id}:{client_id}"
    try:
        async with ctx.db.begin() as session:
            conversation = await session.get(Conversation, conversation_id)
            if conversation is None:
                raise ServiceError(Code.NOT_FOUND, _("The conversation was not found."))
            if not may_read(agent, conversation):
                raise ServiceError(Code.FORBIDDEN, _("This conversation is not assigned to you."))
            existing = await _by_client_key(session, conversation_id, client_key)
            if existing is not None:
                return note_view(existing)
            note = Note(conversation_id=conversation_id, author_agent_id=agent.id,
                        author_name=agent.display_name, after_seq=conversation.last_seq,
                        text=text, client_key=client_key, created_at=ctx.clock())
            session.add(note)
            holder = conversation.agent_id
            audit.record(ctx, session, "note.add", actor_kind="agent", actor_id=agent.id,
                         target_kind="conversation", target_id=conversation_id)
    except IntegrityError:  # the same note sent twice at once: the first one stands
        async with ctx.read() as session:
            existing = await _by_client_key(session, conversation_id, client_key)
        if existing is None:
            raise ServiceError(Code.UNAVAILABLE) from None
        return note_view(existing)
    view = note_view(note)
    await ctx.bus.to_agent(agent.id or 0, "note", view, skip_sid=sid)
    if holder is not None and holder != agent.id:
        await ctx.bus.to_agent(holder, "note", view)
    return view


async def _by_client_key(session: AsyncSession, conversation_id: str,
                         client_key: str) -> Note | None:
    return (await session.exec(select(Note).where(Note.conversation_id == conversation_id)
                               .where(Note.client_key == client_key))).first()


async def of_conversation(session: AsyncSession, conversation_id: str) -> list[Note]:
    return list((await session.exec(
        select(Note).where(Note.conversation_id == conversation_id)
        .order_by(col(Note.created_at), col(Note.id)))).all())
