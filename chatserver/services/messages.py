"""Appending one message to a conversation: the per-conversation seq, the client_id
idempotency and the insert, in the caller's transaction. The floor below conversations.py,
message_batch.py and the assistant, which all write messages through it.

A message is acknowledged only after its transaction commits. The seq is taken with an
UPDATE ... RETURNING on the conversation row first, so the write lock comes before any read
(SQLite WAL cannot upgrade a read snapshot) and PostgreSQL serialises on the row lock.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from chatserver.db.models import Agent, Conversation, Message
from chatserver.errors import Code, ServiceError
from chatserver.i18n import gettext_noop as _
from chatserver.services import metrics
from chatserver.services.context import Context
from chatserver.services.views import message_view


class Duplicate(Exception):
    """A retry: carries the first message's view out of the rolled-back transaction."""

    def __init__(self, message: Message) -> None:
        self.view = message_view(message)


async def append(
    ctx: Context, session: AsyncSession, conversation_id: str, *, kind: str, text: str,
    client_key: str | None = None, agent: Agent | None = None, assigned_only: bool = False,
) -> tuple[Message, int | None]:
    """Insert the next message; returns it with the conversation's assigned agent id.

    Two statements on the hot path: the seq UPDATE ... RETURNING and the INSERT. A retry's
    duplicate client_key fails the INSERT (IntegrityError, the caller looks the first one up),
    so the common case never pays for a lookup.
    """
    now = ctx.clock()
    row = (
        await session.exec(
            update(Conversation)
            .where(col(Conversation.id) == conversation_id)
            .values(last_seq=Conversation.last_seq + 1, last_activity_at=now)
            .returning(col(Conversation.last_seq), col(Conversation.state),
                       col(Conversation.agent_id))
        )
    ).first()
    if row is None:
        raise ServiceError(Code.NOT_FOUND, _("The conversation was not found."))
    seq, state, agent_id = row
    if state == "closed":
        if client_key is not None:
            existing = await by_client_key(session, conversation_id, client_key)
            if existing is not None:
                raise Duplicate(existing)
        raise ServiceError(Code.CLOSED)
    if assigned_only and (agent is None or agent_id != agent.id):
        raise ServiceError(Code.FORBIDDEN, _("This conversation is not assigned to you."))
    message = Message(
        conversation_id=conversation_id, seq=seq, author_kind=kind, text=text,
        client_key=client_key, created_at=now,
        author_agent_id=agent.id if agent else None,
        author_name=agent.display_name if agent else None,
    )
    session.add(message)
    await session.flush()
    metrics.count_message(ctx, kind)
    return message, agent_id


async def by_client_key(session: AsyncSession, conversation_id: str,
                         client_key: str) -> Message | None:
    return (
        await session.exec(
            select(Message)
            .where(Message.conversation_id == conversation_id)
            .where(Message.client_key == client_key)
        )
    ).first()
