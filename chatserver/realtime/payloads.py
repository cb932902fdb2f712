"""Payload shapes of every client-to-server event (docs/protocol.md)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from chatserver.validation import CleanText, ClientId, Line, Payload

# Upper bounds here only stop absurd payloads early; the configured limits apply after trimming.
Text = Annotated[CleanText, StringConstraints(max_length=100_000)]
ConversationId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Seq = Annotated[int, Field(ge=0, le=2**31)]


class VisitorAuth(Payload):
    notice_version: Annotated[str, StringConstraints(max_length=64)] | None = None
    lang: Annotated[str, StringConstraints(max_length=35)] | None = None
    token: Annotated[str, StringConstraints(max_length=128)] | None = None
    # The key of the visitor's previous conversation, sent with no `token` when the widget
    # starts a new chat after one (links the two for agents: docs/protocol.md).
    previous: Annotated[str, StringConstraints(max_length=128)] | None = None
    # Stored only when privacy.collect_page_url is on.
    page_url: Annotated[str, StringConstraints(max_length=2000)] | None = None


class AgentAuth(Payload):
    api_token: Annotated[str, StringConstraints(max_length=128)] | None = None
    # 2: the queue's changes come as `queue_update` deltas; 1 (or absent): as the whole queue
    # in `queue` after every change (the console before 2026-12; kept for one release).
    queue_version: Literal[1, 2] = 1


class Empty(Payload):
    pass


class VisitorMessage(Payload):
    client_id: ClientId
    text: Text
    # The id of a FAQ entry the assistant offered as a choice (docs/protocol.md).
    choice: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None


class Typing(Payload):
    typing: bool


class History(Payload):
    after_seq: Seq = 0


class TranscriptRequest(Payload):
    email: Annotated[Line, StringConstraints(max_length=254)]


class OfflineMessageIn(Payload):
    name: Annotated[Line, StringConstraints(max_length=100)]
    email: Annotated[Line, StringConstraints(max_length=254)]
    text: Text


class Rating(Payload):
    """The visitor's answer to "How did we do?" (issue 22); both parts are optional."""

    score: Annotated[int, Field(ge=1, le=5)] | None = None
    comment: Annotated[CleanText, StringConstraints(max_length=500)] | None = None


class Presence(Payload):
    status: Literal["online", "away"]


class ConversationRef(Payload):
    conversation_id: ConversationId


class AgentMessage(Payload):
    conversation_id: ConversationId
    client_id: ClientId
    text: Text


class AgentTyping(Payload):
    conversation_id: ConversationId
    typing: bool


class Transfer(Payload):
    conversation_id: ConversationId
    agent_id: Annotated[int, Field(ge=1, le=2**31)]


class AgentHistory(Payload):
    conversation_id: ConversationId
    after_seq: Seq = 0


class AgentNote(Payload):
    conversation_id: ConversationId
    client_id: ClientId
    text: Text
