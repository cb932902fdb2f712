"""Tables. Every time is timezone-aware UTC. Every column is listed in docs/privacy.md.

Later features (notice versions, the outbox, canned replies, retention) have their tables here
from the first migration so that they fill in behaviour rather than reshape storage.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import (
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class Agent(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(sa_column=Column(String(254), unique=True, nullable=False))
    display_name: str = Field(max_length=100)
    password_hash: str = Field(max_length=255)
    role: str = Field(default="agent", max_length=10)  # "admin" | "agent"
    language: str = Field(default="fi", max_length=5)
    disabled: bool = Field(default=False)
    # The status the agent chose; they are available only while a live connection also exists.
    presence: str = Field(default="online", max_length=10)  # "online" | "away"
    created_at: datetime = Field(default_factory=utcnow)


class AgentSession(SQLModel, table=True):
    """A console login. Only the SHA-256 of the cookie value is stored, so any node can check it."""

    __tablename__ = "agent_session"
    token_hash: str = Field(primary_key=True, max_length=64)
    agent_id: int = Field(
        sa_column=Column(ForeignKey("agent.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    csrf_token: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    # What the agent's session list shows: a random handle to end it by (never the hash),
    # when it was last used (to the minute), and the browser family ("Firefox on Linux"); no
    # address.
    handle: str = Field(default_factory=new_id, max_length=32, unique=True)
    last_used_at: datetime | None = Field(default=None)
    client: str = Field(default="", max_length=60)
    # "" (logged in), "second_factor" (password right, one-time code still due) or "enrol"
    # (the policy wants a second factor this agent has not set up): such a session reaches
    # only the login's next step (services/second_factor.py).
    stage: str = Field(default="", sa_column=Column(String(20), nullable=False,
                                                    server_default=""))


class ApiToken(SQLModel, table=True):
    """A bearer token for scripts and the agent socket; only its SHA-256 is stored."""

    __tablename__ = "api_token"
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    agent_id: int = Field(
        sa_column=Column(ForeignKey("agent.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    label: str = Field(default="", max_length=100)
    created_at: datetime = Field(default_factory=utcnow)
    # "full", or "read": reads and receives but changes nothing (services/api_tokens.py).
    scope: str = Field(default="full", sa_column=Column(String(10), nullable=False,
                                                        server_default="full"))
    expires_at: datetime | None = Field(default=None, index=True)
    last_used_at: datetime | None = Field(default=None)


class AgentTotp(SQLModel, table=True):
    """An agent's one-time-code secret (RFC 6238). Confirmed once a first code matched; the last
    accepted time step, so that a code is never accepted twice."""

    __tablename__ = "agent_totp"
    agent_id: int = Field(
        sa_column=Column(ForeignKey("agent.id", ondelete="CASCADE"), primary_key=True)
    )
    secret: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    confirmed_at: datetime | None = Field(default=None)
    last_step: int = Field(default=0)


class RecoveryCode(SQLModel, table=True):
    """A single-use code for a lost authenticator; only its SHA-256 is stored."""

    __tablename__ = "recovery_code"
    id: int | None = Field(default=None, primary_key=True)
    agent_id: int = Field(
        sa_column=Column(ForeignKey("agent.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    code_hash: str = Field(max_length=64)
    used_at: datetime | None = Field(default=None)


class AgentPasskey(SQLModel, table=True):
    """A WebAuthn credential of an agent (services/passkeys.py): its id and public key as
    base64url, the authenticator's signature counter, a name the agent chose, and last use."""

    __tablename__ = "agent_passkey"
    id: int | None = Field(default=None, primary_key=True)
    agent_id: int = Field(
        sa_column=Column(ForeignKey("agent.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    credential_id: str = Field(sa_column=Column(String(1400), unique=True, nullable=False))
    public_key: str = Field(sa_column=Column(Text, nullable=False))
    sign_count: int = Field(default=0)
    name: str = Field(default="", max_length=100)
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = Field(default=None)


class PasskeyChallenge(SQLModel, table=True):
    """A passkey ceremony under way: its challenge, used once, for a few minutes."""

    __tablename__ = "passkey_challenge"
    handle: str = Field(primary_key=True, max_length=32)
    purpose: str = Field(max_length=20)  # register | login | second_factor
    agent_id: int | None = Field(default=None)
    challenge: str = Field(max_length=200)
    expires_at: datetime = Field(index=True)


class LoginFailure(SQLModel, table=True):
    """A failed login, kept for the throttling window (the purge deletes older ones). The key
    is an HMAC of the account or client address with a key that is not in the database
    (`auth.address_key`), so neither can be recovered from a copy of it."""

    __tablename__ = "login_failure"
    id: int | None = Field(default=None, primary_key=True)
    key_hash: str = Field(max_length=64, index=True)
    created_at: datetime = Field(default_factory=utcnow, index=True)


class AgentConnection(SQLModel, table=True):
    """One live agent socket on some node, refreshed by heartbeats; stale rows mean a dead node."""

    __tablename__ = "agent_connection"
    sid: str = Field(primary_key=True, max_length=64)
    agent_id: int = Field(
        sa_column=Column(ForeignKey("agent.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    node_id: str = Field(max_length=64, index=True)
    connected_at: datetime = Field(default_factory=utcnow)
    heartbeat_at: datetime = Field(default_factory=utcnow, index=True)


class Conversation(SQLModel, table=True):
    __table_args__ = (Index("ix_conversation_state_queued", "state", "queued_at"),)
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    # SHA-256 of the visitor's resume token; the token itself lives only in their sessionStorage.
    token_hash: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    state: str = Field(default="queued", max_length=10)  # bot | queued | active | closed
    language: str = Field(max_length=5)
    agent_id: int | None = Field(
        default=None,
        sa_column=Column(ForeignKey("agent.id", ondelete="SET NULL"), nullable=True, index=True),
    )
    notice_version: str = Field(max_length=64)
    notice_acknowledged_at: datetime
    last_seq: int = Field(default=0)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    last_activity_at: datetime = Field(default_factory=utcnow)
    queued_at: datetime | None = Field(default=None)
    claimed_at: datetime | None = Field(default=None)
    closed_at: datetime | None = Field(default=None, index=True)
    # Kept only to send the transcript; deleted once it is sent.
    transcript_email: str | None = Field(default=None, max_length=254, index=True)
    # Optional metadata, stored only when the operator turns it on (and the notice says so).
    user_agent: str | None = Field(default=None, max_length=500)
    page_url: str | None = Field(default=None, max_length=2000)
    # The same visitor's conversation before this one, when their widget started this one with
    # "New chat" while it still held that one's key; agents see the earlier ones while stored.
    previous_id: str | None = Field(
        default=None,
        sa_column=Column(ForeignKey("conversation.id", ondelete="SET NULL"), nullable=True),
    )
    # When the reports' worker counted it into report_hour (services/reports.py), so that it is
    # counted exactly once (issue 22).
    reported_at: datetime | None = Field(default=None, index=True)


class Message(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("conversation_id", "seq", name="uq_message_seq"),
        UniqueConstraint("conversation_id", "client_key", name="uq_message_client_key"),
    )
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    conversation_id: str = Field(
        sa_column=Column(ForeignKey("conversation.id", ondelete="CASCADE"), nullable=False)
    )
    seq: int
    author_kind: str = Field(max_length=10)  # visitor | agent | bot | system
    author_agent_id: int | None = Field(
        default=None,
        sa_column=Column(ForeignKey("agent.id", ondelete="SET NULL"), nullable=True),
    )
    author_name: str | None = Field(default=None, max_length=100)
    text: str = Field(sa_column=Column(Text, nullable=False))
    # The sender's retry key, prefixed by who sent it, so a retry returns the first row.
    client_key: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utcnow)


class OfflineMessage(SQLModel, table=True):
    __tablename__ = "offline_message"
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    language: str = Field(max_length=5)
    name: str = Field(max_length=100)
    email: str = Field(max_length=254, index=True)
    text: str = Field(sa_column=Column(Text, nullable=False))
    notice_version: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    handled_at: datetime | None = Field(default=None)
    handled_by: int | None = Field(
        default=None,
        sa_column=Column(ForeignKey("agent.id", ondelete="SET NULL"), nullable=True),
    )


class NoticeVersion(SQLModel, table=True):
    """Every privacy notice ever published, with its full text, so any acknowledgement can be
    shown later exactly as the visitor saw it."""

    __tablename__ = "notice_version"
    __table_args__ = (UniqueConstraint("version", "language", name="uq_notice_version_language"),)
    id: int | None = Field(default=None, primary_key=True)
    version: str = Field(max_length=64, index=True)
    language: str = Field(max_length=5)
    content: str = Field(sa_column=Column(Text, nullable=False))  # JSON of the rendered sections
    published_at: datetime = Field(default_factory=utcnow)


class AuditEvent(SQLModel, table=True):
    """Append-only record of access to personal data. Never holds message text."""

    __tablename__ = "audit_event"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    actor_kind: str = Field(max_length=10)  # agent | visitor | system | cli
    actor_id: str | None = Field(default=None, max_length=64, index=True)
    action: str = Field(max_length=40, index=True)
    target_kind: str | None = Field(default=None, max_length=20)
    target_id: str | None = Field(default=None, max_length=64)
    detail: str = Field(default="{}", sa_column=Column(Text, nullable=False, server_default="{}"))


class OutboxEmail(SQLModel, table=True):
    """An email is a row first; a worker sends it and records the outcome."""

    __tablename__ = "outbox_email"
    __table_args__ = (Index("ix_outbox_email_due", "status", "next_attempt_at"),)
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    kind: str = Field(max_length=20)  # transcript | offline_notice | offline_receipt | reply
    # The address, the subject and the bodies are overwritten with "" (NULL) in the transaction
    # that records the outcome; what stays to prove the email was sent is the recipient's keyed
    # hash (HMAC with the record key, never in the database), for data-subject requests.
    to_address: str = Field(max_length=254, index=True)
    recipient_hash: str | None = Field(default=None, max_length=64, index=True)
    reply_to: str | None = Field(default=None, max_length=254)
    subject: str = Field(max_length=300)
    body_text: str = Field(sa_column=Column(Text, nullable=False))
    body_html: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    language: str = Field(max_length=5)
    status: str = Field(default="pending", max_length=10)  # pending | sent | failed
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(default_factory=utcnow)
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    sent_at: datetime | None = Field(default=None)
    conversation_id: str | None = Field(
        default=None,
        sa_column=Column(ForeignKey("conversation.id", ondelete="SET NULL"), nullable=True),
    )
    offline_message_id: str | None = Field(
        default=None,
        sa_column=Column(ForeignKey("offline_message.id", ondelete="SET NULL"), nullable=True),
    )


class CannedResponse(SQLModel, table=True):
    __tablename__ = "canned_response"
    __table_args__ = (UniqueConstraint("language", "shortcut", name="uq_canned_shortcut"),)
    id: int | None = Field(default=None, primary_key=True)
    language: str = Field(max_length=5)
    shortcut: str = Field(max_length=40)
    text: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class Erasure(SQLModel, table=True):
    """A tombstone: something was erased (by a visitor, a data-subject request or the purge),
    re-applied after a restore from an older backup (docs/privacy.md, "Erasure outlives
    backups"). It names only random ids, or a keyed hash of an erased address, so it tells
    nothing about what was erased. Kept `privacy.retention.backups` days; also appended to
    DATA_DIR/erasures.jsonl, which a restored database file does not replace."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    kind: str = Field(max_length=20)  # conversation | offline_message | email | address
    target: str = Field(max_length=64)


class Note(SQLModel, table=True):
    """An agent's private note in a conversation: agents see it, the visitor never does. It is
    personal data like the messages, and goes with its conversation (retention, export, erase).
    Its text is indexed for search with the messages (migration 0004, services/search.py)."""

    __table_args__ = (UniqueConstraint("conversation_id", "client_key", name="uq_note_client_key"),)
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    conversation_id: str = Field(
        sa_column=Column(ForeignKey("conversation.id", ondelete="CASCADE"), nullable=False,
                         index=True)
    )
    author_agent_id: int | None = Field(
        default=None,
        sa_column=Column(ForeignKey("agent.id", ondelete="SET NULL"), nullable=True),
    )
    author_name: str = Field(max_length=100)
    # The last message's seq when the note was written: where it sits in the conversation.
    after_seq: int = Field(default=0)
    text: str = Field(sa_column=Column(Text, nullable=False))
    # The writer's retry key, so a note resent after a reconnect is stored once.
    client_key: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utcnow)


# ---------------------------------------------------------------- the FAQ editor (issue 23)
# The FAQ edited in the console, one row per save, and what the assistant decided about each
# visitor message (the review list, and what the agent who takes over sees). Migration 0006.


class FaqVersion(SQLModel, table=True):
    """One saved version of the FAQ edited in the console; the newest is live on every node
    (services/assistant/faq_store.py). Only the newest `faq_store.KEEP_VERSIONS` are kept."""

    __tablename__ = "faq_version"
    id: int | None = Field(default=None, primary_key=True)
    saved_at: datetime = Field(default_factory=utcnow)
    saved_by: int | None = Field(
        default=None,
        sa_column=Column(ForeignKey("agent.id", ondelete="SET NULL"), nullable=True),
    )
    # JSON: the entries in the FAQ file's shape ([{"id", "disabled"?, "fi": {...}, ...}]).
    entries: str = Field(sa_column=Column(Text, nullable=False))
    # JSON: the labelled questions [{"language", "question", "expected"}] ("none": hand off).
    labelled: str = Field(default="[]", sa_column=Column(Text, nullable=False,
                                                         server_default="[]"))


class BotDecision(SQLModel, table=True):
    """What the assistant did with one visitor message. Deleted with the message (and its
    conversation), so the review list disappears with the conversations it comes from."""

    __tablename__ = "bot_decision"
    message_id: str = Field(sa_column=Column(
        String(32), ForeignKey("message.id", ondelete="CASCADE"), primary_key=True))
    conversation_id: str = Field(sa_column=Column(
        String(32), ForeignKey("conversation.id", ondelete="CASCADE"), nullable=False,
        index=True))
    language: str = Field(max_length=5)
    kind: str = Field(max_length=10)  # answer | choices | unsure | handoff
    entry_id: str | None = Field(default=None, max_length=64)  # the best entry, if any
    confidence: float = Field(default=0.0)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    # "" (not reviewed), "dismissed", "example" or "labelled": what an admin did with it.
    reviewed: str = Field(default="", sa_column=Column(String(10), nullable=False,
                                                       server_default=""))
# --- Reports, satisfaction ratings (issue 22) -------------------------------------------------


class ConversationRating(SQLModel, table=True):
    """The visitor's answer to "How did we do?" when the chat ended: a score of 1 to 5 and an
    optional comment, both optional. Deleted with its conversation (erase, purge)."""

    __tablename__ = "conversation_rating"
    conversation_id: str = Field(
        sa_column=Column(ForeignKey("conversation.id", ondelete="CASCADE"), primary_key=True)
    )
    score: int | None = Field(default=None)
    comment: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    rated_at: datetime = Field(default_factory=utcnow)


# The fixed upper bounds (seconds) of the histograms in report_hour, as Prometheus keeps them;
# the last bucket ("inf") holds everything longer. Changing them needs a migration.
WAIT_BOUNDS = (10, 30, 60, 120, 300, 600, 1800)
DURATION_BOUNDS = (60, 300, 600, 1200, 1800, 3600, 7200)
REPORT_KEYS = ("day", "hour", "language", "agent_id")
REPORT_COUNTERS = (
    "started", "handed_off", "claimed", "assistant_solved", "closed", "offline_messages",
    "messages_visitor", "messages_agent", "messages_bot", "messages_system",
    "rating_1", "rating_2", "rating_3", "rating_4", "rating_5",
)


def histogram_columns(name: str, bounds: tuple[int, ...]) -> list[str]:
    return [f"{name}_{bound}" for bound in bounds] + [f"{name}_inf"]


REPORT_HISTOGRAMS = {
    "wait": histogram_columns("wait", WAIT_BOUNDS),
    "first_response": histogram_columns("first_response", WAIT_BOUNDS),
    "duration": histogram_columns("duration", DURATION_BOUNDS),
}
REPORT_VALUES = REPORT_COUNTERS + tuple(
    column for columns in REPORT_HISTOGRAMS.values() for column in columns)

# Anonymous counters per local day and hour (`time_zone`), language and agent (0: none): no
# text, no address, no conversation id (docs/privacy.md, "Reports"). One wide row per key keeps
# a two-year report to a few tens of thousands of rows.
report_hour = Table(
    "report_hour", SQLModel.metadata,
    Column("day", String(10), primary_key=True),  # YYYY-MM-DD in time_zone
    Column("hour", Integer, primary_key=True, autoincrement=False),
    Column("language", String(5), primary_key=True),
    Column("agent_id", Integer, primary_key=True, autoincrement=False),
    *[Column(name, Integer, nullable=False, server_default="0") for name in REPORT_VALUES],
    # The weekday × hour heatmap reads only site-wide rows' starts: from this index alone.
    Index("ix_report_hour_starts", "agent_id", "day", "hour", "language", "started"),
)


def _rollup(name: str, period: str, length: int) -> Table:
    return Table(
        name, SQLModel.metadata,
        Column(period, String(length), primary_key=True),
        Column("language", String(5), primary_key=True),
        Column("agent_id", Integer, primary_key=True, autoincrement=False),
        *[Column(value, Integer, nullable=False, server_default="0") for value in REPORT_VALUES],
    )


# The same counters summed per day (agent_id -1: all agents together) and per month (agents
# only), written in the same transaction as report_hour, so that a two-year report reads a few
# thousand rows instead of a few hundred thousand (docs/performance.md, "Reports").
report_day = _rollup("report_day", "day", 10)
report_month = _rollup("report_month", "month", 7)


class BusinessHours(SQLModel, table=True):
    """The team's opening hours (issue 22), one row: a weekly schedule in `time_zone` and
    exception dates, as JSON (services/hours.py). No row, or an empty schedule: always open."""

    __tablename__ = "business_hours"
    id: int = Field(default=1, primary_key=True)
    # [{"weekday": 0 (Monday), "opens": "09:00", "closes": "17:00"}, ...]
    weekly: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    # [{"date": "2026-12-24", "opens": "09:00" | null, "closes": "12:00" | null}, ...]
    exceptions: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow)
