"""The privacy commands of `chatserver`: `purge [--dry-run]`, `dsar find|export|erase`,
`backup`, `restore` and `erasures apply`."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from chatserver.cli.context import with_context
from chatserver.settings import Settings

COMMANDS = ("purge", "dsar", "backup", "restore", "erasures")


def add_commands(commands: Any) -> None:
    purge = commands.add_parser(
        "purge", help="delete personal data whose retention period has ended (privacy.retention)")
    purge.add_argument("--dry-run", action="store_true",
                       help="only count what is due; delete nothing")
    dsar = commands.add_parser("dsar", help="data-subject requests by email address")
    actions = dsar.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, text in (("find", "list what is stored for an address"),
                       ("export", "print everything stored for an address as JSON"),
                       ("erase", "delete everything stored for an address")):
        action = actions.add_parser(name, help=text)
        action.add_argument("--email", required=True, help="the person's email address")
        if name == "export":
            action.add_argument("--output", metavar="FILE",
                                help="write the JSON to FILE instead of standard output")
        if name == "erase":
            action.add_argument("--yes", action="store_true",
                                help="do not ask for confirmation")


    backup = commands.add_parser(
        "backup", help="copy the SQLite database while it runs (encrypted to backup.recipient "
        "when set); removes backups older than privacy.retention.backups")
    backup.add_argument("--output", metavar="DIR",
                        help="write into DIR instead of backup.folder (nothing is removed there)")
    restore = commands.add_parser(
        "restore", help="put a backup in place of the database (stop the server first), "
        "migrate it and erase again what was erased after it was taken")
    restore.add_argument("file", metavar="FILE", help="a file made by `chatserver backup`")
    restore.add_argument("--identity", metavar="FILE",
                         help="the age private key of an encrypted backup")
    restore.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    apply = commands.add_parser(
        "erasures", help="the tombstones of erasures (after restoring PostgreSQL by hand)")
    apply.add_argument("action", choices=["apply"],
                       help="delete again everything the tombstones name")


def run(settings: Settings, args: argparse.Namespace) -> None:
    from chatserver.settings import ConfigError

    try:
        if args.command == "purge":
            with_context(settings, lambda ctx: _purge(ctx, args.dry_run))
        elif args.command == "dsar":
            with_context(settings, lambda ctx: _dsar(ctx, args))
        else:
            with_context(settings, lambda ctx: _backups(ctx, args))
    except ConfigError as exc:
        raise SystemExit(f"error: {exc}") from None


async def _backups(ctx: Any, args: argparse.Namespace) -> None:
    from chatserver.services.privacy import backup

    if args.command == "backup":
        made = await backup.backup(ctx, Path(args.output) if args.output else None)
        print(f"{made.path} (schema {made.revision}"
              f"{', encrypted' if made.encrypted else ''})")
    elif args.command == "restore":
        path = Path(args.file)
        if not await asyncio.to_thread(path.is_file):
            raise SystemExit(f"error: {path} does not exist")
        if not args.yes:
            answer = await asyncio.to_thread(
                input, f"Replace the database with {path.name}? The server must be stopped. "
                "Type yes: ")
            if answer.strip().lower() != "yes":
                raise SystemExit("nothing was restored")
        info, removed = await backup.restore(
            ctx, path, Path(args.identity) if args.identity else None)
        print(f"restored {path.name} (taken {info.created_at.isoformat()}, schema "
              f"{info.revision}); {removed} row(s) erased after it were deleted again")
    else:
        print(f"{await backup.reapply(ctx)} row(s) deleted again")


class _Bar:
    """A text progress bar on standard error: one line per kind of data, redrawn in place."""

    def __init__(self, totals: dict[str, int]) -> None:
        self.totals, self.done = totals, dict.fromkeys(totals, 0)
        self.current: str | None = None

    def __call__(self, kind: str, rows: int) -> None:
        if self.current not in (None, kind):
            sys.stderr.write("\n")
        self.current = kind
        self.done[kind] = self.done.get(kind, 0) + rows
        total = max(self.totals.get(kind, 0), self.done[kind], 1)
        filled = int(30 * self.done[kind] / total)
        sys.stderr.write(f"\r  {kind:<17}[{'#' * filled}{'.' * (30 - filled)}] "
                         f"{self.done[kind]:>9}/{total}")
        sys.stderr.flush()

    def finish(self) -> None:
        if self.current is not None:
            sys.stderr.write("\n")


async def _purge(ctx: Any, dry_run: bool) -> None:
    from chatserver.services.privacy import retention

    due = await retention.due(ctx)
    if dry_run:
        print("due for deletion now (nothing was deleted):")
        for kind, count in due.as_dict().items():
            print(f"  {kind:<17}{count:>9}")
        return
    bar = _Bar(due.as_dict())
    counts = await retention.purge(ctx, progress=bar)
    bar.finish()
    print("deleted: " + ", ".join(f"{k} {v}" for k, v in counts.as_dict().items()))


async def _dsar(ctx: Any, args: argparse.Namespace) -> None:
    from chatserver.services.privacy import rights

    actor = rights.Actor("cli")
    if args.action == "find":
        print(json.dumps(await rights.find(ctx, actor, args.email), indent=2,
                         ensure_ascii=False))
    elif args.action == "export":
        data = json.dumps(await rights.export_by_email(ctx, actor, args.email), indent=2,
                          ensure_ascii=False)
        if args.output:
            await asyncio.to_thread(Path(args.output).write_text, data + "\n", "utf-8")
            print(f"wrote {args.output}")
        else:
            print(data)
    else:
        found = await rights.find(ctx, actor, args.email)
        summary = (f"{len(found['conversations'])} conversations, "
                   f"{len(found['offline_messages'])} offline messages, "
                   f"{len(found['emails'])} emails")
        if not args.yes:
            answer = await asyncio.to_thread(
                input, f"Erase {summary} for {found['email']}? Type yes: ")
            if answer.strip().lower() != "yes":
                raise SystemExit("nothing was erased")
        counts = await rights.erase_by_email(ctx, actor, args.email)
        print("erased: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
