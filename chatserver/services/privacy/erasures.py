"""Erasures outlive backups (DESIGN.md privacy rule 9, docs/privacy.md).

Every erasure writes tombstones in its own transaction: the random ids of the erased
conversations, offline messages and emails, and for a request by address the address's keyed
hash (tokens.keyed_hash with the record key). A purge writes one tombstone with the time it ran.
None of them says what was erased.

The tombstones are rows of the `erasure` table and lines of DATA_DIR/erasures.jsonl, appended
once the transaction commits. A restored database file brings back the table as it was at the
backup, but not the journal file next to it, so backup.reapply (at every start-up, before the
server accepts connections, and at the end of `chatserver restore`) deletes again everything a
tombstone of either place names, and runs the purge as of the newest purge tombstone. Both are
kept `privacy.retention.backups` days, as long as a backup may live.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, event
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from chatserver.db.models import Conversation, Erasure, Message, OfflineMessage, OutboxEmail
from chatserver.services.context import Context

log = logging.getLogger(__name__)
JOURNAL = "erasures.jsonl"
KINDS = ("conversation", "offline_message", "email", "address", "purge")
CHUNK = 500
NO_SYNC = {"synchronize_session": False}


def journal_path(ctx: Context) -> Path:
    return Path(ctx.settings.data_dir) / JOURNAL


def record(ctx: Context, session: AsyncSession, kind: str, targets: Iterable[str]) -> None:
    """Tombstones for `targets` in the caller's transaction; journal lines once it commits."""
    assert kind in KINDS
    now = ctx.clock()
    rows = [Erasure(at=now, kind=kind, target=target) for target in targets]
    if not rows:
        return
    session.add_all(rows)
    lines = "".join(json.dumps({"at": now.isoformat(), "kind": kind, "target": row.target}) + "\n"
                    for row in rows)
    path = journal_path(ctx)

    def append(_session: Any) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as fh:
            fh.write(lines)

    event.listen(session.sync_session, "after_commit", append, once=True)


async def delete_rows(session: AsyncSession, conversation_ids: Sequence[str],
                      offline_ids: Sequence[str], email_ids: Sequence[str]) -> int:
    """Delete conversations (with their messages), offline messages and emails; the count."""
    removed = 0
    for start in range(0, max(len(conversation_ids), len(offline_ids), len(email_ids)), CHUNK):
        conversations = list(conversation_ids[start:start + CHUNK])
        offline = list(offline_ids[start:start + CHUNK])
        emails = list(email_ids[start:start + CHUNK])
        if emails:
            removed += (await session.exec(delete(OutboxEmail).where(
                col(OutboxEmail.id).in_(emails)), execution_options=NO_SYNC)).rowcount
        if conversations:
            removed += (await session.exec(delete(OutboxEmail).where(
                col(OutboxEmail.conversation_id).in_(conversations)),
                execution_options=NO_SYNC)).rowcount
            removed += (await session.exec(delete(Message).where(
                col(Message.conversation_id).in_(conversations)),
                execution_options=NO_SYNC)).rowcount
            removed += (await session.exec(delete(Conversation).where(
                col(Conversation.id).in_(conversations)), execution_options=NO_SYNC)).rowcount
        if offline:
            removed += (await session.exec(delete(OfflineMessage).where(
                col(OfflineMessage.id).in_(offline)), execution_options=NO_SYNC)).rowcount
    return removed


@dataclass
class Tombstones:
    by_kind: dict[str, set[str]] = field(default_factory=lambda: {k: set() for k in KINDS})
    rows: list[tuple[datetime, str, str]] = field(default_factory=list)  # (at, kind, target)

    def add(self, at: datetime, kind: str, target: str) -> None:
        if kind in self.by_kind and target not in self.by_kind[kind]:
            self.by_kind[kind].add(target)
            self.rows.append((at, kind, target))


def read_journal(path: Path, since: datetime, into: Tombstones) -> None:
    if not path.exists():
        return
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            item = json.loads(line)
            at = datetime.fromisoformat(item["at"])
        except (ValueError, KeyError, TypeError):
            continue  # a torn last line after a crash
        if at >= since:
            into.add(at, str(item["kind"]), str(item["target"]))


async def forget_old(ctx: Context) -> None:
    """Drop tombstones older than privacy.retention.backups (the purge calls this)."""
    since = ctx.clock() - timedelta(days=ctx.settings.privacy.retention.backups)
    async with ctx.db.begin() as session:
        await session.exec(delete(Erasure).where(col(Erasure.at) < since),
                           execution_options=NO_SYNC)
    path = journal_path(ctx)
    if path.exists():
        kept = Tombstones()
        read_journal(path, since, kept)
        lines = "".join(json.dumps({"at": at.isoformat(), "kind": kind, "target": target}) + "\n"
                        for at, kind, target in kept.rows)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(lines, encoding="utf-8")
        temporary.replace(path)
