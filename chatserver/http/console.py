"""The agent console: `/console` (the login page, then the single-page app), its bundle
`/console.js` + `/console.css` (built by `make -C widget console` from widget/console/), and its
UI strings `GET /api/v1/console/strings?lang=`. Admin pages (`/console/admin/...`) answer 403
to a logged-in agent without the admin role. See docs/console.md."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from html import escape
from pathlib import Path

from aiohttp import web

from chatserver.http.common import request_language
from chatserver.i18n import gettext_noop as _
from chatserver.keys import CONTEXT
from chatserver.package_data import data_path
from chatserver.realtime.agent import SESSION_COOKIE
from chatserver.services import agents
from chatserver.services.console_strings import console_strings
from chatserver.settings import LANGUAGES

STATIC = data_path("static")
ASSETS = {"console.js": "application/javascript", "console.css": "text/css"}


@dataclass(frozen=True)
class Asset:
    body: bytes
    etag: str


@lru_cache(maxsize=8)
def _load(path: Path, mtime_ns: int, size: int) -> Asset:
    body = path.read_bytes()
    return Asset(body=body, etag=hashlib.sha256(body).hexdigest()[:20])


def load_asset(name: str) -> Asset | None:
    path = STATIC / name
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return _load(path, stat.st_mtime_ns, stat.st_size)


def content_security_policy(own_origin: str) -> str:
    websocket = own_origin.replace("https://", "wss://").replace("http://", "ws://")
    return ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"connect-src 'self' {websocket}; frame-ancestors 'none'; base-uri 'none'; "
            "form-action 'self'")


def _page(request: web.Request, language: str, body: str, status: int = 200) -> web.Response:
    ctx = request.app[CONTEXT]
    title = escape(ctx.translator.gettext(language, _("Customer service console")))
    js, css = load_asset("console.js"), load_asset("console.css")
    version = (js.etag if js else "none") + (css.etag if css else "none")
    html = (
        f'<!doctype html><html lang="{language}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{title}</title><link rel="stylesheet" href="/console.css?v={version[:8]}">'
        f'<script src="/console.js?v={version[:8]}" defer></script></head>'
        f"<body>{body}</body></html>"
    )
    response = web.Response(text=html, content_type="text/html", status=status)
    response.headers["Content-Security-Policy"] = content_security_policy(
        ctx.settings.own_origin)
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Language"] = language
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    return response


async def console_page(request: web.Request) -> web.Response:
    """The shell for every console path; the script shows the login form or the app.
    Admin paths are refused (403) to a logged-in agent who is not an admin."""
    ctx = request.app[CONTEXT]
    language = request_language(request)
    found = None
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        found = await agents.agent_for_session(ctx, token)
    if found is not None and not request.query.get("lang"):
        language = found[0].language
    tail = request.match_info.get("tail", "")
    if found is not None and tail.startswith("admin") and found[0].role != "admin":
        message = escape(ctx.translator.gettext(language, _("Only administrators can do this.")))
        back = escape(ctx.translator.gettext(language, _("Back to the console")))
        return _page(request, language,
                     f'<main id="forbidden"><h1>403</h1><p>{message}</p>'
                     f'<p><a href="/console">{back}</a></p></main>', status=403)
    noscript = escape(ctx.translator.gettext(language, _("The console needs JavaScript.")))
    return _page(request, language,
                 f'<div id="app" data-lang="{language}"></div><noscript>{noscript}</noscript>')


async def console_asset(request: web.Request) -> web.Response:
    name = request.path.lstrip("/")
    asset = load_asset(name) if name in ASSETS else None
    if asset is None:
        return web.Response(status=404, text=f"{name} is not built: run `make widget`.\n")
    etag = f'"{asset.etag}"'
    headers = {"Cache-Control": "no-cache", "ETag": etag}
    if etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    return web.Response(body=asset.body, headers=headers, content_type=ASSETS[name],
                        charset="utf-8")


async def strings(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    language = request_language(request)
    return web.json_response({"ok": True, "language": language, "languages": list(LANGUAGES),
                              "strings": console_strings(ctx, language)})
