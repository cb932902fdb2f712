"""Backups that keep the privacy promises (docs/deployment.md, "Backup and restore").

- `backup`: a consistent copy of the live SQLite database (SQLite's online backup API; the
  server keeps running), stamped inside with its creation time and schema revision, optionally
  encrypted to an age public key (`backup.recipient`); backups older than
  `privacy.retention.backups` days are removed from the folder.
- `restore`: refuses a backup of a newer schema, puts the copy in place of the database (the
  server stopped), migrates an older one, and re-applies every tombstone (`reapply`).
- `reapply`: deletes again everything the tombstones of erasures.py name; at every start-up,
  before the server accepts connections, too. A restore therefore never brings back what a
  visitor, an admin or the purge erased after the backup was taken.

PostgreSQL is backed up with pg_dump and restored with pg_restore (docs/deployment.md);
`chatserver erasures apply` then re-applies the tombstones.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import or_
from sqlalchemy.engine import make_url
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from chatserver.db import migrate
from chatserver.db.engine import checkpoint_wal
from chatserver.db.models import Conversation, Erasure, OfflineMessage, OutboxEmail
from chatserver.services.context import Context
from chatserver.services.privacy import erasures, retention
from chatserver.services.tokens import keyed_hash
from chatserver.settings import ConfigError, Settings

log = logging.getLogger(__name__)
NAME = re.compile(r"^chatserver-(\d{8}T\d{6}Z)\.db(\.age)?$")
STAMP = "%Y%m%dT%H%M%SZ"


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    created_at: datetime
    revision: str | None
    encrypted: bool


def sqlite_path(settings: Settings) -> Path:
    url = make_url(settings.database_url)
    if not url.drivername.startswith("sqlite") or not url.database:
        raise ConfigError("chatserver backup and restore work on SQLite; back up PostgreSQL "
                          "with pg_dump and restore it with pg_restore, then run `chatserver "
                          "erasures apply` (docs/deployment.md)")
    return Path(url.database)


def folder(settings: Settings) -> Path:
    return Path(settings.backup.folder or Path(settings.data_dir) / "backups")


async def backup(ctx: Context, into: Path | None = None) -> BackupInfo:
    """Copy the live database to a new file in `into` (default backup.folder)."""
    source = sqlite_path(ctx.settings)
    target_dir = into or folder(ctx.settings)
    target_dir.mkdir(parents=True, exist_ok=True)
    now = ctx.clock()
    name = f"chatserver-{now.strftime(STAMP)}.db"
    revision = await asyncio.to_thread(_copy, source, target_dir / name, now)
    path = target_dir / name
    recipient = ctx.settings.backup.recipient
    if recipient:
        path = await asyncio.to_thread(_encrypt, path, recipient)
    if into is None:
        await asyncio.to_thread(_remove_old, target_dir, now - timedelta(
            days=ctx.settings.privacy.retention.backups))
    log.info("backup written to %s (schema %s%s)", path, revision,
             ", encrypted" if recipient else "")
    return BackupInfo(path, now, revision, bool(recipient))


def _copy(source: Path, target: Path, now: datetime) -> str | None:
    """SQLite's online backup: one consistent snapshot, even while others write."""
    partial = target.with_suffix(".partial")
    with sqlite3.connect(source) as live, sqlite3.connect(partial) as copy:
        live.backup(copy)
        revision = copy.execute("SELECT version_num FROM alembic_version").fetchone()
        copy.execute("CREATE TABLE chatserver_backup (created_at TEXT NOT NULL, revision TEXT)")
        copy.execute("INSERT INTO chatserver_backup VALUES (?, ?)",
                     (now.isoformat(), revision[0] if revision else None))
        copy.commit()
        copy.execute("PRAGMA journal_mode=DELETE")
    live.close()
    copy.close()
    partial.replace(target)
    return str(revision[0]) if revision else None


def _encrypt(path: Path, recipient: str) -> Path:
    import pyrage

    encrypted = path.with_name(path.name + ".age")
    pyrage.encrypt_file(str(path), str(encrypted), [pyrage.x25519.Recipient.from_str(recipient)])
    path.unlink()
    return encrypted


def _remove_old(target_dir: Path, before: datetime) -> None:
    for path in target_dir.iterdir():
        found = NAME.match(path.name)
        if found and datetime.strptime(found.group(1), STAMP).replace(
                tzinfo=before.tzinfo) < before:
            path.unlink()
            log.info("backup %s is older than privacy.retention.backups: removed", path.name)


def read_info(path: Path) -> BackupInfo:
    """The creation time and schema revision stamped inside an unencrypted backup."""
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            created, revision = db.execute(
                "SELECT created_at, revision FROM chatserver_backup").fetchone()
    except (sqlite3.DatabaseError, TypeError):
        raise ConfigError(f"{path} is not a chatserver backup (made by `chatserver backup`); "
                          "an encrypted one needs --identity") from None
    return BackupInfo(path, datetime.fromisoformat(created), revision, False)


