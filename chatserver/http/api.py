"""REST for agents and admins under /api/v1 (cookie session with CSRF, or bearer token)."""

from __future__ import annotations

from typing import Annotated, Literal

from aiohttp import web
from pydantic import Field, StringConstraints

from chatserver.errors import Code, ServiceError
from chatserver.http.common import authenticate, read_json
from chatserver.i18n import gettext_noop as _
from chatserver.keys import CONTEXT
from chatserver.services import agents, archive, audit, search
from chatserver.services.assistant import faq_learning
from chatserver.services.passwords import MIN_CHARS as MIN_PASSWORD_CHARS
from chatserver.services.views import agent_view
from chatserver.validation import (
    EMAIL_FORMAT,
    Line,
    NameLine,
    Payload,
    Secret,
    query_text,
    record_id,
)


def _int_query(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
        raise ServiceError(Code.INVALID_INPUT,
                           _("“{field}” must be a whole number from {low} to {high}."),
                           field=name, low=low, high=high)
    return int(raw)


async def list_conversations(request: web.Request) -> web.Response:
    await authenticate(request)
    items = await archive.list_conversations(
        request.app[CONTEXT],
        state=request.query.get("state") or None,
        search=query_text(request.query.get("q"), "q", 200),
        limit=_int_query(request, "limit", 50, 1, 500),
        before=record_id(before) if (before := request.query.get("before")) else None,
    )
    return web.json_response({"ok": True, "conversations": items})


async def search_conversations(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    query = request.query
    since, until = query.get("from") or None, query.get("to") or None
    found = await search.search(request.app[CONTEXT], caller.agent, search.Filters(
        words=query_text(query.get("q"), "q", 200) or "",
        since=audit.parse_moment(since[:40], "from") if since else None,
        until=audit.parse_moment(until[:40], "to", end_of_day=True) if until else None,
        language=query.get("language") or None,
    ))
    return web.json_response({"ok": True, **found})


async def get_conversation(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    ctx = request.app[CONTEXT]
    conversation = await archive.read_conversation(
        ctx, caller.agent, record_id(request.match_info["conversation_id"])
    )
    if ctx.assistant is not None:  # what the FAQ assistant did in it (docs/protocol.md)
        conversation["assistant"] = await faq_learning.assistant_actions(ctx, conversation["id"])
    return web.json_response({"ok": True, "conversation": conversation})


# The service checks the length with its own message ("The password is too short ..."); the
# document states the same minimum.
Password = Annotated[Secret, StringConstraints(min_length=1, max_length=1024),
                     Field(json_schema_extra={"minLength": MIN_PASSWORD_CHARS})]


class NewAgent(Payload):
    email: Annotated[Line, StringConstraints(min_length=3, max_length=254), EMAIL_FORMAT]
    name: Annotated[NameLine, StringConstraints(min_length=1, max_length=100)]
    password: Password
    role: Literal["admin", "agent"] = "agent"
    language: Literal["fi", "sv", "en"] = "fi"


async def list_agents(request: web.Request) -> web.Response:
    await authenticate(request, admin=True)
    found = await agents.list_agents(request.app[CONTEXT])
    return web.json_response({"ok": True, "agents": [agent_view(a) for a in found]})


async def create_agent(request: web.Request) -> web.Response:
    caller = await authenticate(request, admin=True)
    body = await read_json(request, NewAgent)
    agent = await agents.create_agent(
        request.app[CONTEXT], body.email, body.name, body.password, body.role, body.language,
        actor_id=caller.agent.id,
    )
    return web.json_response({"ok": True, "agent": agent_view(agent)}, status=201)
