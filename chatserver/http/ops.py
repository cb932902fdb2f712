"""Endpoints for operators: readiness (database and Redis) and Prometheus metrics.

`/healthz` (the process answers) stays in public.py. Neither these nor the metrics carry any
personal data; still, expose /metrics only to the monitoring network (see deploy/nginx.conf).
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from chatserver.keys import CONTEXT, SIO
from chatserver.services import metrics as node_metrics
from chatserver.services.context import Context

log = logging.getLogger(__name__)
CHECK_SECONDS = 3.0


async def readyz(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    checks = {"database": await _database_ok(ctx)}
    if ctx.settings.redis_url:
        # Reachable, and this node's subscription (other nodes' events) is live again.
        manager = request.app[SIO].manager
        checks["redis"] = await _redis_ok(ctx) and getattr(manager, "listening", True)
    ready = all(checks.values())
    return web.json_response({"ok": ready, **checks}, status=200 if ready else 503)


async def _database_ok(ctx: Context) -> bool:
    async def probe() -> None:
        async with ctx.db() as session:
            await session.exec(text("SELECT 1"))  # type: ignore[call-overload]

    try:
        await asyncio.wait_for(probe(), CHECK_SECONDS)
    except Exception:
        log.warning("readyz: the database is not reachable")
        return False
    return True


async def _redis_ok(ctx: Context) -> bool:
    if ctx.redis is None:
        return False
    try:
        return bool(await asyncio.wait_for(ctx.redis.ping(), CHECK_SECONDS))
    except Exception:
        log.warning("readyz: Redis is not reachable")
        return False


async def metrics(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    if ctx.metrics is None:
        raise web.HTTPNotFound()
    try:
        await asyncio.wait_for(node_metrics.refresh(ctx), CHECK_SECONDS)
    except Exception:
        # The node's own counters are still worth scraping when the database is away.
        log.warning("metrics: could not read the queue and outbox gauges")
    return web.Response(body=ctx.metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})
