"""`GET /widget.js`: the widget bundle built by `make widget` (widget/ → static/widget.js).

Served with an ETag (a hash of the content), a short public cache lifetime so a new release
reaches visitors within minutes, a 304 for a matching If-None-Match, and a gzip variant for
browsers that accept it. Also the CORS answer that lets host sites read the widget config.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from aiohttp import web

from chatserver.keys import SETTINGS
from chatserver.package_data import data_path

BUNDLE = data_path("static", "widget.js")
CACHE_CONTROL = "public, max-age=300"


@dataclass(frozen=True)
class Bundle:
    body: bytes
    gzipped: bytes
    etag: str


@lru_cache(maxsize=4)
def _load(path: Path, mtime_ns: int, size: int) -> Bundle:
    body = path.read_bytes()
    digest = hashlib.sha256(body).hexdigest()[:20]
    return Bundle(body=body, gzipped=gzip.compress(body, 9, mtime=0), etag=digest)


def load_bundle(path: Path = BUNDLE) -> Bundle | None:
    """The built bundle, re-read only when the file changes; None when it was never built."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return _load(path, stat.st_mtime_ns, stat.st_size)


def _matches(header: str, etag: str) -> bool:
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in tags or etag in tags


async def widget_js(request: web.Request) -> web.Response:
    bundle = load_bundle()
    if bundle is None:
        return web.Response(status=404, text="widget.js is not built: run `make widget`.\n")
    use_gzip = "gzip" in request.headers.get("Accept-Encoding", "").lower()
    etag = f'"{bundle.etag}-gz"' if use_gzip else f'"{bundle.etag}"'
    headers = {
        "Cache-Control": CACHE_CONTROL,
        "ETag": etag,
        "Vary": "Accept-Encoding",
        # Host pages that set Cross-Origin-Embedder-Policy may still load the script.
        "Cross-Origin-Resource-Policy": "cross-origin",
    }
    if _matches(request.headers.get("If-None-Match", ""), etag):
        return web.Response(status=304, headers=headers)
    if use_gzip:
        headers["Content-Encoding"] = "gzip"
    response = web.Response(body=bundle.gzipped if use_gzip else bundle.body, headers=headers,
                            content_type="application/javascript", charset="utf-8")
    return response


def allow_host_origin(request: web.Request, response: web.StreamResponse) -> None:
    """Lets a listed host site (settings `allowed_origins`) read a public JSON answer.
    Never with credentials: the widget's requests carry no cookies."""
    origin = request.headers.get("Origin")
    response.headers["Vary"] = "Origin"
    if origin and origin in request.app[SETTINGS].socket_origins:
        response.headers["Access-Control-Allow-Origin"] = origin


async def preflight(request: web.Request) -> web.Response:
    """CORS preflight for the public widget endpoints: a listed origin may GET them, with no
    credentials and no custom headers beyond Content-Type; anyone else gets no allow headers,
    so the browser blocks the request. Agent and admin endpoints have no preflight (405)."""
    response = web.Response(status=204)
    allow_host_origin(request, response)
    if "Access-Control-Allow-Origin" in response.headers:
        response.headers["Access-Control-Allow-Methods"] = "GET"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type"
        response.headers["Access-Control-Max-Age"] = "600"
    return response
