"""Running service code from a command: a context of its own, its engine disposed after."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from chatserver.settings import Settings


def with_context(settings: Settings, work: Callable[[Any], Awaitable[None]]) -> None:
    from chatserver.app import build_context  # the app module is heavy; only commands need it
    from chatserver.services.events import EventBus

    async def run() -> None:
        ctx = build_context(settings, EventBus(None))
        try:
            await work(ctx)
        finally:
            await ctx.engine.dispose()

    asyncio.run(run())
