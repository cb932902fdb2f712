"""`chatserver reports rebuild`: recompute the anonymous report counters from what is still
stored (services/reports.py `rebuild`), and `chatserver reports count` to count closed
conversations now rather than at the worker's next run."""

from __future__ import annotations

import argparse
from typing import Any

from chatserver.cli.context import with_context
from chatserver.settings import Settings

COMMANDS = ("reports",)


def add_commands(commands: Any) -> None:
    reports = commands.add_parser("reports", help="the anonymous report counters")
    reports.add_argument(
        "action", choices=["rebuild", "count"],
        help="rebuild: recompute the counters from the conversations, ratings and offline "
        "messages still stored (days before the oldest of them are kept as they are); "
        "count: count the closed conversations not yet counted")


def run(settings: Settings, args: argparse.Namespace) -> None:
    async def work(ctx: Any) -> None:
        from chatserver.services import reports

        if args.action == "rebuild":
            done = await reports.rebuild(ctx)
            if done["since"] is None:
                print("nothing stored to count")
            else:
                print(f"rebuilt the counters from {done['since']} on "
                      f"({done['conversations']} closed conversation(s))")
        else:
            print(f"{await reports.fold(ctx)} conversation(s) counted")

    with_context(settings, work)
