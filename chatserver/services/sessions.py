"""An agent's own console sessions: listed (started, last used, browser family; never an
address), ended one by one or all at once. A socket of an ended session is closed within
`auth.session_recheck_seconds` (realtime/agent.py re-checks its sockets that often)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, update
from sqlmodel import col, select

from chatserver.db.models import Agent, AgentSession
from chatserver.errors import Code, ServiceError
from chatserver.i18n import gettext_noop as _
from chatserver.services import audit
from chatserver.services.context import Context
from chatserver.services.tokens import token_hash
from chatserver.services.views import iso

# Last use is written at most this often per session.
TOUCH_SECONDS = 60
# Order matters: Edge and Opera say "Chrome" too, Chrome says "Safari".
_BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"),
             ("Chrome/", "Chrome"), ("Chromium/", "Chromium"), ("Safari/", "Safari"))
_SYSTEMS = (("Android", "Android"), ("iPhone", "iOS"), ("iPad", "iOS"), ("Windows", "Windows"),
            ("Mac OS X", "macOS"), ("CrOS", "ChromeOS"), ("Linux", "Linux"))
_HEADLESS = re.compile(r"Headless", re.IGNORECASE)


def client_family(user_agent: str | None) -> str:
    """"Firefox on Linux": the browser and system families only, nothing that tells one
    device from another."""
    text = user_agent or ""
    browser = next((name for mark, name in _BROWSERS if mark in text), "")
    if browser == "Chrome" and _HEADLESS.search(text):
        browser = "Chrome (headless)"
    system = next((name for mark, name in _SYSTEMS if mark in text), "")
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or "unknown"


def touched(row: AgentSession, now: Any) -> bool:
    return row.last_used_at is None or now - row.last_used_at > timedelta(seconds=TOUCH_SECONDS)


async def touch(ctx: Context, row: AgentSession) -> None:
    async with ctx.db.begin() as session:
        await session.exec(update(AgentSession)
                           .where(col(AgentSession.token_hash) == row.token_hash)
                           .values(last_used_at=ctx.clock()))


async def listing(ctx: Context, agent: Agent, current: str | None) -> list[dict[str, Any]]:
    """The agent's live sessions, newest first; `current` marks the one asking."""
    current_hash = token_hash(current) if current else None
    async with ctx.read() as session:
        rows = (await session.exec(
            select(AgentSession).where(AgentSession.agent_id == agent.id)
            .where(col(AgentSession.expires_at) > ctx.clock())
            .order_by(col(AgentSession.created_at).desc()))).all()
    return [{"id": row.handle, "started_at": iso(row.created_at),
             "last_used_at": iso(row.last_used_at or row.created_at), "client": row.client,
             "current": row.token_hash == current_hash} for row in rows]


async def end(ctx: Context, agent: Agent, handle: str) -> None:
    async with ctx.db.begin() as session:
        result = await session.exec(delete(AgentSession).where(col(AgentSession.handle) == handle)
                                    .where(col(AgentSession.agent_id) == agent.id))
        if not result.rowcount:
            raise ServiceError(Code.NOT_FOUND, _("No such session."))
        audit.record(ctx, session, "session.end", actor_kind="agent", actor_id=agent.id)


async def end_all(ctx: Context, agent: Agent) -> int:
    """Log out everywhere, this session included."""
    async with ctx.db.begin() as session:
        result = await session.exec(delete(AgentSession)
                                    .where(col(AgentSession.agent_id) == agent.id))
        audit.record(ctx, session, "session.end_all", actor_kind="agent", actor_id=agent.id,
                     count=int(result.rowcount or 0))
    return int(result.rowcount or 0)
