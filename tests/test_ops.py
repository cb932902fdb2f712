"""Operations: /healthz, /readyz, and /metrics in Prometheus format (one registry per app)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import select

from chatserver.app import create_app
from chatserver.db.models import AgentConnection, OutboxEmail
from chatserver.services import metrics
from chatserver.services.privacy import retention
from chatserver.settings import Settings
from tests.helpers import Chat


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


async def _scrape(url: str) -> dict[str, float]:
    """Every sample as {"name{label=value,...}": value}."""
    async with aiohttp.ClientSession() as http, http.get(f"{url}/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = await response.text()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}"] = sample.value
    return samples


async def _started(aiohttp_server: Any, settings: Settings, clock: Clock) -> Chat:
    app = create_app(settings, clock=clock)
    server = await aiohttp_server(app, port=settings.port)
    return Chat(server, settings, app)


async def test_health_and_readiness_without_redis(chat: Chat) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{chat.url}/healthz") as response:
            assert response.status == 200 and await response.json() == {"ok": True}
        async with http.get(f"{chat.url}/readyz") as response:
            assert response.status == 200
            assert await response.json() == {"ok": True, "database": True}


async def test_metrics_count_a_whole_chat(aiohttp_server: Any,
                                          settings_factory: Callable[..., Settings]) -> None:
    clock = Clock()
    chat = await _started(aiohttp_server, settings_factory(), clock)
    try:
        before = await _scrape(chat.url)
        assert before['chatserver_connections{namespace=/visitor}'] == 0
        assert before["chatserver_queue_length{}"] == 0
        assert before["chatserver_queue_wait_seconds_count{}"] == 0

        agent = await chat.agent("anna@example.fi", "Anna")
        visitor = await chat.visitor()
        ack = await visitor.call("message", {"client_id": "c1", "text": "Hei"})
        conversation_id = ack["conversation"]["id"]
        await visitor.call("message", {"client_id": "c2", "text": "Onko ketään?"})
        queued = await _scrape(chat.url)
        assert queued["chatserver_connections{namespace=/visitor}"] == 1
        assert queued["chatserver_connections{namespace=/agent}"] == 1
        assert queued["chatserver_queue_length{}"] == 1
        assert queued["chatserver_messages_total{author_kind=visitor}"] == 2

        clock.now += timedelta(seconds=42)
        assert (await agent.call("claim", {"conversation_id": conversation_id}))["ok"] is True
        await agent.call("message", {"conversation_id": conversation_id, "client_id": "a1",
                                     "text": "Täällä ollaan"})
        async with chat.ctx.db.begin() as session:
            session.add(OutboxEmail(kind="transcript", to_address="x@example.fi", subject="s",
                                    body_text="b", language="fi",
                                    next_attempt_at=clock.now + timedelta(days=1)))
        claimed = await _scrape(chat.url)
        assert claimed["chatserver_queue_length{}"] == 0
        assert claimed["chatserver_queue_wait_seconds_count{}"] == 1
        assert claimed["chatserver_queue_wait_seconds_sum{}"] == 42
        assert claimed["chatserver_queue_wait_seconds_bucket{le=30.0}"] == 0
        assert claimed["chatserver_queue_wait_seconds_bucket{le=60.0}"] == 1
        assert claimed["chatserver_messages_total{author_kind=agent}"] == 1
        assert claimed["chatserver_messages_total{author_kind=system}"] == 1  # "Anna joined"
        assert claimed["chatserver_outbox_backlog{}"] == 1

        assert (await agent.call("close", {"conversation_id": conversation_id}))["ok"] is True
        await visitor.sio.disconnect()
        counts = await retention.purge(chat.ctx, now=clock.now + timedelta(days=400))
        purged = await _scrape(chat.url)
        assert purged["chatserver_purged_total{kind=conversations}"] == counts.conversations == 1
        assert purged["chatserver_purged_total{kind=messages}"] == counts.messages
        assert purged["chatserver_connections{namespace=/visitor}"] == 0
        # The metrics name kinds and namespaces only: no ids, names or addresses.
        for key in purged:
            for secret in (conversation_id, "anna", "Anna", "example.fi"):
                assert secret not in key
    finally:
        await chat.close()


async def test_each_app_has_its_own_registry(aiohttp_server: Any, tmp_path: Path,
                                             settings_factory: Callable[..., Settings]) -> None:
    first = await _started(aiohttp_server, settings_factory(), Clock())
    second = await _started(aiohttp_server, settings_factory(), Clock())
    try:
        metrics.count_message(first.ctx, "bot")
        assert first.ctx.metrics is not second.ctx.metrics
        assert (await _scrape(first.url))["chatserver_messages_total{author_kind=bot}"] == 1
        assert "chatserver_messages_total{author_kind=bot}" not in await _scrape(second.url)
    finally:
        await first.close()
        await second.close()


async def test_graceful_shutdown_of_a_single_node(chat: Chat) -> None:
    """Without Redis too: clients hear `shutdown`, the transport closes (so socket.io clients
    reconnect by themselves), and the agent's presence is gone at once."""
    agent = await chat.agent("anna@example.fi", "Anna")
    visitor = await chat.visitor()
    closed = []
    visitor.sio.on("disconnect", lambda *args: closed.append(args), namespace="/visitor")
    await chat.server.close()
    assert await visitor.next("shutdown") == {"reconnect": True}
    assert await agent.next("shutdown") == {"reconnect": True}
    assert closed and not visitor.sio.connected
    async with chat.ctx.db() as session:
        rows = (await session.exec(select(AgentConnection))).all()
    assert rows == []
