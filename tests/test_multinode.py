"""Several nodes behind one site: real PostgreSQL and Redis, two nodes on two ports.

In-process nodes are `create_app` apps on real ports; the node that gets killed runs as its own
process (`python -m chatserver serve` with CHATSERVER_* variables) so that SIGKILL is real.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
import redis.asyncio
from sqlalchemy import delete
from sqlmodel import select

from chatserver.app import create_app
from chatserver.db import migrate
from chatserver.db.models import AgentConnection, Conversation
from chatserver.keys import AGENTS
from chatserver.services import conversations, presence, queue
from chatserver.settings import Settings
from tests.helpers import (
    CHEAP_ARGON2,
    Chat,
    Client,
    QueueView,
    free_port,
    in_queue_order,
    make_settings,
)
from tests.servers import wait_until_ready

pytestmark = pytest.mark.postgres

# Nodes beat often; agents expire only where a test kills a node (EXPIRING), so that a slow,
# loaded machine cannot make a live node's agents look gone.
FAST_PRESENCE = {"heartbeat_seconds": 0.3, "timeout_seconds": 15.0}
EXPIRING = {"heartbeat_seconds": 0.3, "timeout_seconds": 3.0}


def _wait_for_port(port: int, seconds: float = 5.0) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    raise RuntimeError(f"nothing listens on port {port}")


class Site:
    """One PostgreSQL database and one Redis shared by the nodes this test starts."""

    def __init__(self, database_url: str, redis_url: str, tmp_path: Path,
                 aiohttp_server: Any) -> None:
        self.database_url = database_url
        self.redis_url = redis_url
        self.tmp_path = tmp_path
        self.aiohttp_server = aiohttp_server
        self.port_a, self.port_b = free_port(), free_port()
        # Every node of a site has the same public URL (the proxy's).
        self.public_url = f"http://127.0.0.1:{self.port_a}"
        self.nodes: list[Chat] = []
        self.processes: list[subprocess.Popen[bytes]] = []

    async def node(self, name: str, port: int, **overrides: Any) -> Chat:
        """An in-process node."""
        settings = make_settings(
            self.tmp_path, port, database_url=self.database_url, redis_url=self.redis_url,
            node_id=name, public_url=self.public_url,
            presence={**FAST_PRESENCE, **overrides.pop("presence", {})}, **overrides,
        )
        app = create_app(settings)
        server = await self.aiohttp_server(app, port=port)
        node = Chat(server, settings, app)
        self.nodes.append(node)
        return node

    async def process_node(self, name: str, port: int) -> tuple[Chat, subprocess.Popen[bytes]]:
        """A node in its own process, so that it can be killed for real."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHATSERVER_")}
        env.update({
            "CHATSERVER_HOST": "127.0.0.1",
            "CHATSERVER_PORT": str(port),
            "CHATSERVER_PUBLIC_URL": self.public_url,
            "CHATSERVER_DATA_DIR": str(self.tmp_path),
            "CHATSERVER_DATABASE_URL": self.database_url,
            "CHATSERVER_REDIS_URL": self.redis_url,
            "CHATSERVER_NODE_ID": name,
            "CHATSERVER_LOG_FORMAT": "json",
            "CHATSERVER_PRESENCE__HEARTBEAT_SECONDS": str(EXPIRING["heartbeat_seconds"]),
            "CHATSERVER_PRESENCE__TIMEOUT_SECONDS": str(EXPIRING["timeout_seconds"]),
            "CHATSERVER_AUTH__SESSION_RECHECK_SECONDS": "0",
            "CHATSERVER_LIMITS__EVENTS_PER_SECOND": "1000",
            "CHATSERVER_LIMITS__EVENT_BURST": "1000",
            **{f"CHATSERVER_AUTH__{k.upper()}": str(v) for k, v in CHEAP_ARGON2.items()},
        })
        if "bot" in Settings.model_fields:  # as make_settings: conversations start queued
            env["CHATSERVER_BOT__ENABLED"] = "false"
        process = await asyncio.to_thread(self._spawn, name, env)
        self.processes.append(process)
        await wait_until_ready(f"http://127.0.0.1:{port}", process,
                               self.tmp_path / f"{name}.log")
        node = Chat(SimpleNamespace(port=port), None, None)  # type: ignore[arg-type]
        self.nodes.append(node)
        return node, process

    def _spawn(self, name: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
        with open(self.tmp_path / f"{name}.log", "wb") as log:
            return subprocess.Popen([sys.executable, "-m", "chatserver", "serve"], env=env,
                                    stdout=log, stderr=subprocess.STDOUT)

    def log_of(self, name: str) -> str:
        return (self.tmp_path / f"{name}.log").read_text(errors="replace")[-3000:]

    async def close(self) -> None:
        for node in self.nodes:
            await node.close()
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)


