"""Public endpoints: the widget's configuration, the privacy notice, the demo host page, and
the liveness check (readiness and metrics are in ops.py)."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from chatserver.http.common import request_language
from chatserver.http.widget import allow_host_origin
from chatserver.keys import CONTEXT
from chatserver.services import notice, presence
from chatserver.services.ui_strings import widget_strings
from chatserver.settings import LANGUAGES

STATIC = Path(__file__).resolve().parent.parent / "static"


async def widget_config(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    language = request_language(request)
    response = web.json_response({
        "language": language,
        "languages": list(LANGUAGES),
        "notice": notice.summary(ctx, language),
        "online": await presence.is_online(ctx),
        "features": notice.feature_flags(ctx),
        "limits": {"max_message_chars": ctx.settings.limits.max_message_chars},
        "strings": widget_strings(ctx, language),
    })
    allow_host_origin(request, response)
    return response


async def demo_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "demo.html")


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})
