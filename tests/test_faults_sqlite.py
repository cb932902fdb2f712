"""Faults in SQLite: its write lock held by another process (a `chatserver` command, a backup
tool) while visitors, REST callers and the widget use the server. The server's own crash and
restart, Redis and SMTP are in tests/test_faults.py; docs/deployment.md ("Failure behaviour")
says what an operator sees.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.browser import base_url, browser_type_launch_args, widget_bundle  # noqa: F401
from tests.helpers import Client


class WriteLock:
    """SQLite's write lock held by another connection, as a `chatserver` command would."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, isolation_level=None, timeout=30,
                                  check_same_thread=False)

    async def hold(self) -> None:
        # In a thread: the server on this loop may be finishing a write of its own.
        await asyncio.to_thread(self.db.execute, "BEGIN IMMEDIATE")

    def release(self) -> None:
        self.db.execute("ROLLBACK")

    def close(self) -> None:
        if self.db.in_transaction:
            self.release()
        self.db.close()


@pytest.fixture
def write_lock(tmp_path: Path) -> Any:
    locks: list[WriteLock] = []

    def factory() -> WriteLock:
        locks.append(WriteLock(tmp_path / "chatserver.db"))
        return locks[-1]

    yield factory
    for lock in locks:
        lock.close()


def _rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(path)  # WAL: a reader is never blocked by the writer
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def _message_seqs(path: Path) -> dict[str, list[int]]:
    seqs: dict[str, list[int]] = {}
    for conversation_id, seq in _rows(path, "SELECT conversation_id, seq FROM message "
                                      "ORDER BY conversation_id, seq"):
        seqs.setdefault(conversation_id, []).append(seq)
    return seqs


async def test_sqlite_lock_released_within_the_busy_timeout_is_waited_for(
        chat_factory: Any, write_lock: Any) -> None:
    """Another process holds the write lock while a visitor opens a conversation and three
    others write into theirs at once (the group commit): nothing is stored and nothing is
    acknowledged while it is held; released within `sqlite_busy_seconds`, every write goes
    through and is acknowledged."""
    chat = await chat_factory(sqlite_busy_seconds=30)
    path = Path(chat.settings.data_dir) / "chatserver.db"
    talking = [await chat.visitor() for _ in range(3)]
    for n, visitor in enumerate(talking):
        assert (await visitor.call("message", {"client_id": "1", "text": f"hei {n}"}))["ok"]
    newcomer = await chat.visitor()

    lock = write_lock()
    await lock.hold()
    sending = [asyncio.create_task(v.call("message", {"client_id": "2", "text": f"toka {n}"}))
               for n, v in enumerate(talking)]
    sending.append(asyncio.create_task(
        newcomer.call("message", {"client_id": "1", "text": "aloitan"})))
    await asyncio.sleep(0.3)  # the writes meet the lock (this wait only gives them time to)
    assert not any(task.done() for task in sending)
    assert len(_rows(path, "SELECT id FROM conversation")) == 3
    lock.release()

    acks = await asyncio.gather(*sending)
    assert all(ack["ok"] for ack in acks), acks
    assert acks[-1]["conversation"]["state"] == "queued"
    assert sorted(_message_seqs(path).values()) == [[1], [1, 2], [1, 2], [1, 2]]


