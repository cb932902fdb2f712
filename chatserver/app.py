"""`create_app(settings)`: builds one node. Nothing is built at import time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime

from aiohttp import web

from chatserver.db import migrate, trip
from chatserver.db.engine import make_engine, make_sessionmaker
from chatserver.http.common import answer_middleware
from chatserver.http.routes import setup_routes
from chatserver.i18n import Translator
from chatserver.keys import AGENTS, CONTEXT, SETTINGS, SIO, VISITORS
from chatserver.realtime import create_socket_server
from chatserver.realtime.agent import AgentNamespace
from chatserver.realtime.lifecycle import drain, socket_lifetime
from chatserver.realtime.visitor import VisitorNamespace
from chatserver.services import (
    conversations,
    hours,
    idle,
    message_batch,
    presence,
    reports,
    routing,
)
from chatserver.services.assistant import bot, faq_store
from chatserver.services.background import background
from chatserver.services.context import Context, make_password_hasher, system_clock
from chatserver.services.email import outbox, transcripts
from chatserver.services.events import EventBus
from chatserver.services.metrics import Metrics
from chatserver.services.privacy import backup, notice, residency, retention
from chatserver.settings import Settings

log = logging.getLogger(__name__)


# Each PostgreSQL hot path's one statement (opening, claiming, a message batch): prepared on
# every pooled connection at start-up (trip.warm).
HOT_POSTGRES = (conversations.OPEN_POSTGRES, routing.CLAIM_POSTGRES,
                message_batch.BATCH_POSTGRES)


class NotMigrated(RuntimeError):
    pass


def build_context(settings: Settings, bus: EventBus,
                  clock: Callable[[], datetime] | None = None) -> Context:
    """The services' context, with the optional layers plugged into the chat core: the FAQ
    assistant (when `bot.enabled`) and the transcript email on close."""
    engine = make_engine(settings.database_url, settings.sqlite_busy_seconds)
    ctx = Context(
        settings=settings,
        engine=engine,
        db=make_sessionmaker(engine),
        bus=bus,
        translator=Translator(default_language=settings.default_language),
        hasher=make_password_hasher(settings),
        clock=clock or system_clock,
    )
    ctx.faq = faq_store.LiveFaq(settings)
    if settings.bot.enabled:
        ctx.assistant = bot.FaqAssistant()
    ctx.on_close.append(transcripts.queue_on_close)
    return ctx


def create_app(settings: Settings, *, clock: Callable[[], datetime] | None = None
               ) -> web.Application:
    for deprecated in settings.deprecations:
        log.warning(deprecated)
    residency.enforce(settings)  # personal data stays in the EU/EEA: privacy/residency.py
    bot.check(settings)  # a malformed FAQ file stops start-up: services/assistant/faq.py
    if settings.redis_url and not settings.auth.address_key:
        log.warning("auth.address_key is not set: each node keys login throttling on its own, "
                    "so failed logins are not counted across nodes; set the same "
                    "CHATSERVER_AUTH__ADDRESS_KEY on every node")
    app = web.Application(
        client_max_size=settings.limits.max_body_bytes,
        middlewares=[answer_middleware],
    )
    sio = create_socket_server(settings)
    sio.attach(app)
    ctx = build_context(settings, EventBus(sio), clock)
    visitors, agents = VisitorNamespace(ctx), AgentNamespace(ctx)
    sio.register_namespace(visitors)
    sio.register_namespace(agents)
    agents.attach_queue_feed(sio, sio.manager)
    app[SETTINGS], app[CONTEXT], app[SIO] = settings, ctx, sio
    app[VISITORS], app[AGENTS] = visitors, agents
    setup_routes(app)
    ctx.metrics = Metrics()
    for namespace in (visitors, agents):
        ctx.metrics.watch_connections(namespace.namespace, namespace.connections.__len__)
    app.on_shutdown.append(drain)  # graceful shutdown: realtime/lifecycle.py
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(socket_lifetime)  # Redis manager; closed after the workers below
    app.cleanup_ctx.append(_business_hours)
    app.cleanup_ctx.append(_presence_heartbeat)
    app.cleanup_ctx.append(_agent_sessions)
    app.cleanup_ctx.append(_privacy)
    app.cleanup_ctx.append(_email_outbox)
    app.cleanup_ctx.append(_idle_conversations)
    app.cleanup_ctx.append(_faq)
    app.cleanup_ctx.append(_reports)
    return app


async def _faq(app: web.Application) -> AsyncIterator[None]:
    """The FAQ saved in the console, live on this node (services/assistant/faq_store.py)."""
    async with faq_store.running(app[CONTEXT]):
        yield


async def _database(app: web.Application) -> AsyncIterator[None]:
    ctx = app[CONTEXT]
    engine = ctx.engine
    current = await migrate.current_revision(engine)
    head = migrate.head_revision()
    if current != head:
        await engine.dispose()
        raise NotMigrated(
            f"the database is at revision {current or 'empty'} but this version needs {head}: "
            "run `chatserver migrate` first"
        )
    # Before anything is served: what was erased stays erased, even in a restored backup.
    await backup.reapply(ctx)
    await trip.warm(engine, HOT_POSTGRES)
    yield
    await engine.dispose()


async def _agent_sessions(app: web.Application) -> AsyncIterator[None]:
    """Close agent sockets whose session or token ended, within auth.session_recheck_seconds."""
    ctx, agents = app[CONTEXT], app[AGENTS]

    async def sweep() -> None:
        while True:
            await asyncio.sleep(max(ctx.settings.auth.session_recheck_seconds, 0.5))
            try:
                await agents.sweep()
            except Exception:
                log.exception("re-checking agent sessions failed")

    async with background(sweep(), "agent-sessions"):
        yield


async def _business_hours(app: web.Application) -> AsyncIterator[None]:
    """The schedule, and its timer announcing openings and closings (services/hours.py)."""
    ctx = app[CONTEXT]
    await hours.load(ctx)
    async with hours.running(ctx, presence.publish_availability):
        yield


async def _presence_heartbeat(app: web.Application) -> AsyncIterator[None]:
    ctx, agents = app[CONTEXT], app[AGENTS]
    await presence.remember_availability(ctx)

    async def beat() -> None:
        while True:
            await asyncio.sleep(ctx.settings.presence.heartbeat_seconds)
            try:
                await presence.heartbeat(ctx, agents.sids())
            except Exception:
                log.exception("presence heartbeat failed")

    async with background(beat(), "presence-heartbeat"):
        yield
    with contextlib.suppress(Exception):
        await presence.forget_node(ctx)


async def _email_outbox(app: web.Application) -> AsyncIterator[None]:
    """Sends queued emails (services/email/outbox.py)."""
    async with outbox.running(app[CONTEXT]):
        yield


async def _idle_conversations(app: web.Application) -> AsyncIterator[None]:
    """Closes conversations idle for chat.idle_close_minutes (services/idle.py)."""
    async with idle.running(app[CONTEXT]):
        yield


async def _reports(app: web.Application) -> AsyncIterator[None]:
    """Counts closed conversations into the anonymous reports (services/reports.py)."""
    async with reports.running(app[CONTEXT]):
        yield


async def _privacy(app: web.Application) -> AsyncIterator[None]:
    """Publishes the current privacy notice and runs the purge worker
    (services/privacy/retention.py)."""
    ctx = app[CONTEXT]
    await notice.publish(ctx)
    async with retention.running(ctx):
        yield
