"""The append-only audit log: who read, exported or erased personal data, and every login.

Rows are added in the same transaction as the act they record. Never pass message text,
email addresses or names in `detail`.
"""

from __future__ import annotations

import json
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from chatserver.db.models import AuditEvent
from chatserver.services.context import Context


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
    session.add(
        AuditEvent(
            at=ctx.clock(),
            actor_kind=actor_kind,
            actor_id=None if actor_id is None else str(actor_id),
            action=action,
            target_kind=target_kind,
            target_id=None if target_id is None else str(target_id),
            detail=json.dumps(detail, sort_keys=True),
        )
    )
