"""The JSON shapes of the wire contract (docs/protocol.md), built from rows in one place."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chatserver.db.models import Agent, Note
from chatserver.db.rows import AnyConversation, AnyMessage


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is not UTC:  # (every time stored here is UTC already)
        moment = moment.astimezone(UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def message_view(message: AnyMessage) -> dict[str, Any]:
    author: dict[str, Any] = {"kind": message.author_kind}
    if message.author_name:
        author["name"] = message.author_name
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "seq": message.seq,
        "author": author,
        "text": message.text,
        "created_at": iso(message.created_at),
    }


def visitor_conversation_view(
    conversation: AnyConversation, agent: Agent | None = None, queue_position: int | None = None
) -> dict[str, Any]:
    """What the visitor sees: no agent email or id, only the name they chat with."""
    view: dict[str, Any] = {"id": conversation.id, "state": conversation.state}
    if agent is not None and conversation.state == "active":
        view["agent"] = {"name": agent.display_name}
    if queue_position is not None and conversation.state == "queued":
        view["queue_position"] = queue_position
    return view


def agent_conversation_view(
    conversation: AnyConversation, agent: Agent | None = None
) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": conversation.id,
        "state": conversation.state,
        "language": conversation.language,
        "agent": None if agent is None else {"id": agent.id, "name": agent.display_name},
        "last_seq": conversation.last_seq,
        "notice_version": conversation.notice_version,
        "created_at": iso(conversation.created_at),
        "queued_at": iso(conversation.queued_at),
        "claimed_at": iso(conversation.claimed_at),
        "closed_at": iso(conversation.closed_at),
        "last_activity_at": iso(conversation.last_activity_at),
    }
    # Optional metadata, present only when the operator turned its collection on.
    if conversation.page_url is not None:
        view["page_url"] = conversation.page_url
    if conversation.user_agent is not None:
        view["user_agent"] = conversation.user_agent
    return view


def agent_view(agent: Agent) -> dict[str, Any]:
    return {
        "id": agent.id,
        "email": agent.email,
        "name": agent.display_name,
        "role": agent.role,
        "language": agent.language,
        "presence": agent.presence,
        "disabled": agent.disabled,
    }


def note_view(note: Note) -> dict[str, Any]:
    """An agent's private note (agents only; never on the visitor's side of the wire)."""
    return {
        "id": note.id,
        "conversation_id": note.conversation_id,
        "after_seq": note.after_seq,
        "author": {"kind": "agent", "name": note.author_name},
        "text": note.text,
        "created_at": iso(note.created_at),
    }
