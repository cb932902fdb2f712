"""Prometheus metrics of one node, in a registry of its own (no global singletons).

Other code counts through the helpers below, which do nothing when `ctx.metrics` is None (the
CLI's contexts). Labels are kinds and namespaces only: no ids, names, addresses or text.

Counters and the histogram count what *this node* did (sum them across nodes); the gauges
`chatserver_queue_length` and `chatserver_outbox_backlog` are read from the database when
scraped, so every node reports the same site-wide value (use max(), not sum()).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import func
from sqlmodel import select

from chatserver.db.models import Conversation, OutboxEmail

if TYPE_CHECKING:
    from chatserver.services.context import Context

# Seconds from entering the queue to being claimed by an agent.
WAIT_BUCKETS = (5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.connections = Gauge(
            "chatserver_connections", "Open socket.io connections on this node, by namespace.",
            ["namespace"], registry=self.registry,
        )
        self.messages = Counter(
            "chatserver_messages", "Messages stored by this node, by author kind.",
            ["author_kind"], registry=self.registry,
        )
        self.queue_length = Gauge(
            "chatserver_queue_length", "Conversations waiting for an agent (site-wide).",
            registry=self.registry,
        )
        self.queue_wait = Histogram(
            "chatserver_queue_wait_seconds",
            "Time from entering the queue to being claimed by an agent.",
            buckets=WAIT_BUCKETS, registry=self.registry,
        )
        self.outbox_backlog = Gauge(
            "chatserver_outbox_backlog", "Emails waiting to be sent (site-wide).",
            registry=self.registry,
        )
        self.purged = Counter(
            "chatserver_purged", "Rows deleted by the retention purge on this node, by kind.",
            ["kind"], registry=self.registry,
        )

    def watch_connections(self, namespace: str, count: Callable[[], int]) -> None:
        self.connections.labels(namespace=namespace).set_function(lambda: float(count()))

    def render(self) -> bytes:
        return generate_latest(self.registry)


def count_message(ctx: Context, author_kind: str) -> None:
    if ctx.metrics is not None:
        ctx.metrics.messages.labels(author_kind=author_kind).inc()


def observe_queue_wait(ctx: Context, seconds: float) -> None:
    if ctx.metrics is not None:
        ctx.metrics.queue_wait.observe(max(seconds, 0.0))


def count_purged(ctx: Context, kind: str, rows: int) -> None:
    """For the retention purge: `count_purged(ctx, "conversation", n)` after deleting n rows."""
    if ctx.metrics is not None and rows > 0:
        ctx.metrics.purged.labels(kind=kind).inc(rows)


async def refresh(ctx: Context) -> None:
    """Read the site-wide gauges from the database (called when /metrics is scraped)."""
    if ctx.metrics is None:
        return
    async with ctx.db() as session:
        queued = (await session.exec(
            select(func.count()).select_from(Conversation).where(Conversation.state == "queued")
        )).one()
        pending = (await session.exec(
            select(func.count()).select_from(OutboxEmail).where(OutboxEmail.status == "pending")
        )).one()
    ctx.metrics.queue_length.set(int(queued))
    ctx.metrics.outbox_backlog.set(int(pending))
