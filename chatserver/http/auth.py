"""Login and logout for agents: a session cookie backed by the agent_session table."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import StringConstraints

from chatserver.errors import Code, ServiceError
from chatserver.http import proxies
from chatserver.http.common import STAGE_REFUSALS, authenticate, check_origin, read_json
from chatserver.i18n import gettext_noop as _
from chatserver.keys import CONTEXT
from chatserver.realtime.agent import SESSION_COOKIE
from chatserver.services import agents, api_tokens, second_factor, sessions
from chatserver.services.tokens import csrf_token_for
from chatserver.services.views import agent_view
from chatserver.validation import Line, Payload, Secret


class LoginBody(Payload):
    email: Annotated[Line, StringConstraints(min_length=1, max_length=254)]
    password: Annotated[Secret, StringConstraints(min_length=1, max_length=1024)]


def client_address(request: web.Request) -> str:
    return proxies.request_address(request, request.app[CONTEXT].settings.trusted_proxies)


async def login(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    # Login CSRF: a form on another site cannot send application/json without a CORS preflight
    # (which this endpoint never allows), and a fetch from it carries its Origin.
    check_origin(request)
    body = await read_json(request, LoginBody)
    result = await agents.login(
        ctx, body.email, body.password, client_address(request),
        previous_token=request.cookies.get(SESSION_COOKIE),
        user_agent=request.headers.get("User-Agent"),
    )
    response = web.json_response(
        {"ok": True, "agent": agent_view(result.agent), "csrf_token": result.csrf_token,
         "stage": result.stage,
         "factors": await second_factor.factors(ctx, result.agent) if result.stage else []})
    set_session_cookie(request, response, result.token)
    return response


def set_session_cookie(request: web.Request, response: web.Response, token: str) -> None:
    settings = request.app[CONTEXT].settings
    response.set_cookie(
        SESSION_COOKIE, token, httponly=True, samesite="Lax", path="/",
        secure=settings.public_url.startswith("https://"),
        max_age=int(settings.auth.session_hours * 3600),
    )


ANY_STAGE = ("", *STAGE_REFUSALS)


async def logout(request: web.Request) -> web.Response:
    caller = await authenticate(request, stages=ANY_STAGE)
    if caller.session_token:
        await agents.logout(request.app[CONTEXT], caller.session_token)
    response = web.json_response({"ok": True})
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


async def me(request: web.Request) -> web.Response:
    caller = await authenticate(request, stages=ANY_STAGE)
    csrf = csrf_token_for(caller.session_token) if caller.session_token else None
    factors = (await second_factor.factors(request.app[CONTEXT], caller.agent)
               if caller.stage else [])
    return web.json_response({"ok": True, "agent": agent_view(caller.agent), "csrf_token": csrf,
                              "stage": caller.stage, "factors": factors})


# An agent's own sessions and API tokens (services/sessions.py, services/api_tokens.py).

async def list_sessions(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    found = await sessions.listing(request.app[CONTEXT], caller.agent, caller.session_token)
    return web.json_response({"ok": True, "sessions": found})


async def end_session(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    await sessions.end(request.app[CONTEXT], caller.agent, request.match_info["session_id"])
    return web.json_response({"ok": True})


async def logout_everywhere(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    await sessions.end_all(request.app[CONTEXT], caller.agent)
    response = web.json_response({"ok": True})
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


async def list_tokens(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    found = await api_tokens.listing(request.app[CONTEXT], caller.agent)
    return web.json_response({"ok": True, "tokens": found})


async def revoke_token(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    raw = request.match_info["token_id"]
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 10:  # not "²": int() refuses it
        raise ServiceError(Code.NOT_FOUND, _("No such token."))
    await api_tokens.revoke(request.app[CONTEXT], caller.agent, int(raw))
    return web.json_response({"ok": True})


# One-time codes: the login's second step, and setting them up (services/second_factor.py).

class CodeBody(Payload):
    code: Annotated[Line, StringConstraints(min_length=1, max_length=20)]


async def verify(request: web.Request) -> web.Response:
    caller = await authenticate(request, stages=ANY_STAGE)
    body = await read_json(request, CodeBody)  # its limits first, at any stage
    if caller.stage != "second_factor" or caller.session_token is None:
        raise ServiceError(Code.CONFLICT, _("No login step is waiting."))
    await second_factor.verify(request.app[CONTEXT], caller.agent, body.code,
                               caller.session_token, client_address(request))
    return web.json_response({"ok": True, "agent": agent_view(caller.agent), "stage": ""})


async def second_factor_status(request: web.Request) -> web.Response:
    caller = await authenticate(request, stages=("", "enrol"))
    found = await second_factor.status(request.app[CONTEXT], caller.agent)
    return web.json_response({"ok": True, **found})


async def second_factor_start(request: web.Request) -> web.Response:
    caller = await authenticate(request, stages=("", "enrol"))
    started = await second_factor.start(request.app[CONTEXT], caller.agent)
    return web.json_response({"ok": True, **started})


async def second_factor_confirm(request: web.Request) -> web.Response:
    caller = await authenticate(request, stages=("", "enrol"))
    body = await read_json(request, CodeBody)
    codes = await second_factor.confirm(request.app[CONTEXT], caller.agent, body.code,
                                        caller.session_token)
    return web.json_response({"ok": True, "recovery_codes": codes})


async def second_factor_remove(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    ctx = request.app[CONTEXT]
    if second_factor.required(ctx, caller.agent):
        raise ServiceError(Code.FORBIDDEN, _("Your organisation requires one-time codes."))
    await second_factor.remove(ctx, caller.agent.id or 0, actor=caller.agent)
    return web.json_response({"ok": True})
