"""Benchmark (not a test): purge 1,000,000 expired messages and measure the event loop.

    .venv/bin/python bench/purge_bench.py [--messages 1000000] [--per-conversation 100]
                                          [--batch 2000] [--keep DIR]

Fills a fresh SQLite database (migrated with Alembic) with closed conversations that are past
their retention period, then runs `retention.purge` while a ticker task measures how late the
event loop wakes it (a 1 ms sleep that wakes after 41 ms means a 40 ms block). Prints the purge
time, the rows per second and the longest and 99th-percentile stalls, the CPU time the loop's
thread spent between two ticks (the part of a stall this process caused), and, first, the same
figures for an idle loop (what the machine's load alone causes).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chatserver.app import build_context  # noqa: E402
from chatserver.db import migrate  # noqa: E402
from chatserver.services.events import EventBus  # noqa: E402
from chatserver.services.privacy import retention  # noqa: E402
from chatserver.settings import load_settings  # noqa: E402

TEXT = "Hei! Tämä on esimerkkiviesti, jossa on suunnilleen tavallisen chat-viestin verran tekstiä."


def fill(path: Path, messages: int, per_conversation: int) -> None:
    old = (datetime.now(UTC) - timedelta(days=90)).isoformat(sep=" ")
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    conversations = messages // per_conversation
    db.executemany(
        "INSERT INTO conversation (id, token_hash, state, language, notice_version, "
        "notice_acknowledged_at, last_seq, created_at, last_activity_at, closed_at) "
        "VALUES (?, ?, 'closed', 'fi', 'v', ?, ?, ?, ?, ?)",
        ((f"c{n:08d}", f"{n:064d}", old, per_conversation, old, old, old)
         for n in range(conversations)))
    db.executemany(
        "INSERT INTO message (id, conversation_id, seq, author_kind, text, created_at) "
        "VALUES (?, ?, ?, 'visitor', ?, ?)",
        ((f"m{n:09d}", f"c{n // per_conversation:08d}", n % per_conversation + 1,
          f"{TEXT} {n}", old) for n in range(conversations * per_conversation)))
    db.commit()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


async def baseline(seconds: float) -> None:
    """The same ticker with nothing else running: what the machine alone costs."""
    loop = asyncio.get_running_loop()
    stalls: list[float] = []
    end = loop.time() + seconds
    while loop.time() < end:
        start = loop.time()
        await asyncio.sleep(0.001)
        stalls.append(loop.time() - start - 0.001)
    print(f"baseline (idle loop, {seconds:.0f} s): longest stall {max(stalls) * 1000:.1f} ms, "
          f"99th percentile {sorted(stalls)[int(len(stalls) * 0.99)] * 1000:.1f} ms")


async def measure(path: Path, batch: int) -> None:
    settings = load_settings(environ={}, overrides={
        "database_url": f"sqlite+aiosqlite:///{path}",
        "privacy": {"purge_batch_size": batch}})
    ctx = build_context(settings, EventBus(None))
    stalls: list[float] = []  # how late a 1 ms sleep woke up (wall clock)
    busy: list[float] = []  # CPU time the event-loop thread spent meanwhile
    done = asyncio.Event()

    async def ticker() -> None:
        loop = asyncio.get_running_loop()
        while not done.is_set():
            start, cpu = loop.time(), time.thread_time()
            await asyncio.sleep(0.001)
            stalls.append(loop.time() - start - 0.001)
            busy.append(time.thread_time() - cpu)

    tick = asyncio.create_task(ticker())
    started = time.perf_counter()
    counts = await retention.purge(ctx)
    elapsed = time.perf_counter() - started
    done.set()
    await tick
    await ctx.engine.dispose()
    stalls.sort()
    p99 = stalls[int(len(stalls) * 0.99)] if stalls else 0.0
    print(f"deleted: {counts.as_dict()}")
    print(f"purge time: {elapsed:.1f} s ({counts.messages / elapsed:,.0f} messages/s), "
          f"batch {batch}")
    print(f"event loop: longest stall {stalls[-1] * 1000:.1f} ms, 99th percentile "
          f"{p99 * 1000:.1f} ms, median {statistics.median(stalls) * 1000:.2f} ms "
          f"over {len(stalls):,} ticks")
    # A stall is a block by this process only when the loop's thread was busy for it; on a
    # loaded machine the wall-clock figure also counts time the OS gave to other processes.
    print(f"event-loop thread CPU between ticks: longest {max(busy) * 1000:.1f} ms, "
          f"99th percentile {sorted(busy)[int(len(busy) * 0.99)] * 1000:.1f} ms; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--per-conversation", type=int, default=100)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--keep", metavar="DIR", help="use DIR instead of a temporary folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(args.keep or temporary)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "bench.db"
        path.unlink(missing_ok=True)
        migrate.upgrade(f"sqlite+aiosqlite:///{path}")
        started = time.perf_counter()
        fill(path, args.messages, args.per_conversation)
        print(f"filled {args.messages:,} messages in {time.perf_counter() - started:.1f} s "
              f"({path.stat().st_size / 1e6:.0f} MB)")
        asyncio.run(baseline(5.0))
        asyncio.run(measure(path, args.batch))


if __name__ == "__main__":
    main()
