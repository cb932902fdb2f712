"""Passkey ceremonies over REST (services/passkeys.py): register and remove one's own, log in
with one alone, or use one as the login's second step. The browser side is the console's
(widget/console/passkeys.js), through the standard JSON forms of WebAuthn's options and
credentials."""

from __future__ import annotations

from typing import Annotated, Any

from aiohttp import web
from pydantic import StringConstraints

from chatserver.errors import Code, ServiceError
from chatserver.http.auth import ANY_STAGE, client_address, set_session_cookie
from chatserver.http.common import authenticate, check_origin, read_json
from chatserver.i18n import gettext_noop as _
from chatserver.keys import CONTEXT
from chatserver.realtime.agent import SESSION_COOKIE
from chatserver.services import agents, passkeys
from chatserver.services.views import agent_view
from chatserver.validation import Line, Payload

Handle = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]


class PasskeyRegistration(Payload):
    handle: Handle
    name: Annotated[Line, StringConstraints(max_length=100)] = ""
    credential: dict[str, Any]


class PasskeyAssertion(Payload):
    handle: Handle
    credential: dict[str, Any]


async def registration_options(request: web.Request) -> web.Response:
    caller = await authenticate(request, stages=("", "enrol"))
    options = await passkeys.registration_options(request.app[CONTEXT], caller.agent)
    return web.json_response({"ok": True, **options})


async def register(request: web.Request) -> web.Response:
    caller = await authenticate(request, stages=("", "enrol"))
    body = await read_json(request, PasskeyRegistration)
    made = await passkeys.register(request.app[CONTEXT], caller.agent, body.handle, body.name,
                                   body.credential, caller.session_token)
    return web.json_response({"ok": True, "passkey": made})


async def list_passkeys(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    return web.json_response(
        {"ok": True, "passkeys": await passkeys.listing(request.app[CONTEXT], caller.agent)})


async def remove(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    raw = request.match_info["passkey_id"]
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 10:
        raise ServiceError(Code.NOT_FOUND, _("No such passkey."))
    await passkeys.remove(request.app[CONTEXT], caller.agent, int(raw))
    return web.json_response({"ok": True})


async def login_options(request: web.Request) -> web.Response:
    check_origin(request)
    options = await passkeys.authentication_options(request.app[CONTEXT], None)
    return web.json_response({"ok": True, **options})


async def login(request: web.Request) -> web.Response:
    """A login with a passkey alone: a new session, as a password login makes."""
    ctx = request.app[CONTEXT]
    check_origin(request)
    body = await read_json(request, PasskeyAssertion)
    agent = await passkeys.log_in(ctx, body.handle, body.credential, client_address(request))
    result = await agents.passkey_login(ctx, agent, request.cookies.get(SESSION_COOKIE),
                                        request.headers.get("User-Agent"))
    response = web.json_response({"ok": True, "agent": agent_view(agent),
                                  "csrf_token": result.csrf_token, "stage": ""})
    set_session_cookie(request, response, result.token)
    return response


async def second_step_options(request: web.Request) -> web.Response:
    caller = await authenticate(request, stages=ANY_STAGE)
    if caller.stage != "second_factor":
        raise ServiceError(Code.CONFLICT, _("No login step is waiting."))
    options = await passkeys.authentication_options(request.app[CONTEXT], caller.agent)
    return web.json_response({"ok": True, **options})


async def second_step(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    caller = await authenticate(request, stages=ANY_STAGE)
    body = await read_json(request, PasskeyAssertion)
    if caller.stage != "second_factor" or caller.session_token is None:
        raise ServiceError(Code.CONFLICT, _("No login step is waiting."))
    await passkeys.second_step(ctx, caller.agent, body.handle, body.credential,
                               caller.session_token, client_address(request))
    return web.json_response({"ok": True, "agent": agent_view(caller.agent), "stage": ""})
