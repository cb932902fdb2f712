"""Middlewares and helpers every HTTP handler uses: error shape, security headers, auth."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web

from chatserver.db.engine import is_busy
from chatserver.db.models import Agent
from chatserver.errors import Code, ServiceError
from chatserver.i18n import gettext_noop as _
from chatserver.keys import CONTEXT
from chatserver.realtime.agent import SESSION_COOKIE
from chatserver.services import agents, api_tokens
from chatserver.services.tokens import csrf_token_for, same
from chatserver.validation import Payload, parse

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
M = TypeVar("M", bound=Payload)
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
AGENT = web.RequestKey("agent", Agent)


def request_language(request: web.Request) -> str:
    translator = request.app[CONTEXT].translator
    return translator.language(
        request.query.get("lang") or request.headers.get("Accept-Language")
    )


def error_response(request: web.Request, error: ServiceError) -> web.Response:
    ctx = request.app[CONTEXT]
    agent = request.get(AGENT)
    language = agent.language if agent is not None else request_language(request)
    return web.json_response({"ok": False, "error": error.body(ctx.translator, language)},
                             status=error.http_status)


# For an HTML answer that did not set its own policy (aiohttp's error pages, say): nothing loads.
FALLBACK_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"


def _add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if request.path.startswith("/api/"):
        response.headers.setdefault("Cache-Control", "no-store")
    if response.content_type == "text/html":
        response.headers.setdefault("Content-Security-Policy", FALLBACK_CSP)
    if request.app[CONTEXT].settings.public_url.startswith("https://"):
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")


@web.middleware
async def answer_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every HTTP answer: an error in the contract's shape, then the security headers on
    whatever is answered, errors included (docs/security.md).

    One middleware, not two: the request of a WebSocket stays inside the middlewares for the
    connection's whole life, and each kept a suspended coroutine per connection (~0.3 KB of an
    idle visitor's 35, docs/performance.md)."""
    try:
        response = await handler(request)
    except ServiceError as error:
        response = error_response(request, error)
    except web.HTTPRequestEntityTooLarge:
        response = error_response(request, ServiceError(Code.TOO_LARGE))
    except web.HTTPException as exc:
        if not (request.path.startswith("/api/") and exc.status in (404, 405)):
            _add_security_headers(request, exc)  # aiohttp's own pages, raised past us
            raise
        code = Code.NOT_FOUND if exc.status == 404 else Code.INVALID_INPUT
        message = None if exc.status == 404 else _("This method is not allowed here.")
        response = error_response(request, ServiceError(code, message))
        response.set_status(exc.status)
        if "Allow" in exc.headers:  # RFC 9110: a 405 names the methods that are allowed
            response.headers["Allow"] = exc.headers["Allow"]
    except ConnectionError:
        # The client went away mid-answer (a WebSocket handshake given up, say): nobody to
        # answer and nothing wrong here.
        log.debug("client gone: %s %s", request.method, request.path)
        raise
    except Exception as error:
        if is_busy(error):  # another process held SQLite's write lock: nothing stored
            log.warning("request failed: %s %s: the database stayed locked", request.method,
                        request.path)
        else:
            log.exception("request failed: %s %s", request.method, request.path)
        response = error_response(request, ServiceError(Code.UNAVAILABLE))
    _add_security_headers(request, response)
    return response


def check_origin(request: web.Request) -> None:
    """A browser's cross-site POST carries its page's Origin: refuse any but our own (login CSRF
    and defence in depth for cookie calls). Clients that send no Origin are not browsers."""
    origin = request.headers.get("Origin")
    if origin is not None and origin.rstrip("/") != request.app[CONTEXT].settings.own_origin:
        raise ServiceError(Code.FORBIDDEN, _("Requests from another site are not accepted here."))


async def read_json(request: web.Request, model: type[M]) -> M:
    if request.content_type != "application/json":
        raise ServiceError(Code.INVALID_INPUT, _("Send the body as application/json."))
    try:
        data: Any = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ServiceError(Code.INVALID_INPUT, _("The body is not valid JSON.")) from None
    return parse(model, data)


@dataclass(frozen=True)
class Caller:
    agent: Agent
    via_cookie: bool
    session_token: str | None
    read_only: bool = False  # a `read` API token (services/api_tokens.py)
    stage: str = ""  # a session at a login step (services/second_factor.py)


# What a session at each login stage is told when it asks for anything else.
STAGE_REFUSALS = {
    "second_factor": _("Enter the one-time code from your authenticator app first."),
    "enrol": _("Set up one-time codes first: your organisation requires them."),
}


async def authenticate(request: web.Request, *, admin: bool = False,
                       stages: tuple[str, ...] = ("",)) -> Caller:
    """The agent behind a bearer API token or a session cookie; cookie callers must send the
    session's CSRF token in X-CSRF-Token on every state-changing request. A session at a login
    stage not in `stages` (services/second_factor.py) is refused `forbidden`."""
    ctx = request.app[CONTEXT]
    header = request.headers.get("Authorization", "")
    caller: Caller | None = None
    if header.lower().startswith("bearer "):
        grant = await api_tokens.check(ctx, header[7:].strip())
        if grant is not None:
            if grant.read_only and request.method in UNSAFE_METHODS:
                raise ServiceError(Code.FORBIDDEN, _("This API token may only read."))
            caller = Caller(grant.agent, via_cookie=False, session_token=None,
                            read_only=grant.read_only)
    elif (token := request.cookies.get(SESSION_COOKIE)) is not None:
        found = await agents.agent_for_session(ctx, token)
        if found is not None:
            agent = found[0]
            if request.method in UNSAFE_METHODS:
                check_origin(request)
                if not same(request.headers.get("X-CSRF-Token", ""), csrf_token_for(token)):
                    raise ServiceError(Code.FORBIDDEN, _("The CSRF token is missing or wrong. "
                                                         "Reload the page."))
            caller = Caller(agent, via_cookie=True, session_token=token, stage=found[1].stage)
    if caller is None:
        raise ServiceError(Code.UNAUTHORIZED)
    request[AGENT] = caller.agent  # errors from here on are in the agent's language
    if caller.stage not in stages:
        if not caller.stage:  # logged in already: no login step is waiting
            raise ServiceError(Code.CONFLICT, _("No login step is waiting."))
        raise ServiceError(Code.FORBIDDEN, STAGE_REFUSALS[caller.stage])
    if admin and caller.agent.role != "admin":
        raise ServiceError(Code.FORBIDDEN, _("Only administrators can do this."))
    return caller
