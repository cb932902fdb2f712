"""Benchmark (not a test): the console's search over 1,000,000 stored messages (issue 21).

    .venv/bin/python bench/search_bench.py [--messages 1000000] [--postgres] [--runs 20]

Fills a fresh database (migrated with Alembic, so the search index is the real one: FTS5 with
its triggers on SQLite; on PostgreSQL the GIN indexes, built after the load as an operator's
`CREATE INDEX` would) with conversations in fi, sv and en whose messages are drawn from a
vocabulary with a Zipf-like spread (a few words in most messages, most words rare), then times
`services.search.search` as the REST endpoint calls it (an admin, every result with its
highlighted line, the audit row written) for queries from rare to common, with a language and a
date filter. Prints the fill time, the database size, and per query the median and the 95th
percentile over --runs runs with the number of results. The baseline in the same run is the
plain listing of the newest conversations (`GET /api/v1/conversations`), which reads no index.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chatserver.app import build_context  # noqa: E402
from chatserver.db import migrate  # noqa: E402
from chatserver.db.models import Agent  # noqa: E402
from chatserver.services import archive, search  # noqa: E402
from chatserver.services.events import EventBus  # noqa: E402
from chatserver.settings import load_settings  # noqa: E402

PER_CONVERSATION = 20
WORDS = {
    "fi": ("tilaus tilaukseni tilauksesta toimitus toimituksen paketti paketin lasku laskun "
           "palautus palautuksen maksu maksun kortti kortilla hinta hinnan koko koon kenkä "
           "kengät takki takin osoite osoitteen kiitos hei moi apua milloin miksi missä "
           "voinko haluaisin saapuu saapui myöhässä rikki vaihto vaihtaa peruuttaa peruutus "
           "asiakas asiakasnumero kuitti takuu huolto varasto seuranta seurantakoodi").split(),
    "sv": ("beställning beställningar beställningen leverans leveransen paket paketet faktura "
           "fakturan retur returen betalning kortet pris priset storlek skor skorna jacka "
           "jackan adress adressen tack hej hjälp när varför var kan vill kommer försenad "
           "trasig byte byta avbeställa kund kundnummer kvitto garanti lager spårning").split(),
    "en": ("order orders ordered delivery deliveries parcel parcels invoice invoices refund "
           "refunds refunded payment card price size shoes jacket address thanks hello help "
           "when why where can would arrive arrived late broken exchange cancel cancelled "
           "customer receipt warranty repair warehouse tracking code").split(),
}
QUERIES = [
    ("a rare word", {"words": "seurantakoodi"}),
    ("a common word", {"words": "tilaus"}),
    ("two words", {"words": "refund parcel"}),
    ("an inflected form", {"words": "refunded"}),
    ("with a language filter", {"words": "leverans", "language": "sv"}),
    ("with a week's dates", {"words": "order", "days": 7}),
    ("a word nobody wrote", {"words": "zyzzyva"}),
]


def sentences(rng: random.Random, language: str, n: int) -> list[str]:
    words = WORDS[language]
    weights = [1 / (rank + 1) for rank in range(len(words))]
    rng.shuffle(words := list(words))
    return [" ".join(rng.choices(words, weights, k=rng.randint(4, 14))).capitalize() + "."
            for _ in range(n)]


def fill_sqlite(path: Path, messages: int, now: datetime) -> None:
    rng = random.Random(7)
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    for batch_start in range(0, messages, 100_000):
        rows_c, rows_m = [], []
        for n in range(batch_start, min(messages, batch_start + 100_000), PER_CONVERSATION):
            c = n // PER_CONVERSATION
            language = ("fi", "sv", "en")[c % 3]
            at = (now - timedelta(minutes=c)).isoformat(sep=" ")
            rows_c.append((f"{c:032x}", f"{c:064x}", language, at, PER_CONVERSATION, at, at, at))
            for seq, text in enumerate(sentences(rng, language, PER_CONVERSATION), 1):
                rows_m.append((f"{n + seq:031x}m", f"{c:032x}", seq,
                               "visitor" if seq % 2 else "agent", text, at))
        db.executemany(
            "INSERT INTO conversation (id, token_hash, state, language, notice_version, "
            "notice_acknowledged_at, last_seq, created_at, last_activity_at, closed_at) "
            "VALUES (?, ?, 'closed', ?, 'v', ?, ?, ?, ?, ?)", rows_c)
        db.executemany(
            "INSERT INTO message (id, conversation_id, seq, author_kind, text, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)", rows_m)
        db.commit()
        print(f"  {min(messages, batch_start + 100_000):>9,} messages", flush=True)
    db.execute("INSERT INTO message_search(message_search) VALUES ('optimize')")
    db.commit()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


async def fill_postgres(url: str, messages: int, now: datetime) -> None:
    import asyncpg

    rng = random.Random(7)
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    configs = ("finnish", "swedish", "english")
    for table in ("message", "note"):
        for config in configs:
            await connection.execute(f"DROP INDEX ix_{table}_search_{config}")
    for batch_start in range(0, messages, 100_000):
        rows_c, rows_m = [], []
        for n in range(batch_start, min(messages, batch_start + 100_000), PER_CONVERSATION):
            c = n // PER_CONVERSATION
            language = ("fi", "sv", "en")[c % 3]
            at = now - timedelta(minutes=c)
            rows_c.append((f"{c:032x}", f"{c:064x}", "closed", language, "v", at,
                           PER_CONVERSATION, at, at, at))
            for seq, text in enumerate(sentences(rng, language, PER_CONVERSATION), 1):
                rows_m.append((f"{n + seq:031x}m", f"{c:032x}", seq,
                               "visitor" if seq % 2 else "agent", text, at))
        await connection.copy_records_to_table(
            "conversation", records=rows_c,
            columns=["id", "token_hash", "state", "language", "notice_version",
                     "notice_acknowledged_at", "last_seq", "created_at", "last_activity_at",
                     "closed_at"])
        await connection.copy_records_to_table(
            "message", records=rows_m,
            columns=["id", "conversation_id", "seq", "author_kind", "text", "created_at"])
        print(f"  {min(messages, batch_start + 100_000):>9,} messages", flush=True)
    for table in ("message", "note"):
        for config in configs:
            started = time.perf_counter()
            await connection.execute(
                f"CREATE INDEX ix_{table}_search_{config} ON {table} "
                f"USING gin (to_tsvector('{config}', text))")
            if table == "message":
                print(f"  index {config}: {time.perf_counter() - started:.1f} s", flush=True)
    await connection.execute("ANALYZE")
    size = await connection.fetchval("SELECT pg_database_size(current_database())")
    print(f"  database size {size / 2**20:,.0f} MiB")
    await connection.close()


async def measure(database_url: str, data_dir: Path, runs: int, now: datetime) -> None:
    settings = load_settings(overrides={"database_url": database_url, "data_dir": str(data_dir)})
    ctx = build_context(settings, EventBus(None))
    admin = Agent(id=1, email="bench@example.fi", display_name="Bench", password_hash="x",
                  role="admin")
    try:
        async def listing() -> int:
            return len(await archive.list_conversations(ctx, state="closed", limit=50))

        print(f"\n{'query':<40} {'median':>9} {'p95':>9} {'results':>8}")
        await timed("baseline: newest 50 listed", listing, runs)
        for name, query in QUERIES:
            days = query.get("days")
            filters = search.Filters(
                words=str(query["words"]), language=query.get("language"),  # type: ignore[arg-type]
                since=now - timedelta(days=int(days)) if days else None)

            async def one(filters: search.Filters = filters) -> int:
                return len((await search.search(ctx, admin, filters))["results"])

            await timed(name + f" ({query['words']})", one, runs)
    finally:
        await ctx.engine.dispose()


async def timed(name: str, work: Any, runs: int) -> None:
    count = await work()  # warm: the first run reads the pages from disk
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        count = await work()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
    print(f"{name:<40.40} {statistics.median(times):>7.1f} ms {p95:>6.1f} ms {count:>8}",
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--postgres", action="store_true",
                        help="PostgreSQL (started here, as the tests start it) instead of SQLite")
    args = parser.parse_args()
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        started = time.perf_counter()
        if args.postgres:
            from tests.servers import PostgresServer

            server = PostgresServer()
            server.start()
            try:
                url = server.create_database("bench_search")
                migrate.upgrade(url)
                print(f"PostgreSQL: filling {args.messages:,} messages", flush=True)
                asyncio.run(fill_postgres(url, args.messages, now))
                print(f"filled in {time.perf_counter() - started:.0f} s")
                asyncio.run(measure(url, data_dir, args.runs, now))
            finally:
                server.stop()
        else:
            path = data_dir / "chatserver.db"
            url = f"sqlite+aiosqlite:///{path}"
            migrate.upgrade(url)
            print(f"SQLite: filling {args.messages:,} messages (the index by its triggers)",
                  flush=True)
            fill_sqlite(path, args.messages, now)
            print(f"filled in {time.perf_counter() - started:.0f} s; database "
                  f"{path.stat().st_size / 2**20:,.0f} MiB")
            asyncio.run(measure(url, data_dir, args.runs, now))


if __name__ == "__main__":
    main()