def _decrypt(path: Path, identity_file: Path, into: Path) -> Path:
    import pyrage

    try:
        identities = [pyrage.x25519.Identity.from_str(line.strip()) for line in
                      identity_file.read_text().splitlines()
                      if line.strip().startswith("AGE-SECRET-KEY-")]
    except (OSError, pyrage.IdentityError) as exc:
        raise ConfigError(f"--identity {identity_file}: not an age private key ({exc})") from None
    if not identities:
        raise ConfigError(f"--identity {identity_file}: no AGE-SECRET-KEY line in it")
    plain = into / path.name.removesuffix(".age")
    try:
        pyrage.decrypt_file(str(path), str(plain), identities)
    except pyrage.DecryptError:
        raise ConfigError(f"{path} cannot be decrypted with {identity_file}: it was "
                          "encrypted to another key") from None
    return plain


def check_revision(info: BackupInfo) -> None:
    known = migrate.revisions()
    if info.revision is not None and info.revision not in known:
        raise ConfigError(f"{info.path.name} is from a newer schema ({info.revision}) than this "
                          f"chatserver knows ({migrate.head_revision()}): restore it with the "
                          "version that made it, or upgrade chatserver first")


async def restore(ctx: Context, path: Path, identity: Path | None = None
                  ) -> tuple[BackupInfo, int]:
    """Put a backup in place of the database (the server must be stopped), migrate it to this
    version's schema and re-apply the tombstones; returns the backup and the rows removed."""
    target = sqlite_path(ctx.settings)
    await ctx.engine.dispose()
    info = await asyncio.to_thread(_put_in_place, path, identity, target)
    await asyncio.to_thread(migrate.upgrade, ctx.settings.database_url)
    removed = await reapply(ctx)
    log.info("restored %s (taken %s, schema %s); %d row(s) erased since were deleted again",
             path.name, info.created_at.isoformat(), info.revision, removed)
    return info, removed


def _put_in_place(path: Path, identity: Path | None, target: Path) -> BackupInfo:
    work = target.parent / ".restore"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        plain = path
        if path.name.endswith(".age"):
            if identity is None:
                raise ConfigError(f"{path.name} is encrypted: give its private key with "
                                  "--identity FILE")
            plain = _decrypt(path, identity, work)
        info = read_info(plain)
        check_revision(info)
        copy = work / "chatserver.db"
        if plain != copy:
            shutil.copyfile(plain, copy)
        with sqlite3.connect(copy) as db:
            db.execute("DROP TABLE chatserver_backup")
        db.close()
        for suffix in ("-wal", "-shm"):
            target.with_name(target.name + suffix).unlink(missing_ok=True)
        copy.replace(target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return info


async def reapply(ctx: Context) -> int:
    """Delete again what every tombstone (table and journal) names; the rows removed. The
    journal's tombstones also go back into the table, so a restored database knows them."""
    since = ctx.clock() - timedelta(days=ctx.settings.privacy.retention.backups)
    found = erasures.Tombstones()
    async with ctx.db() as session:
        for row in (await session.exec(select(Erasure).where(col(Erasure.at) >= since))).all():
            found.add(row.at, row.kind, row.target)
    known = {(kind, target) for _at, kind, target in found.rows}
    erasures.read_journal(erasures.journal_path(ctx), since, found)
    if not found.rows:
        return 0
    removed = 0
    async with ctx.db.begin() as session:
        session.add_all(Erasure(at=at, kind=kind, target=target)
                        for at, kind, target in found.rows if (kind, target) not in known)
        addresses = found.by_kind["address"]
        extra = await _rows_of_addresses(ctx, session, addresses) if addresses else ([], [], [])
        removed += await erasures.delete_rows(
            session, sorted(found.by_kind["conversation"] | set(extra[0])),
            sorted(found.by_kind["offline_message"] | set(extra[1])),
            sorted(found.by_kind["email"] | set(extra[2])))
    purges = [datetime.fromisoformat(t) for t in found.by_kind["purge"]]
    if purges:
        removed += (await retention.purge(ctx, now=max(purges), tombstone=False)).total()
    if removed:
        await checkpoint_wal(ctx.engine)
        log.warning("erasures: %d row(s) erased earlier were found again (a restored backup?) "
                    "and deleted before accepting connections", removed)
    return removed


async def _rows_of_addresses(ctx: Context, session: AsyncSession, hashes: set[str]
                             ) -> tuple[list[str], list[str], list[str]]:
    """The conversations, offline messages and emails tied to an erased address's hash."""
    def tied(address: str | None) -> bool:
        return bool(address) and keyed_hash(ctx.record_key, address or "") in hashes

    emails = [e for e in (await session.exec(select(OutboxEmail).where(or_(
        col(OutboxEmail.recipient_hash).in_(sorted(hashes)),
        col(OutboxEmail.reply_to).is_not(None))))).all()
        if e.recipient_hash in hashes or tied(e.reply_to)]
    conversations = [c.id for c in (await session.exec(
        select(Conversation).where(col(Conversation.transcript_email).is_not(None)))).all()
        if tied(c.transcript_email)]
    conversations += [e.conversation_id for e in emails if e.conversation_id]
    offline = [m.id for m in (await session.exec(select(OfflineMessage))).all()
               if tied(m.email)]
    return conversations, offline, [e.id for e in emails]