async def _flush(redis_server: Any) -> None:
    await asyncio.to_thread(_wait_for_port, redis_server.port)
    client = redis.asyncio.Redis.from_url(redis_server.url)
    await client.flushall()
    await client.aclose()


@pytest.fixture
async def unmigrated_site(postgres_url: str, redis_server: Any, tmp_path: Path,
                          aiohttp_server: Any) -> AsyncIterator[Site]:
    await _flush(redis_server)
    site = Site(postgres_url, redis_server.url, tmp_path, aiohttp_server)
    yield site
    await site.close()


@pytest.fixture
async def site(unmigrated_site: Site) -> Site:
    await asyncio.to_thread(migrate.upgrade, unmigrated_site.database_url)
    return unmigrated_site


async def _migrate_with_cli(site: Site) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATSERVER_")}
    result = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "chatserver", "migrate",
        env={**env, "CHATSERVER_DATABASE_URL": site.database_url},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    output, _ = await result.communicate()
    assert result.returncode == 0, output.decode()
    assert str(migrate.head_revision()) in output.decode()


def _texts(messages: list[dict[str, Any]]) -> list[str]:
    return [m["text"] for m in messages]


async def _open_conversation(visitor: Client, text: str, client_id: str = "c1") -> str:
    ack = await visitor.call("message", {"client_id": client_id, "text": text})
    assert ack["ok"] is True, ack
    return str(ack["conversation"]["id"])


async def test_visitor_on_one_node_and_agent_on_another_chat_both_ways(site: Site) -> None:
    a = await site.node("node-a", site.port_a)
    b = await site.node("node-b", site.port_b)
    agent = await b.agent("anna@example.fi", "Anna")
    visitor = await a.visitor()
    assert visitor.welcome["online"] is True

    conversation_id = await _open_conversation(visitor, "Hei, onko paketti lähtenyt?")
    queue = await agent.next("queue", where=lambda q: q["conversations"])
    assert [c["id"] for c in queue["conversations"]] == [conversation_id]

    claimed = await agent.call("claim", {"conversation_id": conversation_id})
    assert claimed["ok"] is True, claimed
    active = await visitor.next("conversation", where=lambda c: c["state"] == "active")
    assert active["agent"] == {"name": "Anna"}

    for n in range(3):
        sent = await agent.call("message", {"conversation_id": conversation_id,
                                            "client_id": f"a{n}", "text": f"agent says {n}"})
        assert sent["ok"] is True, sent
        got = await visitor.next("message", where=lambda m: m["author"]["kind"] == "agent")
        assert got == sent["message"]
        answer = await visitor.call("message", {"client_id": f"v{n}", "text": f"visitor {n}"})
        assert answer["ok"] is True, answer
        heard = await agent.next("message", where=lambda m: m["author"]["kind"] == "visitor")
        assert heard == answer["message"]

    await agent.emit("typing", {"conversation_id": conversation_id, "typing": True})
    assert await visitor.next("typing") == {"typing": True, "name": "Anna"}
    await visitor.emit("typing", {"typing": True})
    assert (await agent.next("typing"))["conversation_id"] == conversation_id

    from_a = (await visitor.call("history", {"after_seq": 0}))["messages"]
    from_b = (await agent.call("history", {"conversation_id": conversation_id,
                                           "after_seq": 0}))["messages"]
    assert from_a == from_b
    assert [m["seq"] for m in from_a] == list(range(1, len(from_a) + 1))
    assert _texts(from_a)[2:] == [t for n in range(3) for t in (f"agent says {n}", f"visitor {n}")]


