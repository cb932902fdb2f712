"""The [performance] settings (chatserver/realtime/tuning.py, docs/performance.md)."""

from __future__ import annotations

import gc
import json
from typing import Any

import aiohttp
import pytest

from chatserver.realtime import tuning
from chatserver.settings.performance import PerformanceSettings
from tests.helpers import Chat


async def _offered_deflate(chat: Chat) -> str | None:
    url = f"{chat.url}/socket.io/?EIO=4&transport=websocket"
    async with aiohttp.ClientSession() as http, http.ws_connect(url, compress=15) as ws:
        header = ws._response.headers.get("Sec-WebSocket-Extensions")
        await ws.close()
    return header


async def test_websocket_deflate_is_refused_by_default_and_accepted_when_on(
    chat_factory: Any,
) -> None:
    assert await _offered_deflate(await chat_factory()) is None
    accepted = await _offered_deflate(
        await chat_factory(performance={"websocket_compression": True}))
    assert accepted is not None and "permessage-deflate" in accepted


def test_orjson_encoder_falls_back_to_the_stdlib_where_orjson_refuses() -> None:
    pytest.importorskip("orjson")
    module = tuning.json_module(PerformanceSettings.model_validate({"json_encoder": "orjson"}))
    assert module is not None
    value = {"text": "hei ✓", "n": 1, 2: [None, True]}
    assert json.loads(module.dumps(value, separators=(",", ":"))) == {"text": "hei ✓", "n": 1,
                                                                     "2": [None, True]}
    # A lone surrogate (orjson refuses it) and NaN (orjson cannot read it) still work.
    assert json.loads(module.dumps({"t": "\ud800"}, separators=(",", ":"))) == {"t": "\ud800"}
    assert module.loads('{"t": "\\ud800", "x": NaN}')["t"] == "\ud800"
    stdlib = PerformanceSettings.model_validate({"json_encoder": "stdlib"})
    assert tuning.json_module(stdlib) is None


def test_after_startup_freezes_and_raises_the_threshold() -> None:
    before = gc.get_threshold()
    try:
        tuning.after_startup(PerformanceSettings.model_validate({"gc_threshold": 12345}))
        assert gc.get_threshold()[0] == 12345
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
