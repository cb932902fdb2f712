"""Reports (issue 22): a real `chatserver serve` process SIGKILLed again and again while chats
open, close and are rated, and while its worker counts them, neither loses nor doubles a count:
at the end the anonymous counters agree exactly with what the database holds."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.helpers import Client, free_port
from tests.test_faults import ServeProcess

ROUNDS = (0.0, 0.02, 0.06, 0.15)  # seconds between the last event sent and the SIGKILL
CHATS_PER_ROUND = 4


class CountingServe(ServeProcess):
    def _env(self) -> dict[str, str]:
        return {**super()._env(), "CHATSERVER_RATING__ENABLED": "true",
                "CHATSERVER_REPORTS__INTERVAL_SECONDS": "0.01"}


@pytest.fixture
async def serve(tmp_path: Path, template_database: Path) -> AsyncIterator[CountingServe]:
    shutil.copy(template_database, tmp_path / "chatserver.db")
    server = CountingServe(tmp_path, free_port())
    yield server
    await server.wait()


async def _visitor(url: str, version: str) -> Client:
    client = Client("/visitor")
    await client.connect(url, auth={"lang": "fi", "notice_version": version})
    await client.next("welcome")
    return client


async def _chat(url: str, version: str, n: int, wait: bool) -> Client:
    """Open, close and rate a chat; with `wait` False the last events are sent without
    waiting for their acks, so the kill may land before, during or after them."""
    visitor = await _visitor(url, version)
    await visitor.call("message", {"client_id": f"m{n}", "text": f"hei {n}"})
    if wait:
        await visitor.call("close", {})
        await visitor.call("rate", {"score": 1 + n % 5})
    else:
        await visitor.emit("close", {})
        await visitor.emit("rate", {"score": 1 + n % 5})
    return visitor


def _facts(path: Path) -> tuple[dict[str, int], dict[str, int]]:
    db = sqlite3.connect(path)
    try:
        # A conversation is counted when it closes (one the kill left open is counted when
        # it is closed later, by its visitor, an agent or the idle close).
        stored = dict(zip(("started", "closed", "messages_visitor", "rated"), db.execute(
            "SELECT (SELECT COUNT(*) FROM conversation WHERE closed_at IS NOT NULL),"
            " (SELECT COUNT(*) FROM conversation WHERE closed_at IS NOT NULL),"
            " (SELECT COUNT(*) FROM message m JOIN conversation c ON c.id = m.conversation_id"
            "  WHERE m.author_kind = 'visitor' AND c.closed_at IS NOT NULL),"
            " (SELECT COUNT(*) FROM conversation_rating)").fetchone(), strict=True))
        counted = dict(zip(("started", "closed", "messages_visitor", "rated"), db.execute(
            "SELECT COALESCE(SUM(started), 0), COALESCE(SUM(closed), 0),"
            " COALESCE(SUM(messages_visitor), 0),"
            " COALESCE(SUM(rating_1 + rating_2 + rating_3 + rating_4 + rating_5), 0)"
            " FROM report_hour").fetchone(), strict=True))
        pending = db.execute("SELECT COUNT(*) FROM conversation WHERE closed_at IS NOT NULL"
                             " AND reported_at IS NULL").fetchone()[0]
    finally:
        db.close()
    return stored, {**counted, "pending": pending}


async def test_sigkill_between_events_neither_loses_nor_doubles_a_count(
        serve: CountingServe) -> None:
    sent = 0
    for delay in ROUNDS:
        await serve.start()
        async with aiohttp.ClientSession() as http, http.get(
                f"{serve.url}/api/v1/widget/config") as response:
            version = (await response.json())["notice"]["version"]
        visitors = [await _chat(serve.url, version, sent + n, wait=n < CHATS_PER_ROUND - 1)
                    for n in range(CHATS_PER_ROUND)]
        sent += CHATS_PER_ROUND
        await asyncio.sleep(delay)
        serve.kill()
        await serve.wait()
        for visitor in visitors:
            await visitor.sio.disconnect()
    await serve.start()  # the last start counts whatever the kills left
    path = serve.data_dir / "chatserver.db"
    for _ in range(400):
        stored, counted = _facts(path)
        if counted["pending"] == 0:
            break
        await asyncio.sleep(0.05)
    stored, counted = _facts(path)
    assert counted.pop("pending") == 0
    assert sent - len(ROUNDS) <= stored["closed"] <= sent
    assert counted == stored