async def test_two_agents_on_different_nodes_race_for_one_claim(site: Site) -> None:
    a = await site.node("node-a", site.port_a)
    b = await site.node("node-b", site.port_b)
    anna = await a.agent("anna@example.fi", "Anna")
    bert = await b.agent("bert@example.fi", "Bert")
    names = {"anna": anna.welcome["agent"]["id"], "bert": bert.welcome["agent"]["id"]}
    wins = {"anna": 0, "bert": 0}
    for round_ in range(6):
        visitor = await (a if round_ % 2 else b).visitor()
        conversation_id = await _open_conversation(visitor, f"question {round_}")
        results = await asyncio.gather(
            anna.call("claim", {"conversation_id": conversation_id}),
            bert.call("claim", {"conversation_id": conversation_id}),
        )
        winners = [name for name, r in zip(("anna", "bert"), results, strict=True) if r["ok"]]
        losers = [r for r in results if not r["ok"]]
        assert len(winners) == 1, results
        assert losers[0]["error"]["code"] == "conflict", losers
        wins[winners[0]] += 1
        async with a.ctx.db() as session:
            row = await session.get(Conversation, conversation_id)
        assert row is not None and row.state == "active"
        assert row.agent_id == names[winners[0]]
        joined = [m for m in (await visitor.call("history", {"after_seq": 0}))["messages"]
                  if m["author"]["kind"] == "system"]
        assert len(joined) == 1, joined
    assert sum(wins.values()) == 6
    assert await queue.waiting(b.ctx) == []


async def test_availability_is_right_on_both_nodes(site: Site) -> None:
    a = await site.node("node-a", site.port_a)
    b = await site.node("node-b", site.port_b)
    await a.add_agent("anna@example.fi", "Anna")
    on_a, on_b = await a.visitor(), await b.visitor()
    assert on_a.welcome["online"] is False and on_b.welcome["online"] is False

    markers = iter(range(100))

    async def everyone_sees(online: bool) -> None:
        for visitor in (on_a, on_b):
            assert await visitor.next("availability") == {"online": online}
        # Both nodes beat (as they do every heartbeat_seconds): neither repeats the news. A
        # marker sent after the beats arrives after anything they sent.
        for node in (a, b):
            await presence.heartbeat(node.ctx, node.app[AGENTS].sids())
        marker = {"marker": next(markers)}
        await b.ctx.bus.to_all_visitors("availability", marker)
        for visitor in (on_a, on_b):
            assert await visitor.next("availability") == marker
        for node in (a, b):
            async with aiohttp.ClientSession() as http, http.get(
                f"{node.url}/api/v1/widget/config"
            ) as response:
                assert (await response.json())["online"] is online

    agent = await a.agent("anna@example.fi")  # connects on node A
    await everyone_sees(True)
    assert (await agent.call("presence", {"status": "away"}))["ok"] is True
    await everyone_sees(False)
    assert (await agent.call("presence", {"status": "online"}))["ok"] is True
    await everyone_sees(True)
    await agent.sio.disconnect()  # leaves node A
    await everyone_sees(False)

    again = await b.agent("anna@example.fi")  # and comes back on node B
    await everyone_sees(True)
    late_a, late_b = await a.visitor(), await b.visitor()
    assert late_a.welcome["online"] is True and late_b.welcome["online"] is True
    await again.sio.disconnect()
    await everyone_sees(False)


