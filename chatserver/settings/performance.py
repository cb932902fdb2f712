"""The `[performance]` settings section: how the server process is tuned for many connections.

The defaults are what docs/performance.md measured and chose; each key names the trade-off.
Applied by chatserver/realtime/tuning.py (the socket server and `chatserver serve`).
`Settings.performance` (chatserver/settings/__init__.py) is this.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from chatserver.settings.section import Section


class PerformanceSettings(Section):

    batch_messages: bool = Field(
        True,
        description="Commit chat messages that arrive together in one transaction (group "
        "commit); each is still acknowledged only after it is stored. Off writes every "
        "message in a transaction of its own.",
    )
    websocket_compression: bool = Field(
        False,
        description="Accept WebSocket per-message deflate when a browser offers it. It costs "
        "about 100 KB of server memory per open connection and CPU for every frame, for little "
        "gain on short chat messages; off by default (docs/performance.md).",
    )
    gc_freeze: bool = Field(
        True,
        description="After start-up, move every object then alive out of the garbage "
        "collector's reach (gc.freeze), so full collections do not rescan the code and "
        "libraries on every pass (`chatserver serve` only).",
    )
    gc_threshold: int = Field(
        50_000,
        ge=0,
        description="Allocations between young-generation garbage collections (Python's own "
        "default is 700). Higher means fewer, cheaper pauses under load; 0 keeps Python's "
        "default (`chatserver serve` only).",
    )
    event_loop: Literal["auto", "asyncio", "uvloop"] = Field(
        "auto",
        description="`uvloop` runs the server on uvloop (install chatserver[fast]); `auto` uses "
        "it when it is installed, else the standard asyncio loop (`chatserver serve` only).",
    )
    json_encoder: Literal["auto", "stdlib", "orjson"] = Field(
        "auto",
        description="JSON encoder for socket.io packets: `orjson` is faster (install "
        "chatserver[fast]); `auto` uses it when it is installed, else Python's json module.",
    )
