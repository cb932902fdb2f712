"""The append-only audit log: who read, exported or erased personal data, and every login.

Rows are added (`record`) in the same transaction as the act they record. Never pass message
text, email addresses or names in `detail`. Admins read it (`search`) in the console and over
REST: newest first, filtered by actor, action and date.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Insert, bindparam, insert, or_
from sqlalchemy import select as select_core
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from chatserver.db import trip
from chatserver.db.models import Agent, AuditEvent
from chatserver.errors import Code, ServiceError
from chatserver.i18n import gettext_noop as _
from chatserver.services.context import Context
from chatserver.services.views import iso

_TABLE = AuditEvent.__table__  # type: ignore[attr-defined]
# Every column but the id, which the database numbers.
INSERT = trip.Statement(insert(_TABLE).values(
    {column.name: bindparam(column.name) for column in _TABLE.c if column.name != "id"}))


def insert_for_each(rows: Any) -> Insert:
    """`INSERT` once per row of `rows` (a CTE, in a PostgreSQL statement that does more), its
    values bound as `a_<column>`: `trip.prefixed(row(...), "a_")`."""
    binds = trip.column_binds(_TABLE, "a_")
    del binds["id"]
    return insert(_TABLE).from_select(list(binds), select_core(*binds.values()).select_from(rows))


def _values(ctx: Context, action: str, actor_kind: str, actor_id: str | int | None,
            target_kind: str | None, target_id: str | int | None,
            detail: dict[str, Any]) -> dict[str, Any]:
    return {
        "at": ctx.clock(),
        "actor_kind": actor_kind,
        "actor_id": None if actor_id is None else str(actor_id),
        "action": action,
        "target_kind": target_kind,
        "target_id": None if target_id is None else str(target_id),
        "detail": json.dumps(detail, sort_keys=True),
    }


def record(
    ctx: Context,
    session: AsyncSession,
    action: str,
    *,
    actor_kind: str,
    actor_id: str | int | None = None,
    target_kind: str | None = None,
    target_id: str | int | None = None,
    **detail: Any,
) -> None:
    session.add(AuditEvent(**_values(ctx, action, actor_kind, actor_id, target_kind,
                                     target_id, detail)))


def row(
    ctx: Context,
    action: str,
    *,
    actor_kind: str,
    actor_id: str | int | None = None,
    target_kind: str | None = None,
    target_id: str | int | None = None,
    **detail: Any,
) -> dict[str, Any]:
    """As `record`, as the values of `INSERT` (the hot paths' one-trip transactions)."""
    return _values(ctx, action, actor_kind, actor_id, target_kind, target_id, detail)


ACTOR_KINDS = ("agent", "visitor", "system", "cli")


def parse_moment(value: str, field: str, *, end_of_day: bool = False) -> datetime:
    """An ISO date (the whole day, in UTC) or an ISO date-time; naive times are UTC."""
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            moment = datetime.combine(day, time.min, tzinfo=UTC)
            return moment + timedelta(days=1) if end_of_day else moment
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ServiceError(Code.INVALID_INPUT,
                           _("“{field}” must be a date such as 2026-11-22."), field=field) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _event_view(row: AuditEvent, names: dict[str, str]) -> dict[str, Any]:
    try:
        detail = json.loads(row.detail or "{}")
    except ValueError:
        detail = {}
    actor: dict[str, Any] = {"kind": row.actor_kind, "id": row.actor_id}
    if row.actor_kind == "agent" and row.actor_id in names:
        actor["name"] = names[row.actor_id]
    return {"id": row.id, "at": iso(row.at), "actor": actor, "action": row.action,
            "target": None if row.target_kind is None else {"kind": row.target_kind,
                                                             "id": row.target_id},
            "detail": detail}


async def search(ctx: Context, *, actor: str | None = None, action: str | None = None,
                 since: datetime | None = None, until: datetime | None = None,
                 before: int | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """`actor` is an agent id or an actor kind (visitor, system, cli); `action` matches an
    action exactly or as a prefix up to a dot ("login" finds login and login.failed);
    `until` is exclusive; `before` is an event id to page from."""
    query = select(AuditEvent).order_by(col(AuditEvent.id).desc())
    if actor:
        if actor.isascii() and actor.isdigit():
            query = query.where(AuditEvent.actor_kind == "agent",
                                AuditEvent.actor_id == actor)
        elif actor in ACTOR_KINDS:
            query = query.where(AuditEvent.actor_kind == actor)
        else:
            raise ServiceError(Code.INVALID_INPUT, _("Unknown actor “{actor}”."), actor=actor[:40])
    if action:
        query = query.where(or_(col(AuditEvent.action) == action,
                                col(AuditEvent.action).startswith(action + ".")))
    if since is not None:
        query = query.where(col(AuditEvent.at) >= since)
    if until is not None:
        query = query.where(col(AuditEvent.at) < until)
    if before is not None:
        query = query.where(col(AuditEvent.id) < before)
    async with ctx.db() as session:
        rows = (await session.exec(query.limit(limit))).all()
        agents = (await session.exec(select(Agent.id, Agent.display_name))).all()
    names = {str(agent_id): name for agent_id, name in agents}
    return [_event_view(r, names) for r in rows]


async def actions(ctx: Context) -> list[str]:
    """Every action name that occurs in the log, for the console's filter."""
    async with ctx.db() as session:
        rows = (await session.exec(select(AuditEvent.action).distinct()
                                   .order_by(col(AuditEvent.action)))).all()
    return list(rows)
