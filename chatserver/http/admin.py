"""Admin REST for the console (docs/console.md): agents (role, disable, password), canned
responses (agents read them, admins change them), the audit log and the retention in force."""

from __future__ import annotations

from typing import Annotated, Literal

from aiohttp import web
from pydantic import Field, StringConstraints

from chatserver.errors import Code, ServiceError
from chatserver.http.api import Password
from chatserver.http.common import authenticate, read_json
from chatserver.i18n import gettext_noop as _
from chatserver.keys import CONTEXT
from chatserver.services import agents, audit, canned, second_factor
from chatserver.services.views import agent_view
from chatserver.settings import LANGUAGES
from chatserver.validation import Line, Payload, Words, query_text


class AgentPatch(Payload):
    role: Literal["admin", "agent"] | None = None
    disabled: bool | None = None


class PasswordIn(Payload):
    password: Password


class CannedIn(Payload):
    language: Literal["fi", "sv", "en"]
    shortcut: Annotated[Line, StringConstraints(min_length=1, max_length=41),
                        Field(json_schema_extra={"pattern": canned.SHORTCUT_INPUT})]
    text: Annotated[Words, StringConstraints(min_length=1, max_length=canned.MAX_TEXT)]


def _id(request: web.Request, name: str) -> int:
    raw = request.match_info[name]
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 10:  # not "²": int() refuses it
        raise ServiceError(Code.NOT_FOUND)
    return int(raw)


async def update_agent(request: web.Request) -> web.Response:
    caller = await authenticate(request, admin=True)
    body = await read_json(request, AgentPatch)
    agent = await agents.admin_update(request.app[CONTEXT], caller.agent,
                                     _id(request, "agent_id"), role=body.role,
                                     disabled=body.disabled)
    return web.json_response({"ok": True, "agent": agent_view(agent)})


async def reset_password(request: web.Request) -> web.Response:
    caller = await authenticate(request, admin=True)
    body = await read_json(request, PasswordIn)
    await agents.admin_reset_password(request.app[CONTEXT], caller.agent,
                                     _id(request, "agent_id"), body.password)
    return web.json_response({"ok": True})


async def reset_second_factor(request: web.Request) -> web.Response:
    """An agent lost their authenticator: their one-time codes are removed and their sessions
    end (audited); they set codes up again at the next login if the policy requires them."""
    caller = await authenticate(request, admin=True)
    agent_id = _id(request, "agent_id")
    ctx = request.app[CONTEXT]
    if agent_id not in {a.id for a in await agents.list_agents(ctx)}:
        raise ServiceError(Code.NOT_FOUND, _("No such agent."))
    await second_factor.remove(ctx, agent_id, actor=caller.agent)
    return web.json_response({"ok": True})


async def list_canned(request: web.Request) -> web.Response:
    await authenticate(request)
    language = request.query.get("language") or None
    if language is not None and language not in LANGUAGES:
        raise ServiceError(Code.INVALID_INPUT, _("Unknown language “{language}”."),
                           language=language[:10])
    items = await canned.list_responses(request.app[CONTEXT], language)
    return web.json_response({"ok": True, "canned_responses": items})


async def create_canned(request: web.Request) -> web.Response:
    caller = await authenticate(request, admin=True)
    body = await read_json(request, CannedIn)
    item = await canned.create(request.app[CONTEXT], caller.agent, body.language,
                               body.shortcut, body.text)
    return web.json_response({"ok": True, "canned_response": item}, status=201)


async def update_canned(request: web.Request) -> web.Response:
    caller = await authenticate(request, admin=True)
    body = await read_json(request, CannedIn)
    item = await canned.update(request.app[CONTEXT], caller.agent, _id(request, "canned_id"),
                               body.language, body.shortcut, body.text)
    return web.json_response({"ok": True, "canned_response": item})


async def delete_canned(request: web.Request) -> web.Response:
    caller = await authenticate(request, admin=True)
    await canned.delete(request.app[CONTEXT], caller.agent, _id(request, "canned_id"))
    return web.json_response({"ok": True})


async def list_audit(request: web.Request) -> web.Response:
    await authenticate(request, admin=True)
    query = request.query
    since = query.get("since") or None
    until = query.get("until") or None
    before = query.get("before") or None
    limit = query.get("limit", "100")
    if not (limit.isascii() and limit.isdigit()) or not 1 <= int(limit) <= 500:
        raise ServiceError(Code.INVALID_INPUT,
                           _("“{field}” must be a whole number from {low} to {high}."),
                           field="limit", low=1, high=500)
    if before is not None and (not (before.isascii() and before.isdigit())
                               or len(before) > 18):
        raise ServiceError(Code.INVALID_INPUT,
                           _("“{field}” must be a whole number from {low} to {high}."),
                           field="before", low=1, high=10**18)
    ctx = request.app[CONTEXT]
    events = await audit.search(
        ctx,
        actor=query_text(query.get("actor"), "actor", 40),
        action=query_text(query.get("action"), "action", 40),
        since=audit.parse_moment(since[:40], "since") if since else None,
        until=audit.parse_moment(until[:40], "until", end_of_day=True) if until else None,
        before=int(before) if before else None,
        limit=int(limit),
    )
    return web.json_response({"ok": True, "events": events,
                              "actions": await audit.actions(ctx)})


async def retention(request: web.Request) -> web.Response:
    """The retention periods in force (days), read-only: they come from the configuration."""
    await authenticate(request, admin=True)
    settings = request.app[CONTEXT].settings
    return web.json_response({
        "ok": True,
        "retention_days": settings.privacy.retention.model_dump(),
        "collected": {"user_agent": settings.privacy.collect_user_agent,
                      "page_url": settings.privacy.collect_page_url},
    })
