"""Benchmark (not a test): the reports over two years of anonymous counters (issue 22).

    .venv/bin/python bench/reports_bench.py [--agents 20] [--days 730] [--postgres] [--runs 7]

Fills a fresh database (migrated with Alembic; SQLite in a temporary folder, or a throw-away
PostgreSQL from tests/servers.py with --postgres) with `report_hour` rows as a busy site would
leave them: every day, 10 opening hours × 3 languages of site-wide rows (agent 0: conversations
started, hand-offs, assistant-solved, offline messages), and each agent working 8 of those hours
in 2 languages (claims, messages, wait, first-answer and duration histograms, ratings). Then
times `report_figures.report` (the three grouped reads behind GET /api/v1/reports) for the whole range,
as an admin and as one agent, and prints the median and the slowest of `--runs`, the row count
and the table's size.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, insert, select, text  # noqa: E402

from chatserver.app import build_context  # noqa: E402
from chatserver.db import migrate  # noqa: E402
from chatserver.db.models import (  # noqa: E402
    REPORT_HISTOGRAMS,
    REPORT_VALUES,
    Agent,
    report_day,
    report_hour,
    report_month,
)
from chatserver.services import report_figures, reports  # noqa: E402
from chatserver.services.events import EventBus  # noqa: E402
from chatserver.settings import load_settings  # noqa: E402

LANGUAGES = ("fi", "sv", "en")


def rows(days: int, agents: int, end: date) -> list[dict[str, Any]]:
    rng = random.Random(22)
    out: list[dict[str, Any]] = []
    for d in range(days):
        day = (end - timedelta(days=days - 1 - d)).isoformat()
        for hour in range(8, 18):
            for language in LANGUAGES:
                row = dict.fromkeys(REPORT_VALUES, 0)
                row.update(day=day, hour=hour, language=language, agent_id=0,
                           started=rng.randint(0, 12), handed_off=rng.randint(0, 6),
                           assistant_solved=rng.randint(0, 5), offline_messages=rng.randint(0, 2),
                           messages_visitor=rng.randint(0, 40), messages_bot=rng.randint(0, 20),
                           closed=rng.randint(0, 5))
                out.append(row)
        for agent in range(1, agents + 1):
            for hour in rng.sample(range(8, 18), 8):
                for language in rng.sample(LANGUAGES, 2):
                    row = dict.fromkeys(REPORT_VALUES, 0)
                    row.update(day=day, hour=hour, language=language, agent_id=agent,
                               claimed=rng.randint(0, 3), closed=rng.randint(0, 3),
                               messages_agent=rng.randint(0, 20),
                               messages_system=rng.randint(0, 6))
                    for columns in REPORT_HISTOGRAMS.values():
                        for column in rng.sample(columns, 2):
                            row[column] = rng.randint(0, 3)
                    row[f"rating_{rng.randint(1, 5)}"] = rng.randint(0, 1)
                    out.append(row)
    return out


async def run(args: argparse.Namespace, url: str, folder: Path) -> None:
    settings = load_settings(environ={}, overrides={"data_dir": str(folder), "database_url": url})
    ctx = build_context(settings, EventBus(None))
    try:
        end = date(2026, 12, 7)
        data = rows(args.days, args.agents, end)
        async with ctx.db.begin() as session:
            for n in range(1, args.agents + 1):
                session.add(Agent(id=n, email=f"agent{n}@example.fi", display_name=f"Agent {n}",
                                  password_hash="x"))
        async with ctx.engine.begin() as connection:
            for start in range(0, len(data), 2000):
                await connection.execute(insert(report_hour), data[start:start + 2000])
        async with ctx.db.begin() as session:  # the day and month sums, as `rebuild` makes them
            await reports.resum(session, data[0]["day"])
        async with ctx.engine.begin() as connection:
            if ctx.engine.dialect.name == "postgresql":
                await connection.execute(text("ANALYZE report_hour"))
                size = (await connection.execute(text(
                    "SELECT pg_total_relation_size('report_hour') + "
                    "pg_total_relation_size('report_day') + "
                    "pg_total_relation_size('report_month')"))).scalar()
            else:
                await connection.execute(text("ANALYZE"))
                size = (folder / "chatserver.db").stat().st_size
            count, day_rows, month_rows = [(await connection.execute(
                select(func.count()).select_from(table))).scalar()
                for table in (report_hour, report_day, report_month)]
        query = report_figures.Query(end - timedelta(days=args.days - 1), end)
        admin = Agent(id=0, email="a@example.fi", display_name="A", password_hash="",
                      role="admin")
        one = Agent(id=1, email="agent1@example.fi", display_name="Agent 1", password_hash="")
        print(f"{ctx.engine.dialect.name}: {count:,} rows in report_hour, {day_rows:,} in "
              f"report_day, {month_rows:,} in report_month ({args.days} days, {args.agents} "
              f"agents), {size / 1e6:.1f} MB")
        for name, viewer in (("admin, everyone", admin), ("one agent, own", one)):
            times = []
            for _ in range(args.runs):
                started = time.perf_counter()
                report = await report_figures.report(ctx, viewer, query)
                times.append((time.perf_counter() - started) * 1000)
            print(f"  {name}: median {statistics.median(times):.0f} ms, slowest "
                  f"{max(times):.0f} ms over {args.runs} runs ({len(report['days'])} days, "
                  f"{len(report['agents'])} agents in the answer)")
    finally:
        await ctx.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.postgres:
            from tests.servers import PostgresServer

            server = PostgresServer()
            server.start()
            try:
                url = server.create_database("reports_bench")
                migrate.upgrade(url)
                asyncio.run(run(args, url, folder))
            finally:
                server.stop()
        else:
            url = f"sqlite+aiosqlite:///{folder / 'chatserver.db'}"
            migrate.upgrade(url)
            asyncio.run(run(args, url, folder))


if __name__ == "__main__":
    main()
