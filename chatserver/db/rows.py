"""Conversations and messages as plain rows, for the hot paths (docs/performance.md).

Building a SQLModel instance costs about 70 µs on this project's machine (pydantic's validation
and SQLAlchemy's instrumentation), and opening, claiming and answering a conversation built
seven of them per visitor. These dataclasses have the same fields under the same names as the
tables in models.py (tests/test_db.py checks that), so the views read either; they are written
with Core statements (`values()`), never added to a session.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Self

from chatserver.db.models import Conversation, Message, new_id


class _Row:
    __slots__ = ()

    def values(self) -> dict[str, Any]:
        """The values of a Core INSERT into the row's table."""
        names: tuple[str, ...] = self.__slots__  # the dataclass's fields
        return {name: getattr(self, name) for name in names}

    @classmethod
    def of(cls, names: Sequence[str], row: Sequence[Any]) -> Self:
        """From a SELECT's (or RETURNING's) row whose columns are `names`."""
        return cls(**dict(zip(names, row, strict=True)))


@dataclass(slots=True)
class MessageRow(_Row):
    conversation_id: str
    seq: int
    author_kind: str
    text: str
    created_at: datetime
    client_key: str | None = None
    author_agent_id: int | None = None
    author_name: str | None = None
    id: str = field(default_factory=new_id)


@dataclass(slots=True)
class ConversationRow(_Row):
    token_hash: str
    language: str
    notice_version: str
    notice_acknowledged_at: datetime
    created_at: datetime
    last_activity_at: datetime
    state: str = "queued"
    agent_id: int | None = None
    last_seq: int = 0
    queued_at: datetime | None = None
    claimed_at: datetime | None = None
    closed_at: datetime | None = None
    transcript_email: str | None = None
    user_agent: str | None = None
    page_url: str | None = None
    previous_id: str | None = None
    reported_at: datetime | None = None
    id: str = field(default_factory=new_id)


# What the views and the message path take: a loaded model or a hot-path row.
AnyMessage = Message | MessageRow
AnyConversation = Conversation | ConversationRow