async def _agent_socket(node: Chat, http: aiohttp.ClientSession) -> Client:
    cookies = "; ".join(f"{c.key}={c.value}" for c in http.cookie_jar)
    client = Client("/agent")
    await client.connect(node.url, headers={"Cookie": cookies})
    node.clients.append(client.sio)
    await client.next("welcome")
    return client


async def test_killed_node_visitor_resumes_elsewhere_and_its_agents_go_offline(
    unmigrated_site: Site,
) -> None:
    site = unmigrated_site
    await _migrate_with_cli(site)
    b = await site.node("node-b", site.port_b, presence=EXPIRING)
    a, process = await site.process_node("node-a", site.port_a)
    await b.add_agent("xena@example.fi", "Xena")

    xena = await a.agent("xena@example.fi")  # her console is on node A
    watcher = await b.visitor()  # someone reading the site through node B
    assert watcher.welcome["online"] is True

    visitor = await a.visitor()
    token = visitor.welcome["token"]
    first = await visitor.call("message", {"client_id": "v1", "text": "Hei, tilaus 1234?"})
    conversation_id = first["conversation"]["id"]
    await xena.next("queue", where=lambda q: q["conversations"])
    assert (await xena.call("claim", {"conversation_id": conversation_id}))["ok"] is True
    x1 = await xena.call("message", {"conversation_id": conversation_id, "client_id": "x1",
                                     "text": "Katson heti."})
    seen = [first["message"]["seq"]]
    seen.append((await visitor.next("message", where=lambda m: m["text"] == "Katson heti."))
                ["seq"])
    v2 = await visitor.call("message", {"client_id": "v2", "text": "Kiitos!"})
    assert v2["ok"] is True, v2
    seen.append(v2["message"]["seq"])
    assert x1["message"]["seq"] < v2["message"]["seq"]

    process.kill()  # SIGKILL: no goodbye, its presence rows just stop being refreshed
    process.wait(timeout=10)

    # Node B's heartbeat expires node A's agent connections after presence.timeout_seconds.
    # (A deadline, not a timing assertion: generous for a loaded machine.)
    offline = await watcher.next("availability", timeout=EXPIRING["timeout_seconds"] + 30)
    assert offline == {"online": False}

    # Xena's console reconnects to node B with the same session and carries on.
    xena_b = await _agent_socket(b, xena.http)  # type: ignore[arg-type]
    assert [c["id"] for c in xena_b.welcome["assigned"]] == [conversation_id]
    assert await watcher.next("availability") == {"online": True}
    x2 = await xena_b.call("message", {"conversation_id": conversation_id, "client_id": "x2",
                                       "text": "Paketti lähti eilen."})
    assert x2["ok"] is True, x2

    # The visitor reconnects to node B with the token and asks for what it missed.
    resumed = await b.visitor(token=token)
    assert resumed.welcome["token"] == token
    assert resumed.welcome["conversation"]["id"] == conversation_id
    assert resumed.welcome["conversation"]["state"] == "active"
    missed = (await resumed.call("history", {"after_seq": max(seen)}))["messages"]
    assert missed == [x2["message"]]
    # Its last message is retried (as if the ack had been lost with node A): no second copy.
    retry = await resumed.call("message", {"client_id": "v2", "text": "Kiitos!"})
    assert retry["message"] == v2["message"]
    v3 = await resumed.call("message", {"client_id": "v3", "text": "Hienoa."})
    assert (await xena_b.next("message", where=lambda m: m["author"]["kind"] == "visitor")
            ) == v3["message"]

    everything = (await resumed.call("history", {"after_seq": 0}))["messages"]
    assert [m["seq"] for m in everything] == list(range(1, len(everything) + 1))
    assert [(m["author"]["kind"], m["text"]) for m in everything if
            m["author"]["kind"] != "system"] == [
        ("visitor", "Hei, tilaus 1234?"), ("agent", "Katson heti."), ("visitor", "Kiitos!"),
        ("agent", "Paketti lähti eilen."), ("visitor", "Hienoa."),
    ]


