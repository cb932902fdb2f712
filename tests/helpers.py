"""What the tests build on: settings for a test server, the running server (`Chat`) and a
recording socket.io client (`Client`). conftest.py only declares the fixtures that use them
(the way datasette keeps its builders in tests/fixtures.py)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import socketio

from chatserver.keys import CONTEXT
from chatserver.services.context import Context
from chatserver.settings import Settings, load_settings

CHEAP_ARGON2 = {"argon2_time_cost": 1, "argon2_memory_kib": 64, "argon2_parallelism": 1}
PASSWORD = "correct horse battery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_settings(tmp_path: Path, port: int, **overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "data_dir": str(tmp_path),
        "auth": {**CHEAP_ARGON2, "session_recheck_seconds": 0},
        # Every test client comes from 127.0.0.1; tests/test_address_limits.py sets these low.
        "limits": {"events_per_second": 1000, "event_burst": 1000,
                   "visitor_connections_per_address": 10_000,
                   "conversations_per_address_per_hour": 10_000,
                   "offline_per_address_per_hour": 10_000},
        "presence": {"heartbeat_seconds": 0.5, "timeout_seconds": 3},
        # The FAQ assistant is on by default; the older tests expect conversations to start
        # `queued`, so it is off here and tests/test_bot.py turns it on (bot={"enabled": True}).
        "bot": {"enabled": False},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return load_settings(environ={}, overrides=base)


class Chat:
    """One running server plus helpers to open clients against it."""

    def __init__(self, server: Any, settings: Settings, app: Any) -> None:
        self.server = server
        self.settings = settings
        self.app = app
        self.url = f"http://127.0.0.1:{server.port}"
        self.clients: list[socketio.AsyncClient] = []
        self.http: list[aiohttp.ClientSession] = []

    @property
    def ctx(self) -> Context:
        return self.app[CONTEXT]

    def database_bytes(self) -> bytes:
        """The raw SQLite file and its write-ahead log, to search for what must not be there."""
        database = Path(self.settings.database_url.split("///", 1)[1])
        return b"".join(p.read_bytes() for p in (database, database.with_name(
            database.name + "-wal")) if p.exists())

    async def notice_version(self) -> str:
        async with aiohttp.ClientSession() as http, http.get(
            f"{self.url}/api/v1/widget/config"
        ) as response:
            return str((await response.json())["notice"]["version"])

    async def visitor(self, lang: str = "fi", token: str | None = None,
                      notice_version: str | None = None) -> Client:
        auth: dict[str, Any] = {"lang": lang,
                                "notice_version": notice_version or await self.notice_version()}
        if token:
            auth["token"] = token
        client = Client("/visitor")
        await client.connect(self.url, auth=auth)
        self.clients.append(client.sio)
        await client.next("welcome")
        return client

    async def add_agent(self, email: str, name: str, role: str = "agent") -> Any:
        from chatserver.services import agents

        return await agents.create_agent(self.ctx, email, name, PASSWORD, role, "en")

    async def login(self, email: str, password: str = PASSWORD) -> aiohttp.ClientSession:
        http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.http.append(http)
        async with http.post(f"{self.url}/api/v1/auth/login",
                             json={"email": email, "password": password}) as response:
            body = await response.json()
            assert response.status == 200, body
        http.headers_csrf = body["csrf_token"]  # type: ignore[attr-defined]
        return http

    async def agent(self, email: str, name: str | None = None, role: str = "agent",
                    queue_version: int | None = None) -> Client:
        """A logged-in agent socket; `queue_version=2` takes the queue as deltas."""
        if name is not None:
            await self.add_agent(email, name, role)
        http = await self.login(email)
        cookies = "; ".join(f"{c.key}={c.value}" for c in http.cookie_jar)
        client = Client("/agent")
        auth = {} if queue_version is None else {"queue_version": queue_version}
        await client.connect(self.url, headers={"Cookie": cookies}, auth=auth)
        self.clients.append(client.sio)
        client.http = http
        await client.next("welcome")
        return client

    async def close(self) -> None:
        for sio in self.clients:
            if sio.connected:
                await sio.disconnect()
        for http in self.http:
            await http.close()


class Client:
    """A python-socketio client that records every event it receives, per event name."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: dict[str, asyncio.Queue[Any]] = {}
        self.http: aiohttp.ClientSession | None = None
        self.welcome: Any = None
        self.watchers: dict[str, list[Callable[[Any], None]]] = {}
        self.sio.on("*", self._record, namespace=namespace)

    async def _record(self, event: str, data: Any = None) -> None:
        if event == "welcome":
            self.welcome = data
        for watcher in self.watchers.get(event, ()):
            watcher(data)
        self.events.setdefault(event, asyncio.Queue()).put_nowait(data)

    def watch(self, event: str, watcher: Callable[[Any], None]) -> None:
        """Call `watcher(data)` on each `event` as it arrives (and still record it)."""
        self.watchers.setdefault(event, []).append(watcher)

    async def connect(self, url: str, **kwargs: Any) -> None:
        await self.sio.connect(url, namespaces=[self.namespace], transports=["websocket"],
                               wait_timeout=5, **kwargs)

    async def next(self, event: str, timeout: float = 5.0,
                   where: Callable[[Any], bool] | None = None) -> Any:
        queue = self.events.setdefault(event, asyncio.Queue())
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            item = await asyncio.wait_for(queue.get(), max(remaining, 0.01))
            if where is None or where(item):
                return item

    def pending(self, event: str) -> list[Any]:
        queue = self.events.setdefault(event, asyncio.Queue())
        items = []
        while not queue.empty():
            items.append(queue.get_nowait())
        return items

    async def call(self, event: str, data: Any = None, timeout: float = 5.0) -> Any:
        return await self.sio.call(event, data, namespace=self.namespace, timeout=timeout)

    async def emit(self, event: str, data: Any = None) -> None:
        await self.sio.emit(event, data, namespace=self.namespace)


