"""Faults: the server SIGKILLed while acknowledging a stream of messages, Redis going away
under two nodes, SMTP that accepts and never answers (SQLite's lock held by another process:
tests/test_faults_sqlite.py).

What each proves is in its docstring; docs/deployment.md ("Failure behaviour") says what an
operator sees.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest

from tests import mailserver
from tests.helpers import CHEAP_ARGON2, Chat, Client, free_port
from tests.servers import wait_until_ready

# Visitors writing at once (so the group commit batches several of them) and the messages each
# keeps in flight without waiting for an ack.
VISITORS = 4
WINDOW = 8
# The server is SIGKILLed as soon as this many acks arrived since its start, once per round.
KILL_AFTER = (23, 61, 37)


class ServeProcess:
    """`python -m chatserver serve` on a SQLite file, in its own process so SIGKILL is real."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir = data_dir
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHATSERVER_")}
        env.update({
            "CHATSERVER_HOST": "127.0.0.1",
            "CHATSERVER_PORT": str(self.port),
            "CHATSERVER_DATA_DIR": str(self.data_dir),
            "CHATSERVER_LOG_FORMAT": "json",
            "CHATSERVER_BOT__ENABLED": "false",
            "CHATSERVER_LIMITS__EVENTS_PER_SECOND": "10000",
            "CHATSERVER_LIMITS__EVENT_BURST": "10000",
            **{f"CHATSERVER_AUTH__{k.upper()}": str(v) for k, v in CHEAP_ARGON2.items()},
        })
        return env

    async def start(self) -> None:
        self.starts += 1
        log = self.data_dir / f"serve-{self.starts}.log"
        self.process = await asyncio.to_thread(self._spawn, log)
        await wait_until_ready(self.url, self.process, log)

    def _spawn(self, log: Path) -> subprocess.Popen[bytes]:
        with open(log, "wb") as out:
            return subprocess.Popen([sys.executable, "-m", "chatserver", "serve"],
                                    env=self._env(), stdout=out, stderr=subprocess.STDOUT)

    def kill(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)

    async def wait(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                self.process.kill()
            await asyncio.to_thread(self.process.wait, 10)


@pytest.fixture
async def serve(tmp_path: Path, template_database: Path) -> AsyncIterator[ServeProcess]:
    shutil.copy(template_database, tmp_path / "chatserver.db")
    server = ServeProcess(tmp_path, free_port())
    yield server
    await server.wait()


@dataclass
class Stream:
    """One visitor's messages: every client_id sent, and the ack's message for those acked."""

    name: str
    token: str = ""
    sent: dict[str, str] = field(default_factory=dict)
    acked: dict[str, dict[str, Any]] = field(default_factory=dict)
    counter: int = 0

    def new(self) -> tuple[str, str]:
        self.counter += 1
        client_id = f"{self.name}-{self.counter}"
        self.sent[client_id] = f"{self.name} viesti {self.counter} ✓"
        return client_id, self.sent[client_id]

    def unacked(self) -> list[str]:
        return [client_id for client_id in self.sent if client_id not in self.acked]


class Counter:
    def __init__(self, kill_after: int | None, server: ServeProcess) -> None:
        self.acks = 0
        self.kill_after = kill_after
        self.server = server
        self.killed = asyncio.Event()

    def ack(self) -> None:
        self.acks += 1
        if self.kill_after is not None and self.acks == self.kill_after:
            # Right here, as the ack is handled: other acks are on their way and other
            # messages are being committed.
            self.server.kill()
            self.killed.set()


async def _send(client: Client, stream: Stream, client_id: str, counter: Counter) -> None:
    ack = await client.call("message", {"client_id": client_id,
                                        "text": stream.sent[client_id]}, timeout=30)
    assert ack["ok"] is True, ack
    assert ack["message"]["text"] == stream.sent[client_id]
    stream.acked[client_id] = ack["message"]
    counter.ack()


async def _pump(client: Client, stream: Stream, counter: Counter) -> int:
    """Send new messages, WINDOW at a time in flight, until the server dies (or, without a
    kill, until 30 were sent). Returns how many were in flight when the connection ended."""
    in_flight: set[asyncio.Task[None]] = set()
    sent = 0
    while not counter.killed.is_set() and (counter.kill_after is not None or sent < 30):
        while len(in_flight) < WINDOW and not counter.killed.is_set():
            client_id, _text = stream.new()
            in_flight.add(asyncio.create_task(_send(client, stream, client_id, counter)))
            sent += 1
        # Wake on the kill too: another visitor's ack may trigger it while none comes here.
        killed = asyncio.create_task(counter.killed.wait())
        done, in_flight = await asyncio.wait(in_flight | {killed},
                                             return_when=asyncio.FIRST_COMPLETED)
        in_flight.discard(killed)
        killed.cancel()
        done.discard(killed)
        for task in done:
            error = task.exception()
            if error is not None and not counter.killed.is_set():
                raise error  # before the kill every message must be acknowledged
    if not counter.killed.is_set():
        await asyncio.gather(*in_flight)  # no kill: every message is acknowledged
        in_flight = set()
    else:
        # Acks the server wrote before it died are still read from the socket: wait until
        # the client saw the end of the connection, then give up on the rest.
        for _ in range(500):
            if not client.sio.connected:
                break
            await asyncio.sleep(0.01)
        if in_flight:
            done, in_flight = await asyncio.wait(in_flight, timeout=0.2)
            for task in done:
                task.exception()  # failed with the connection: not acknowledged
    for task in in_flight:
        task.cancel()
    await asyncio.gather(*in_flight, return_exceptions=True)
    with contextlib.suppress(Exception):
        await client.sio.disconnect()
    return len(in_flight)


async def _resume(server: ServeProcess, stream: Stream) -> tuple[Client, int]:
    """The visitor comes back with its token and resends what was not acknowledged, with the
    same client_ids. Returns the client and how many of those the server had already stored."""
    chat = Chat(SimpleNamespace(port=server.port), None, None)  # type: ignore[arg-type]
    client = await chat.visitor(token=stream.token)
    assert client.welcome["token"] == stream.token
    last_seq = client.welcome["conversation"]["last_seq"]
    already = 0
    for client_id in stream.unacked():
        ack = await client.call("message", {"client_id": client_id,
                                            "text": stream.sent[client_id]})
        assert ack["ok"] is True, ack
        already += ack["message"]["seq"] <= last_seq  # committed before the kill, not acked
        stream.acked[client_id] = ack["message"]
    return client, already


def _check_database(path: Path, streams: list[Stream]) -> int:
    """Every acknowledged message stored once, as acknowledged; seqs 1..n; last_seq = n."""
    db = sqlite3.connect(path)
    try:
        conversations = dict(db.execute("SELECT id, last_seq FROM conversation").fetchall())
        assert len(conversations) == len(streams)
        stored = 0
        for stream in streams:
            conversation_id = next(iter(stream.acked.values()))["conversation_id"]
            rows = db.execute("SELECT id, seq, client_key, text FROM message WHERE "
                              "conversation_id = ? ORDER BY seq", (conversation_id,)).fetchall()
            seqs = [row[1] for row in rows]
            assert seqs == list(range(1, len(rows) + 1)), (stream.name, seqs)
            assert conversations[conversation_id] == len(rows)
            keys = [row[2] for row in rows]
            assert len(set(keys)) == len(keys)
            texts = [row[3] for row in rows]
            assert len(set(texts)) == len(texts)  # none twice, under any client_id
            by_key = {row[2]: row for row in rows}
            lost = sorted(set(stream.acked) - {key[2:] for key in by_key})
            assert not lost, f"acknowledged but not stored: {lost}"
            assert set(by_key) == {f"v:{client_id}" for client_id in stream.sent}
            for client_id, message in stream.acked.items():
                row = by_key[f"v:{client_id}"]
                assert (row[0], row[1], row[3]) == (message["id"], message["seq"],
                                                    message["text"]), client_id
            stored += len(rows)
        return stored
    finally:
        db.close()


async def test_sigkill_while_acking_a_stream_loses_and_doubles_nothing(
        serve: ServeProcess) -> None:
    """Four visitors pipeline messages (eight in flight each) into a real `chatserver serve`;
    the process is SIGKILLed the moment the Nth ack since its start arrives, three times, and
    restarted on the same file and port. The visitors resume with their tokens and resend what
    was not acknowledged with the same client_ids. Every acknowledged message is then in the
    database with the seq and id it was acknowledged with, none twice, seqs contiguous from 1.
    A server that acknowledged before its commit would lose the messages acked in the moment
    of each kill."""
    await serve.start()
    streams = [Stream(f"v{n}") for n in range(VISITORS)]
    clients: list[Client] = []
    chat = Chat(SimpleNamespace(port=serve.port), None, None)  # type: ignore[arg-type]
    for stream in streams:
        client = await chat.visitor()
        stream.token = client.welcome["token"]
        client_id, text = stream.new()
        opened = await client.call("message", {"client_id": client_id, "text": text})
        assert opened["ok"] is True, opened
        stream.acked[client_id] = opened["message"]
        clients.append(client)

    acked_before_kills = in_flight_at_kills = stored_unacked = 0
    for kill_after in (*KILL_AFTER, None):
        counter = Counter(kill_after, serve)
        in_flight = await asyncio.gather(*(_pump(client, stream, counter)
                                           for client, stream in zip(clients, streams,
                                                                     strict=True)))
        if kill_after is None:
            break
        assert counter.killed.is_set()
        acked_before_kills += counter.acks
        in_flight_at_kills += sum(in_flight)
        await serve.wait()
        await serve.start()
        clients = []
        for stream in streams:
            client, already = await _resume(serve, stream)
            stored_unacked += already
            clients.append(client)
    for client in clients:
        await client.sio.disconnect()
    serve.kill()
    await serve.wait()

    stored = _check_database(serve.data_dir / "chatserver.db", streams)
    assert stored == sum(len(stream.sent) for stream in streams)
    assert in_flight_at_kills > 0  # the kills landed while messages were under way
    print(f"\nfaults: {acked_before_kills} acks across {len(KILL_AFTER)} SIGKILLs, "
          f"{in_flight_at_kills} messages in flight at the kills ({stored_unacked} of them "
          f"already stored, acked on resend), {stored} stored, 0 lost, 0 doubled")


async def _ready(url: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.get(f"{url}/readyz") as response:
        return response.status, await response.json()


@pytest.mark.postgres
async def test_redis_down_fails_readyz_and_the_nodes_recover_when_it_returns(
        postgres_url: str, tmp_path: Path, aiohttp_server: Any) -> None:
    """Two nodes on PostgreSQL and a Redis of this test's own. Redis stops: `/readyz` on each
    node answers 503 naming Redis, and a visitor's message is still stored and acknowledged
    (the database is the truth; the agent on the other node reads it from history). Redis
    starts again on the same port: both nodes are ready again without a restart, and messages
    are relayed live between the nodes both ways."""
    from chatserver.db import migrate
    from tests.servers import RedisServer
    from tests.test_multinode import Site, _wait_for_port

    try:
        redis_server = RedisServer()
        redis_server.start()
    except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"Redis cannot run here: {exc}")
    site = None
    try:
        await asyncio.to_thread(_wait_for_port, redis_server.port)
        await asyncio.to_thread(migrate.upgrade, postgres_url)
        site = Site(postgres_url, redis_server.url, tmp_path, aiohttp_server)
        a = await site.node("node-a", site.port_a)
        b = await site.node("node-b", site.port_b)
        agent = await b.agent("anna@example.fi", "Anna")
        visitor = await a.visitor()
        opened = await visitor.call("message", {"client_id": "v1", "text": "Hei!"})
        conversation_id = opened["conversation"]["id"]
        assert (await agent.call("claim", {"conversation_id": conversation_id}))["ok"]

        async def relayed(n: int) -> None:
            sent = await visitor.call("message", {"client_id": f"r{n}", "text": f"kysyn {n}"})
            assert sent["ok"] is True, sent
            heard = await agent.next("message", where=lambda m: m["text"] == f"kysyn {n}")
            assert heard == sent["message"]
            answer = await agent.call("message", {"conversation_id": conversation_id,
                                                  "client_id": f"r{n}", "text": f"vastaan {n}"})
            assert answer["ok"] is True, answer
            got = await visitor.next("message", where=lambda m: m["text"] == f"vastaan {n}")
            assert got == answer["message"]

        await relayed(1)
        for node in (a, b):
            assert await _ready(node.url) == (200, {"ok": True, "database": True,
                                                   "redis": True})

        await asyncio.to_thread(redis_server.halt)
        for node in (a, b):
            assert await _ready(node.url) == (503, {"ok": False, "database": True,
                                                   "redis": False})
        during = await visitor.call("message", {"client_id": "d1", "text": "katkon aikana"})
        assert during["ok"] is True, during

        await asyncio.to_thread(redis_server.start)
        await asyncio.to_thread(_wait_for_port, redis_server.port)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        for node in (a, b):
            while (status := await _ready(node.url))[0] != 200:
                assert loop.time() < deadline, status
                await asyncio.sleep(0.1)
        await relayed(2)  # ready means relaying again: no wait beyond /readyz's word
        history = await agent.call("history", {"conversation_id": conversation_id,
                                               "after_seq": 0})
        assert "katkon aikana" in [m["text"] for m in history["messages"]]
    finally:
        if site is not None:
            await site.close()
        redis_server.stop()


smtp = mailserver.smtp  # the email tests' fixtures (tests/mailserver.py)
mail_chat = mailserver.mail_chat


async def test_smtp_that_accepts_and_never_answers_then_comes_back_delivers_once(
        mail_chat: Any, smtp: mailserver.Smtp) -> None:
    """tests/test_mail.py covers an SMTP server that refuses connections. Here the relay
    accepts the connection and then says nothing (a hung server, a firewall that drops): the
    attempt ends at `smtp.timeout`, the email waits for its retry, and chats go on meanwhile.
    When a real server answers on that port, the email is delivered, once."""
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # never greets; the client gives up and closes
        writer.close()

    hung = await asyncio.start_server(silent, "127.0.0.1", smtp.port)
    clock = mailserver.Clock()
    chat = await mail_chat(clock, timeout=0.3)
    _agent, visitor, _conversation_id = await mailserver.chat_with_transcript(chat, "fi")
    assert (await visitor.call("close", {}))["ok"]
    await mailserver.until(lambda: mailserver.waiting_retry(chat, 1))
    (row,) = await mailserver.outbox_rows(chat)
    assert row.attempts == 1 and "Timeout" in (row.last_error or ""), row.last_error
    other = await chat.visitor("fi")
    assert (await other.call("message", {"client_id": "1", "text": "Hei?"}))["ok"]
    hung.close()
    await hung.wait_closed()

    smtp.start()
    clock.advance(seconds=31)
    from chatserver.services.email import outbox

    outbox.wake(chat.ctx)
    await smtp.inbox.wait(mailserver.VISITOR)
    await mailserver.until(lambda: mailserver.all_sent(chat))
    clock.advance(hours=2)
    assert await outbox.run_once(chat.ctx) == 0
    assert len(smtp.inbox.to(mailserver.VISITOR)) == 1