async def test_graceful_shutdown_tells_clients_finishes_writes_and_leaves_at_once(
    site: Site, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A long presence timeout: only a clean leave can take the agent offline in this test.
    slow = {"presence": {"heartbeat_seconds": 0.3, "timeout_seconds": 120}}
    a = await site.node("node-a", site.port_a, **slow)
    b = await site.node("node-b", site.port_b, **slow)
    agent = await a.agent("anna@example.fi", "Anna")
    watcher = await b.visitor()
    assert watcher.welcome["online"] is True
    visitor = await a.visitor()
    await _open_conversation(visitor, "first")

    started = asyncio.Event()
    original = conversations.post_visitor_message

    async def slow_post(*args: Any, **kwargs: Any) -> Any:
        started.set()
        await asyncio.sleep(0.3)
        return await original(*args, **kwargs)

    monkeypatch.setattr(conversations, "post_visitor_message", slow_post)
    in_flight = asyncio.create_task(
        visitor.call("message", {"client_id": "c2", "text": "written during shutdown"}))
    await started.wait()
    closing = asyncio.create_task(site.nodes[0].server.close())

    ack = await in_flight
    assert ack["ok"] is True, ack
    assert await visitor.next("shutdown") == {"reconnect": True}
    assert await agent.next("shutdown") == {"reconnect": True}
    await closing
    assert await watcher.next("availability") == {"online": False}
    monkeypatch.undo()
    async with b.ctx.db() as session:
        conversation = (await session.exec(select(Conversation))).one()
    resumed = await b.visitor(token=visitor.welcome["token"])
    assert resumed.welcome["conversation"]["id"] == conversation.id
    assert _texts(resumed.welcome["conversation"]["messages"]) == [
        "first", "written during shutdown"]
    refused = Client("/visitor")
    with pytest.raises(Exception):  # noqa: B017 - node A no longer listens at all
        await refused.connect(a.url, auth={"lang": "fi", "notice_version": "x"})


async def test_readyz_checks_redis_too(site: Site) -> None:
    a = await site.node("node-a", site.port_a)
    async with aiohttp.ClientSession() as http, http.get(f"{a.url}/readyz") as response:
        assert response.status == 200
        assert await response.json() == {"ok": True, "database": True, "redis": True}
    # Point the node's Redis client at a port where nothing listens.
    good = a.ctx.redis
    a.ctx.redis = redis.asyncio.Redis.from_url(f"redis://127.0.0.1:{free_port()}/0")
    try:
        async with aiohttp.ClientSession() as http, http.get(f"{a.url}/readyz") as response:
            assert response.status == 503
            assert await response.json() == {"ok": False, "database": True, "redis": False}
    finally:
        await a.ctx.redis.aclose()
        a.ctx.redis = good



async def test_rows_expired_by_another_node_come_back_on_postgres(site: Site) -> None:
    a = await site.node("node-a", site.port_a)
    agent = await a.agent("anna@example.fi", "Anna")
    sids = a.app[AGENTS].sids()
    async with a.ctx.db.begin() as session:
        await session.exec(delete(AgentConnection))
    # Twice at once: the second finds the row written (no error, no duplicate).
    await asyncio.gather(presence.heartbeat(a.ctx, sids), presence.heartbeat(a.ctx, sids))
    async with a.ctx.db() as session:
        rows = (await session.exec(select(AgentConnection))).all()
    assert [(r.sid, r.agent_id, r.node_id) for r in rows] == [
        (sid, agent.welcome["agent"]["id"], "node-a") for sid in sids]


async def test_queue_deltas_keep_every_agents_view_equal_to_the_database_under_a_burst(
    site: Site,
) -> None:
    """Concurrent opens, claims and closes on two nodes: every delta console's view, built
    from `queue_update`s relayed through Redis, and an older console's whole queue end up
    equal to the database's queue."""
    a = await site.node("node-a", site.port_a)
    b = await site.node("node-b", site.port_b)
    anna = await a.agent("anna@example.fi", "Anna", queue_version=2)
    bert = await b.agent("bert@example.fi", "Bert", queue_version=2)
    carl = await b.agent("carl@example.fi", "Carl")  # an older console: whole queues
    for agent in (anna, bert, carl):
        await agent.next("queue")
    views = [QueueView(anna), QueueView(bert)]
    wholes: list[list[str]] = [[]]
    carl.watch("queue", lambda q: wholes.append(in_queue_order(q["conversations"])))

    async def one(number: int) -> None:
        node, agent = ((a, bert), (b, anna))[number % 2]  # the claim on the other node
        visitor = await node.visitor("en")
        conversation_id = await _open_conversation(visitor, f"burst {number}")
        if number % 3 == 0:
            claimed = await agent.call("claim", {"conversation_id": conversation_id})
            assert claimed["ok"], claimed
        elif number % 3 == 1:
            assert (await visitor.call("close", {}))["ok"]

    await asyncio.gather(*(one(n) for n in range(60)))
    expected = in_queue_order(await queue.waiting(a.ctx))
    assert len(expected) == 20
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 15
    while [view.ids() for view in views] + [wholes[-1]] != [expected] * 3:
        assert loop.time() < deadline, ([view.ids() for view in views], wholes[-1], expected)
        await asyncio.sleep(0.05)


async def test_the_opening_time_reaches_connected_visitors_on_both_nodes(site: Site) -> None:
    """Business hours (issue 22): with an agent online on node A, visitors on both nodes are
    told the team is closed, then, when the (injected) clock passes the opening time, that it
    is open, without polling: each node's timer and heartbeat check the shared schedule and
    the change is announced once through Redis."""
    from datetime import UTC, datetime

    from chatserver.services import hours

    now = {"t": datetime(2026, 3, 9, 6, 59, 58, tzinfo=UTC)}  # Monday 8.59.58 in Helsinki
    a = await site.node("node-a", site.port_a)
    b = await site.node("node-b", site.port_b)
    for node in (a, b):
        node.ctx.clock = lambda: now["t"]
    await a.add_agent("anna@example.fi", "Anna")
    await a.add_agent("admin@example.fi", "Aada", "admin")
    await a.agent("anna@example.fi")
    on_a, on_b = await a.visitor("fi"), await b.visitor("en")
    assert on_a.welcome["online"] is True and on_b.welcome["online"] is True
    admin = await a.login("admin@example.fi")
    async with admin.put(f"{a.url}/api/v1/business-hours", json={"weekly": [
            {"weekday": day, "opens": "09:00", "closes": "17:00"} for day in range(5)]},
            headers={"X-CSRF-Token": admin.headers_csrf}) as response:  # type: ignore
        assert response.status == 200
    for visitor, lang, text in ((on_a, "fi", "Palaamme tänään klo 9.00."),
                                (on_b, "en", "We are back today at 9:00\u202fAM.")):
        closed = await visitor.next("availability")
        assert closed["online"] is False and closed["back_at"][lang] == text
    # Node B reads the schedule from the database at its heartbeat, and repeats nothing.
    for node in (a, b):
        await presence.heartbeat(node.ctx, node.app[AGENTS].sids())
    assert hours.current(b.ctx).weekly
    marker = {"marker": 1}
    await b.ctx.bus.to_all_visitors("availability", marker)
    for visitor in (on_a, on_b):
        assert await visitor.next("availability") == marker
    now["t"] = datetime(2026, 3, 9, 7, 0, 1, tzinfo=UTC)
    for visitor in (on_a, on_b):
        assert await visitor.next("availability") == {"online": True}
    late = await b.visitor("sv")
    assert late.welcome["online"] is True and late.welcome["back_at"] is None
