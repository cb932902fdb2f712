"""`GET/PUT /api/v1/business-hours`: the team's opening hours (issue 22, services/hours.py).
Every agent may read them; admins change them."""

from __future__ import annotations

from typing import Annotated, Any

from aiohttp import web
from pydantic import BeforeValidator, Field, StringConstraints

from chatserver.http.common import authenticate, read_json
from chatserver.keys import CONTEXT
from chatserver.services import hours
from chatserver.services.context import Context
from chatserver.validation import Payload

Clock = Annotated[str, StringConstraints(pattern=r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$")]


def _whole(value: Any) -> Any:
    """JSON Schema counts 5.0 as an integer: accepted as 5 (a string or a boolean is not)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


class WeeklyIn(Payload):
    weekday: Annotated[int, Field(ge=0, le=6), BeforeValidator(_whole)]  # 0 = Monday
    opens: Clock
    closes: Clock  # at or before `opens`: past midnight


class ExceptionIn(Payload):
    date: Annotated[str, StringConstraints(min_length=10, max_length=10),
                    Field(json_schema_extra={"format": "date"})]
    opens: Clock | None = None  # either left out: closed all day
    closes: Clock | None = None


class HoursIn(Payload):
    weekly: Annotated[list[WeeklyIn], Field(max_length=50)]
    exceptions: Annotated[list[ExceptionIn], Field(max_length=400)] = []


def _view(ctx: Context) -> dict[str, Any]:
    return {**hours.current(ctx).view(), "time_zone": ctx.settings.time_zone,
            "open": hours.open_now(ctx)}


async def get_hours(request: web.Request) -> web.Response:
    await authenticate(request)
    ctx = request.app[CONTEXT]
    await hours.load(ctx)
    return web.json_response({"ok": True, "hours": _view(ctx)})


async def put_hours(request: web.Request) -> web.Response:
    caller = await authenticate(request, admin=True)
    body = await read_json(request, HoursIn)
    ctx = request.app[CONTEXT]
    schedule = hours.parse([w.model_dump() for w in body.weekly],
                           [e.model_dump() for e in body.exceptions])
    await hours.save(ctx, caller.agent.id, schedule)
    return web.json_response({"ok": True, "hours": _view(ctx)})