def everything_received(client: Client) -> list[tuple[str, Any]]:
    """Every event the client has received and no test has taken yet, as (name, data)."""
    return [(name, item) for name in list(client.events) for item in client.pending(name)]


class QueueView:
    """An agent's view of the queue built as the console builds it (widget/console/chats.js):
    the whole queue from `welcome` and `queue`, then `queue_update` deltas; an id once removed
    never comes back (deltas relayed from two nodes can overtake each other)."""

    def __init__(self, client: Client) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.left: set[str] = set()
        self._replace(client.welcome["queue"])
        for data in client.pending("queue"):  # arrived since the welcome
            self._replace(data["conversations"])
        client.watch("queue", lambda data: self._replace(data["conversations"]))
        client.watch("queue_update", self._apply)

    def _replace(self, conversations: list[dict[str, Any]]) -> None:
        self.items = {c["id"]: c for c in conversations if c["id"] not in self.left}

    def _apply(self, delta: dict[str, Any]) -> None:
        self.left.update(delta["removed"])
        for conversation_id in delta["removed"]:
            self.items.pop(conversation_id, None)
        for conversation in delta["added"]:
            if conversation["id"] not in self.left:
                self.items[conversation["id"]] = conversation

    def ids(self) -> list[str]:
        return in_queue_order(list(self.items.values()))


def in_queue_order(conversations: list[dict[str, Any]]) -> list[str]:
    """Ids by `queued_at` as the wire carries it (to the millisecond), then by id: the order a
    console shows, which two joins within one millisecond cannot make ambiguous."""
    return [c["id"] for c in sorted(conversations, key=lambda c: (c["queued_at"] or "", c["id"]))]


def namespace_events() -> dict[str, set[str]]:
    """The events the /visitor and /agent namespaces of a real app dispatch on."""
    import tempfile

    from chatserver.app import create_app
    from chatserver.keys import AGENTS, VISITORS

    with tempfile.TemporaryDirectory() as data_dir:
        app = create_app(load_settings(environ={}, overrides={"data_dir": data_dir}))
        return {"visitor": set(app[VISITORS].handlers), "agent": set(app[AGENTS].handlers)}
