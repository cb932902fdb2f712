"""The floor to compare with: a bare python-socketio relay with chatserver's events.

Same namespaces, events, rooms and payload shapes as chatserver (docs/protocol.md; the queue as
`queue_update` deltas, as chatserver sends them to agents with queue_version 2), but nothing
is stored and nothing is checked: no database, no validation, no rate limit, no notice. Run as
shipped by default (`python bench/bare_relay.py --port P`); the flags turn on the same tuning
chatserver can use, to measure each on its own.
"""

from __future__ import annotations

import argparse
import itertools
import uuid
from datetime import UTC, datetime
from typing import Any

import socketio
from aiohttp import web


def build(json_module: Any = None) -> tuple[web.Application, socketio.AsyncServer]:
    kwargs: dict[str, Any] = {"json": json_module} if json_module is not None else {}
    sio = socketio.AsyncServer(async_mode="aiohttp", cors_allowed_origins="*", **kwargs)
    app = web.Application()
    sio.attach(app)
    conversations: dict[str, dict[str, Any]] = {}   # id -> {seq, agent_id, state}
    visitor_of: dict[str, str] = {}                 # visitor sid -> conversation id
    agent_of: dict[str, int] = {}                   # agent sid -> agent id
    agent_ids: dict[str, int] = {}                  # api token -> agent id
    queued: dict[str, dict[str, Any]] = {}
    counter = itertools.count(1)

    def message(conversation_id: str, kind: str, text: str, name: str | None = None
                ) -> dict[str, Any]:
        conversation = conversations[conversation_id]
        conversation["seq"] += 1
        author: dict[str, Any] = {"kind": kind}
        if name:
            author["name"] = name
        return {"id": uuid.uuid4().hex, "conversation_id": conversation_id,
                "seq": conversation["seq"], "author": author, "text": text,
                "created_at": datetime.now(UTC).isoformat(timespec="milliseconds")}

    @sio.on("connect", namespace="/visitor")
    async def visitor_connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        await sio.emit("welcome", {"token": uuid.uuid4().hex, "online": True,
                                   "conversation": None}, to=sid, namespace="/visitor")

    @sio.on("disconnect", namespace="/visitor")
    async def visitor_disconnect(sid: str, *args: Any) -> None:
        visitor_of.pop(sid, None)

    @sio.on("message", namespace="/visitor")
    async def visitor_message(sid: str, data: dict[str, Any]) -> dict[str, Any]:
        conversation_id = visitor_of.get(sid)
        opened = None
        if conversation_id is None:
            conversation_id = uuid.uuid4().hex
            conversations[conversation_id] = {"seq": 0, "agent_id": None, "state": "queued"}
            visitor_of[sid] = conversation_id
            await sio.enter_room(sid, f"conv:{conversation_id}", namespace="/visitor")
            opened = {"id": conversation_id, "state": "queued", "queue_position": len(queued) + 1}
            queued[conversation_id] = {"id": conversation_id, "state": "queued"}
        view = message(conversation_id, "visitor", data["text"])
        await sio.emit("message", view, to=f"conv:{conversation_id}", namespace="/visitor",
                       skip_sid=sid)
        agent_id = conversations[conversation_id]["agent_id"]
        if agent_id is not None:
            await sio.emit("message", view, to=f"agent:{agent_id}", namespace="/agent")
        if opened is not None:
            await sio.emit("queue_update", {"added": [queued[conversation_id]], "removed": []},
                           to="agents", namespace="/agent")
            return {"ok": True, "message": view, "conversation": opened}
        return {"ok": True, "message": view}

    @sio.on("connect", namespace="/agent")
    async def agent_connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        token = (auth or {}).get("api_token", sid)
        agent_id = agent_ids.setdefault(token, next(counter))
        agent_of[sid] = agent_id
        await sio.enter_room(sid, "agents", namespace="/agent")
        await sio.enter_room(sid, f"agent:{agent_id}", namespace="/agent")
        await sio.emit("welcome", {"agent": {"id": agent_id}, "queue": list(queued.values()),
                                   "assigned": []}, to=sid, namespace="/agent")

    @sio.on("claim", namespace="/agent")
    async def claim(sid: str, data: dict[str, Any]) -> dict[str, Any]:
        conversation_id = data["conversation_id"]
        conversation = conversations[conversation_id]
        conversation["agent_id"], conversation["state"] = agent_of[sid], "active"
        queued.pop(conversation_id, None)
        view = {"id": conversation_id, "state": "active", "agent": {"name": "Agent"}}
        await sio.emit("conversation", view, to=f"conv:{conversation_id}", namespace="/visitor")
        await sio.emit("queue_update", {"added": [], "removed": [conversation_id]}, to="agents",
                       namespace="/agent")
        return {"ok": True, "conversation": {**view, "messages": []}}

    @sio.on("message", namespace="/agent")
    async def agent_message(sid: str, data: dict[str, Any]) -> dict[str, Any]:
        conversation_id = data["conversation_id"]
        view = message(conversation_id, "agent", data["text"], "Agent")
        await sio.emit("message", view, to=f"conv:{conversation_id}", namespace="/visitor")
        await sio.emit("message", view, to=f"agent:{agent_of[sid]}", namespace="/agent",
                       skip_sid=sid)
        return {"ok": True, "message": view}

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def widget_config(request: web.Request) -> web.Response:
        return web.json_response({"notice": {"version": "bare"}})

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/api/v1/widget/config", widget_config)
    return app, sio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tuned", action="store_true",
                        help="apply chatserver's [performance] defaults (no deflate, gc, "
                        "uvloop, orjson) instead of python-socketio's")
    args = parser.parse_args()
    json_module = None
    if args.tuned:
        from chatserver.realtime import tuning
        from chatserver.settings.performance import PerformanceSettings

        perf = PerformanceSettings.model_validate({})
        json_module = tuning.json_module(perf)
        tuning.use_event_loop(perf)
    app, sio = build(json_module)
    if args.tuned:
        tuning.apply_to_server(sio, perf)

        async def freeze(_app: web.Application) -> None:
            tuning.after_startup(perf)

        app.on_startup.append(freeze)
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
