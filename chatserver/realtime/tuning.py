"""Process and socket-server tuning from the `[performance]` settings (docs/performance.md).

- `json_module`: orjson for socket.io packets when chosen or installed.
- `apply_to_server`: WebSocket per-message deflate on or off.
- `use_event_loop` and `after_startup`: uvloop, gc.freeze and the collector's threshold; these
  touch the whole process, so only `chatserver serve` (and the benchmark's relay) call them.
"""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import logging
from types import SimpleNamespace
from typing import Any

import socketio
from aiohttp import web
from aiohttp.web import WebSocketResponse

from chatserver.settings.performance import PerformanceSettings

log = logging.getLogger(__name__)


def _installed(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def json_module(perf: PerformanceSettings) -> Any:
    """A module-like object with `dumps`/`loads` for python-socketio, or None for the stdlib."""
    if perf.json_encoder == "stdlib" or (perf.json_encoder == "auto" and not _installed("orjson")):
        return None
    import json

    import orjson

    options = orjson.OPT_NON_STR_KEYS

    def dumps(obj: Any, **kwargs: Any) -> str:
        # socket.io passes separators=(',', ':'); orjson's output is already that compact.
        try:
            return orjson.dumps(obj, option=options).decode()
        except TypeError:  # what orjson refuses (lone surrogates, huge ints): as the stdlib does
            return json.dumps(obj, **kwargs)

    def loads(data: str | bytes) -> Any:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:  # lone surrogate escapes, NaN: the stdlib accepts them
            return json.loads(data)

    return SimpleNamespace(dumps=dumps, loads=loads)


def _websocket_class(base: type, compress: bool) -> type:
    """engine.io's aiohttp WebSocket wrapper, with deflate accepted or refused."""

    class WebSocket(base):
        async def __call__(self, environ: dict[str, Any]) -> WebSocketResponse:
            request = environ["aiohttp.request"]
            self._sock = WebSocketResponse(max_msg_size=self.server.max_http_buffer_size,
                                           compress=compress)
            await self._sock.prepare(request)
            self.environ = environ
            await self.handler(self)
            return self._sock

    return WebSocket


def apply_to_server(sio: socketio.AsyncServer, perf: PerformanceSettings) -> None:
    eio = sio.eio
    base = eio._async["websocket"]
    if not perf.websocket_compression and base is not None:
        # engine.io always lets aiohttp negotiate deflate; this server's copy of the driver
        # table gets a wrapper that does not (the module's table stays as it was).
        eio._async = {**eio._async, "websocket": _websocket_class(base, compress=False)}


def use_event_loop(perf: PerformanceSettings) -> str:
    """Install uvloop's policy when chosen (or `auto` and installed); returns the loop's name."""
    if perf.event_loop == "asyncio" or (perf.event_loop == "auto" and not _installed("uvloop")):
        return "asyncio"
    import uvloop

    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return "uvloop"


def after_startup(perf: PerformanceSettings) -> None:
    """Run once the app has started: freeze what start-up built, then raise the threshold."""
    if perf.gc_freeze:
        gc.collect()
        gc.freeze()
    if perf.gc_threshold:
        _, second, third = gc.get_threshold()
        gc.set_threshold(perf.gc_threshold, second, third)
    log.debug("gc: frozen=%d threshold=%s", gc.get_freeze_count(), gc.get_threshold())


def tune_process(app: web.Application, perf: PerformanceSettings) -> None:
    """For `chatserver serve`: run `after_startup` once the app's own start-up has finished
    (aiohttp runs cleanup contexts before handlers appended to on_startup later)."""

    async def freeze(_app: web.Application) -> None:
        after_startup(perf)

    app.on_startup.append(freeze)
