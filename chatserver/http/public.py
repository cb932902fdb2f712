"""Public endpoints: the widget's configuration, the privacy notice, the demo host page, and
the liveness check (readiness and metrics are in ops.py)."""

from __future__ import annotations

import base64
import hashlib
import re
from functools import lru_cache

from aiohttp import web

from chatserver.http.common import request_language
from chatserver.http.widget import allow_host_origin
from chatserver.keys import CONTEXT
from chatserver.package_data import data_path
from chatserver.services import hours, presence
from chatserver.services.privacy import notice
from chatserver.services.ui_strings import widget_strings
from chatserver.settings import LANGUAGES

STATIC = data_path("static")


async def widget_config(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    language = request_language(request)
    response = web.json_response({
        "language": language,
        "languages": list(LANGUAGES),
        "notice": notice.summary(ctx, language),
        "online": await presence.is_online(ctx),
        # While closed by the business hours: "We are back on Monday at 9.00" (issue 22).
        "back_at": hours.back_at(ctx, language),
        "features": notice.feature_flags(ctx),
        "limits": {"max_message_chars": ctx.settings.limits.max_message_chars},
        "strings": widget_strings(ctx, language),
    })
    allow_host_origin(request, response)
    return response


@lru_cache(maxsize=1)
def _demo_html() -> tuple[bytes, str]:
    """The demo host page and the hashes of its inline styles, for its CSP."""
    body = (STATIC / "demo.html").read_bytes()
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(style).digest()).decode() + "'"
        for style in re.findall(rb"<style>(.*?)</style>", body, re.S)
    )
    return body, hashes


def demo_csp(own_origin: str, style_hashes: str) -> str:
    """As strict as a careful host site would be: the widget needs only its script, its socket
    and constructed stylesheets (which style-src does not govern)."""
    websocket = own_origin.replace("https://", "wss://").replace("http://", "ws://")
    return (f"default-src 'none'; script-src 'self'; style-src 'self' {style_hashes}; "
            f"img-src 'self' data:; connect-src 'self' {websocket}; frame-ancestors 'self'; "
            "base-uri 'none'; form-action 'none'")


async def demo_page(request: web.Request) -> web.Response:
    body, style_hashes = _demo_html()
    response = web.Response(body=body, content_type="text/html", charset="utf-8")
    response.headers["Content-Security-Policy"] = demo_csp(
        request.app[CONTEXT].settings.own_origin, style_hashes)
    return response


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})
