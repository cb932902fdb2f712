"""API tokens: named, with a scope and an expiry, their last use shown; listed and revoked by
their agent (docs/security.md). Only the SHA-256 of a token is stored.

A `read` token reads and receives (REST GET, the queue, history, the socket's events) but
changes nothing: every other REST method and socket event is refused `forbidden`. An expired
token is refused like an unknown one and deleted by the purge.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, update
from sqlmodel import col, select

from chatserver.db.models import Agent, ApiToken
from chatserver.errors import Code, ServiceError
from chatserver.i18n import gettext_noop as _
from chatserver.services import audit
from chatserver.services.context import Context
from chatserver.services.tokens import new_token, token_hash
from chatserver.services.views import iso

SCOPES = ("full", "read")
DEFAULT_DAYS = 90
MAX_DAYS = 3650
# Last use is written at most this often per token (a script may call many times a second).
TOUCH_SECONDS = 60


@dataclass(frozen=True)
class Grant:
    agent: Agent
    read_only: bool


def check_scope(scope: str) -> None:
    if scope not in SCOPES:
        raise ServiceError(Code.INVALID_INPUT, _("The scope must be full or read."))


async def create(ctx: Context, agent_id: int, name: str = "", *, scope: str = "full",
                 days: int | None = DEFAULT_DAYS, actor_kind: str = "cli") -> str:
    """A new token for the agent, shown once; `days=None` never expires."""
    check_scope(scope)
    if days is not None and not 1 <= days <= MAX_DAYS:
        raise ServiceError(Code.INVALID_INPUT,
                           _("A token lasts 1 to {limit} days."), limit=MAX_DAYS)
    token = new_token()
    now = ctx.clock()
    async with ctx.db.begin() as session:
        session.add(ApiToken(token_hash=token_hash(token), agent_id=agent_id, label=name[:100],
                             created_at=now, scope=scope,
                             expires_at=now + timedelta(days=days) if days else None))
        audit.record(ctx, session, "api_token.create", actor_kind=actor_kind,
                     target_kind="agent", target_id=agent_id, scope=scope, days=days)
    return token


async def check(ctx: Context, token: str) -> Grant | None:
    """The agent and scope behind a live token, or None (unknown, expired, agent disabled)."""
    now = ctx.clock()
    async with ctx.read() as session:
        row = (await session.exec(
            select(ApiToken).where(ApiToken.token_hash == token_hash(token)))).first()
        agent = await session.get(Agent, row.agent_id) if row else None
    if row is None or agent is None or agent.disabled:
        return None
    if row.expires_at is not None and row.expires_at <= now:
        return None
    if row.last_used_at is None or now - row.last_used_at > timedelta(seconds=TOUCH_SECONDS):
        async with ctx.db.begin() as session:
            await session.exec(update(ApiToken).where(col(ApiToken.id) == row.id)
                               .values(last_used_at=now))
    return Grant(agent, read_only=row.scope == "read")


def view(row: ApiToken) -> dict[str, Any]:
    return {"id": row.id, "name": row.label, "scope": row.scope,
            "created_at": iso(row.created_at), "expires_at": iso(row.expires_at),
            "last_used_at": iso(row.last_used_at)}


async def listing(ctx: Context, agent: Agent) -> list[dict[str, Any]]:
    """The agent's own tokens, newest first (expired ones until the purge deletes them)."""
    async with ctx.read() as session:
        rows = (await session.exec(select(ApiToken).where(ApiToken.agent_id == agent.id)
                                   .order_by(col(ApiToken.id).desc()))).all()
    return [view(row) for row in rows]


async def revoke(ctx: Context, agent: Agent, token_id: int) -> None:
    async with ctx.db.begin() as session:
        row = await session.get(ApiToken, token_id)
        if row is None or row.agent_id != agent.id:
            raise ServiceError(Code.NOT_FOUND, _("No such token."))
        await session.delete(row)
        audit.record(ctx, session, "api_token.revoke", actor_kind="agent", actor_id=agent.id,
                     target_kind="api_token", target_id=token_id)


async def delete_expired(ctx: Context, now: datetime) -> int:
    async with ctx.db.begin() as session:
        result = await session.exec(delete(ApiToken).where(col(ApiToken.expires_at) < now))
    return int(result.rowcount or 0)