async def test_sqlite_lock_held_too_long_fails_cleanly_then_everything_works(
        chat_factory: Any, write_lock: Any) -> None:
    """The lock is held past `sqlite_busy_seconds`: the first message of a new conversation,
    messages into open conversations (a group-commit batch) and REST writes all answer
    `unavailable` in the contract's shape, in the caller's language, and leave nothing behind
    (no conversation without its message, no seq taken without its message, no read
    without its audit record). Released, the same client_ids go through once."""
    chat = await chat_factory(sqlite_busy_seconds=0.2)
    path = Path(chat.settings.data_dir) / "chatserver.db"
    from chatserver.errors import DEFAULT_MESSAGES, Code
    from chatserver.services import agents

    await agents.create_agent(chat.ctx, "admin@example.fi", "Aino", "correct horse battery",
                              "admin", "sv")
    admin = await chat.login("admin@example.fi")
    # Accept-Language: the lock may stop the request before it knows who is asking.
    headers = {"X-CSRF-Token": admin.headers_csrf,  # type: ignore[attr-defined]
               "Accept-Language": "sv"}
    talking = [await chat.visitor("sv") for _ in range(3)]
    for n, visitor in enumerate(talking):
        assert (await visitor.call("message", {"client_id": "1", "text": f"hej {n}"}))["ok"]
    conversation_id = _rows(path, "SELECT id FROM conversation")[0][0]
    newcomer = await chat.visitor("sv")
    version = await chat.notice_version()
    before = {table: _rows(path, f"SELECT * FROM {table}")  # noqa: S608 - fixed names
              for table in ("conversation", "message", "audit_event", "canned_response")}

    lock = write_lock()
    await lock.hold()
    acks = await asyncio.gather(
        newcomer.call("message", {"client_id": "1", "text": "börjar"}),
        *(v.call("message", {"client_id": "2", "text": f"andra {n}"})
          for n, v in enumerate(talking)),
    )
    sv_unavailable = chat.ctx.translator.gettext("sv", DEFAULT_MESSAGES[Code.UNAVAILABLE])
    assert sv_unavailable != DEFAULT_MESSAGES[Code.UNAVAILABLE]
    for ack in acks:
        assert ack == {"ok": False, "error": {"code": "unavailable",
                                              "message": sv_unavailable}}, ack
    async with admin.post(f"{chat.url}/api/v1/canned-responses", headers=headers, json={
            "language": "sv", "shortcut": "hej", "text": "Hej! Hur kan vi hjälpa?"}) as created:
        assert created.status == 503
        assert await created.json() == {"ok": False, "error": {"code": "unavailable",
                                                               "message": sv_unavailable}}
    async with admin.get(f"{chat.url}/api/v1/conversations/{conversation_id}",
                         headers=headers) as read:
        assert read.status == 503  # the read is audited: no audit row, no read
    # Reading does not wait for the write lock (WAL): a visitor coming back is welcomed with
    # their conversation while it is held.
    back = Client("/visitor")
    await back.connect(chat.url, auth={"lang": "sv", "token": talking[0].welcome["token"],
                                       "notice_version": version})
    welcome = await back.next("welcome")
    assert [m["text"] for m in welcome["conversation"]["messages"]] == ["hej 0"]
    await back.sio.disconnect()
    after = {table: _rows(path, f"SELECT * FROM {table}")  # noqa: S608 - fixed names
             for table in before}
    assert after == before
    lock.release()

    acks = await asyncio.gather(
        newcomer.call("message", {"client_id": "1", "text": "börjar"}),
        *(v.call("message", {"client_id": "2", "text": f"andra {n}"})
          for n, v in enumerate(talking)),
    )
    assert all(ack["ok"] for ack in acks), acks
    assert acks[0]["conversation"]["state"] == "queued"
    again = await newcomer.call("message", {"client_id": "1", "text": "börjar"})
    assert again["message"] == acks[0]["message"]  # a retry, not a second copy
    assert sorted(_message_seqs(path).values()) == [[1], [1, 2], [1, 2], [1, 2]]
    assert [last for (last,) in _rows(path, "SELECT last_seq FROM conversation ORDER BY "
                                      "last_seq")] == [1, 2, 2, 2]
    async with admin.post(f"{chat.url}/api/v1/canned-responses", headers=headers, json={
            "language": "sv", "shortcut": "hej", "text": "Hej! Hur kan vi hjälpa?"}) as created:
        assert created.status in (200, 201), await created.text()
    async with admin.get(f"{chat.url}/api/v1/conversations/{conversation_id}") as read:
        assert read.status == 200
    reads = _rows(path, "SELECT target_id FROM audit_event WHERE action = 'conversation.read'")
    assert reads == [(conversation_id,)]


@pytest.mark.browser
async def test_widget_message_sent_while_the_database_is_locked_goes_through_once_it_is_free(
        chat_factory: Any, write_lock: Any, page: Any) -> None:
    """Another process holds the database's write lock: the widget still connects (reading
    does not wait for it), and the first message, answered `unavailable`, stays "sending" and
    is tried again by itself; once the lock is gone it is stored once and shown as sent."""
    from tests.browser import expect, send, shadow

    chat = await chat_factory(sqlite_busy_seconds=0.2)
    await chat.agent("anna@example.fi", "Anna")  # someone is online: the widget offers a chat
    await page.goto(chat.url + "/")
    await shadow(page).locator(".launch").click()
    start = page.get_by_role("button", name="Aloita keskustelu")
    await expect(start).to_be_visible()  # the widget's config is read before the lock
    lock = write_lock()
    await lock.hold()
    await start.click()
    await expect(shadow(page).locator(".status")).to_have_text(re.compile("Kirjoita"))
    await send(page, "Pääsinkö läpi?")
    await expect(shadow(page).locator("li.me .meta")).to_have_text("Lähetetään…")
    await page.wait_for_timeout(1500)  # at least one more try, still refused
    await expect(shadow(page).locator("li.me .meta")).to_have_text("Lähetetään…")
    lock.release()
    await expect(shadow(page).locator("li.me time")).to_have_count(1, timeout=15_000)
    assert _rows(Path(chat.settings.data_dir) / "chatserver.db",
                 "SELECT text FROM message") == [("Pääsinkö läpi?",)]


async def test_writes_queued_together_meet_a_held_lock_once(chat_factory: Any,
                                                           write_lock: Any) -> None:
    """db/trip.py runs queued writes in rounds: when the first of a round has waited the whole
    busy timeout, the others fail at once with it instead of each waiting the timeout again
    (six writes would otherwise take six timeouts one after another)."""
    from sqlalchemy import event
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.util.concurrency import await_

    from chatserver.db import trip
    from chatserver.db.engine import is_busy

    chat = await chat_factory(sqlite_busy_seconds=0.2)
    engine = chat.ctx.engine
    ran: list[int] = []
    seen: list[str] = []

    def work(n: int) -> Any:
        return lambda _runner: ran.append(n)

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        await_(dbapi_connection.driver_connection.set_trace_callback(seen.append))

    await engine.dispose()  # every connection from now on is a new one that reports to `seen`
    event.listen(engine.sync_engine, "connect", on_connect)
    lock = write_lock()
    await lock.hold()
    try:
        outcomes = await asyncio.gather(*(trip.write(engine, work(n)) for n in range(6)),
                                        return_exceptions=True)
    finally:
        event.remove(engine.sync_engine, "connect", on_connect)
    assert all(isinstance(outcome, OperationalError) and is_busy(outcome)
               for outcome in outcomes), outcomes
    assert not ran
    # One try for the six (a background writer of the app's own may try once meanwhile).
    assert seen.count("BEGIN IMMEDIATE") <= 2, seen
    lock.release()
    assert await asyncio.gather(*(trip.write(chat.ctx.engine, work(n))
                                  for n in range(6))) == [None] * 6
    assert ran == list(range(6))
