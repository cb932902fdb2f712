"""CSRF on every cookie-authenticated unsafe REST call, login CSRF, the origin allowlist (CORS
and sockets) and the security headers of every kind of answer. See docs/security.md."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio

from chatserver.http.openapi import OPERATIONS, Operation
from chatserver.services import agents, api_tokens, canned, sessions
from tests.helpers import PASSWORD, Chat
from tests.mailserver import all_sent, until
from tests.security_world import (
    ADMIN,
    FOREIGN_ORIGIN,
    HOST_ORIGIN,
    World,
    assert_error,
    op_id,
    running_world,
)


@pytest.fixture(scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory, template_database: Path
                ) -> AsyncIterator[World]:
    async with running_world(tmp_path_factory, template_database) as built:
        yield built


# ------------------------------------------------------------------ CSRF

UNSAFE = [op for op in OPERATIONS if op.method != "get" and op.access != "public"]
FAQ_ENTRY = {"id": "hello", "en": {"questions": ["Hi"], "answer": "Hello!"}}
# A body each unsafe operation accepts, so that a refusal can only be the CSRF check's.
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "/api/v1/agents"): {"email": "new@example.fi", "name": "New",
                                 "password": "long enough pw"},
    ("patch", "/api/v1/agents/{agent_id}"): {"role": "admin"},
    ("post", "/api/v1/agents/{agent_id}/password"): {"password": "another long password"},
    ("post", "/api/v1/canned-responses"): {"language": "en", "shortcut": "hi", "text": "Hello!"},
    ("put", "/api/v1/canned-responses/{canned_id}"): {"language": "en", "shortcut": "hey",
                                                      "text": "Hey there!"},
    ("post", "/api/v1/offline-messages/{message_id}/handled"): {"handled": True},
    ("post", "/api/v1/offline-messages/{message_id}/reply"): {"text": "Here is our answer."},
    ("post", "/api/v1/dsar/export"): {"email": "someone@example.fi"},
    ("post", "/api/v1/dsar/erase"): {"email": "someone@example.fi"},
    ("put", "/api/v1/business-hours"): {"weekly": [{"weekday": 0, "opens": "09:00",
                                                   "closes": "17:00"}]},
    ("post", "/api/v1/auth/verify"): {"code": "123456"},
    ("post", "/api/v1/auth/second-factor/confirm"): {"code": "123456"},
    ("post", "/api/v1/auth/passkeys"): {"handle": "0" * 32, "credential": {}},
    ("post", "/api/v1/auth/verify/passkey"): {"handle": "0" * 32, "credential": {}},
    ("put", "/api/v1/faq"): {"entries": [FAQ_ENTRY]},
    ("post", "/api/v1/faq/try"): {"entries": [FAQ_ENTRY], "language": "en", "question": "Hi"},
    ("post", "/api/v1/faq/evaluate"): {"entries": [FAQ_ENTRY], "labelled": []},
    ("post", "/api/v1/faq/review/{message_id}"): {"action": "dismiss"},
}
# Steps of a login or an enrolment, and passkeys: they succeed only at that step with a fresh
# code (tests/test_second_factor.py) or with an authenticator's signature
# (tests/test_console_account.py); here only their CSRF refusals are checked.
STEP_ONLY = {("post", "/api/v1/auth/verify"), ("post", "/api/v1/auth/second-factor/confirm"),
             ("post", "/api/v1/auth/passkeys"), ("post", "/api/v1/auth/verify/passkey"),
             ("post", "/api/v1/auth/verify/passkey-options"),
             ("delete", "/api/v1/auth/passkeys/{passkey_id}"),
             # A question of the assistant's review list exists only with the bot on; that it
             # succeeds is tested in tests/test_faq_editor.py.
             ("post", "/api/v1/faq/review/{message_id}")}


def test_every_unsafe_operation_with_a_body_has_a_sample() -> None:
    assert {(op.method, op.path) for op in UNSAFE if op.body is not None} == set(BODIES)


# What background workers change on their own: presence heartbeats and the outbox's delivery
# state; and the last use of a session or token, noted when it authenticates (even a request
# refused afterwards). Of these tables only the listed columns are compared.
WORKER_OWNED = {"agent_connection": "1", "outbox_email": "id, kind, to_address, body_text",
                "agent_session": "token_hash, agent_id, csrf_token, created_at, expires_at, "
                                 "handle, client",
                "api_token": "id, token_hash, agent_id, label, created_at, scope, expires_at"}


def database_dump(chat: Chat) -> dict[str, list[Any]]:
    """Every row of every table, read from the SQLite file (and its WAL) directly."""
    path = chat.settings.database_url.split("///", 1)[1]
    with sqlite3.connect(path) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: sorted(map(repr, db.execute(
            f'SELECT {WORKER_OWNED.get(t, "*")} FROM "{t}"'))) for t in tables}  # noqa: S608


async def _targets(chat: Chat) -> dict[str, str]:
    """The objects the unsafe operations act on."""
    admin = await agents.get_by_email(chat.ctx, ADMIN)
    target = await chat.add_agent("target@example.fi", "Target")
    response = await canned.create(chat.ctx, admin, "en", "bye", "Goodbye!")
    visitor = await chat.visitor("en")
    left = await visitor.call("offline_message", {"name": "Ville", "email": "v@example.fi",
                                                  "text": "Please call me back."})
    assert left["ok"], left
    # The emails it queued are sent (and forgotten) in the background: let that finish first.
    await until(lambda: all_sent(chat))
    # Another session and another API token of the admin's, to end and to revoke.
    await agents.login(chat.ctx, ADMIN, PASSWORD, "127.0.0.1")
    (session, *_rest) = await sessions.listing(chat.ctx, admin, None)
    await api_tokens.create(chat.ctx, admin.id or 0, "to revoke")
    (token, *_rest) = await api_tokens.listing(chat.ctx, admin)
    return {"{agent_id}": str(target.id), "{canned_id}": str(response["id"]),
            "{message_id}": left["id"], "{session_id}": session["id"],
            "{token_id}": str(token["id"]), "{passkey_id}": "999999"}


async def _login(chat: Chat) -> tuple[str, str]:
    async with aiohttp.ClientSession() as http, http.post(
        f"{chat.url}/api/v1/auth/login", json={"email": ADMIN, "password": PASSWORD}
    ) as response:
        return response.cookies["chatserver_session"].value, (await response.json())["csrf_token"]


@pytest.mark.parametrize("via", ["cookie", "bearer"])
@pytest.mark.parametrize("op", UNSAFE, ids=op_id)
async def test_csrf_on_every_cookie_authenticated_unsafe_call(chat: Chat, op: Operation,
                                                              via: str) -> None:
    """Refused without the session's X-CSRF-Token (missing, wrong, another session's, or the
    right one sent from a foreign Origin), nothing changes; then the same call succeeds with the
    token, or with a bearer token and no CSRF token at all."""
    admin = await chat.add_agent(ADMIN, "Aada", role="admin")
    targets = await _targets(chat)
    path = op.path
    for name, value in targets.items():
        path = path.replace(name, value)
    url, body = chat.url + path, BODIES.get((op.method, op.path))
    cookie, csrf = await _login(chat)
    _other_cookie, other_csrf = await _login(chat)
    session = {"Cookie": f"chatserver_session={cookie}"}
    before = database_dump(chat)
    async with aiohttp.ClientSession() as http:
        for extra in ({}, {"X-CSRF-Token": "x" * 43}, {"X-CSRF-Token": other_csrf},
                      {"X-CSRF-Token": csrf, "Origin": FOREIGN_ORIGIN}):
            async with http.request(op.method.upper(), url, json=body,
                                    headers={**session, **extra}) as response:
                assert_error(response.status, await response.json(), (403, "forbidden"))
        assert database_dump(chat) == before
        if (op.method, op.path) in STEP_ONLY:
            return
        if via == "cookie":
            headers = {**session, "X-CSRF-Token": csrf, "Origin": chat.settings.own_origin}
        else:
            token = await agents.create_api_token(chat.ctx, admin.id, "csrf test")
            headers = {"Authorization": f"Bearer {token}"}
        async with http.request(op.method.upper(), url, json=body, headers=headers) as response:
            assert response.status == op.success, await response.text()


async def test_login_csrf_needs_json_and_our_origin(chat: Chat) -> None:
    """A cross-site form can post only form encodings or text/plain (refused: the body must be
    application/json), and a cross-site fetch carries its Origin (refused). Same-origin and
    non-browser clients (no Origin) log in."""
    await chat.add_agent(ADMIN, "Aada", role="admin")
    url = f"{chat.url}/api/v1/auth/login"
    credentials = {"email": ADMIN, "password": PASSWORD}
    async with aiohttp.ClientSession() as http:
        async with http.post(url, data=f'{{"email":"{ADMIN}","password":"{PASSWORD}"}}',
                             headers={"Content-Type": "text/plain"}) as response:
            assert_error(response.status, await response.json(), (400, "invalid_input"))
            assert "chatserver_session" not in response.cookies
        async with http.post(url, data=credentials) as response:  # a urlencoded form
            assert_error(response.status, await response.json(), (400, "invalid_input"))
        async with http.post(url, json=credentials, headers={"Origin": FOREIGN_ORIGIN}) as response:
            assert_error(response.status, await response.json(), (403, "forbidden"))
            assert "chatserver_session" not in response.cookies
        async with http.post(url, json=credentials,
                             headers={"Origin": chat.settings.own_origin}) as response:
            assert response.status == 200 and "chatserver_session" in response.cookies


# ------------------------------------------------------------------ origins and CORS

CORS_PUBLIC = {"/api/v1/widget/config"}  # the only endpoint a host page's script reads


@pytest.mark.parametrize("origin", [HOST_ORIGIN, FOREIGN_ORIGIN])
@pytest.mark.parametrize("op", OPERATIONS, ids=op_id)
async def test_cors_allow_headers_only_on_public_widget_endpoints(
        world: World, op: Operation, origin: str) -> None:
    """Called by an admin (so the answer is real) from a host site: only the widget's public
    endpoints name the listed origin; nothing ever allows credentials."""
    headers = {**await world.headers("admin_bearer"), "Origin": origin}
    async with aiohttp.ClientSession() as http, http.request(
        op.method.upper(), world.url + world.path(op), headers=headers,
        json={} if op.body else None,
    ) as response:
        allowed = response.headers.get("Access-Control-Allow-Origin")
        assert "Access-Control-Allow-Credentials" not in response.headers
    if op.path in CORS_PUBLIC and origin == HOST_ORIGIN:
        assert allowed == HOST_ORIGIN
    else:
        assert allowed is None


async def test_cors_preflight(world: World) -> None:
    request = {"Access-Control-Request-Method": "GET",
               "Access-Control-Request-Headers": "content-type"}
    async with aiohttp.ClientSession() as http:
        async with http.options(f"{world.url}/api/v1/widget/config",
                                headers={**request, "Origin": HOST_ORIGIN}) as response:
            assert response.status == 204
            assert response.headers["Access-Control-Allow-Origin"] == HOST_ORIGIN
            assert response.headers["Access-Control-Allow-Methods"] == "GET"
            assert "Access-Control-Allow-Credentials" not in response.headers
        async with http.options(f"{world.url}/api/v1/widget/config",
                                headers={**request, "Origin": FOREIGN_ORIGIN}) as response:
            assert "Access-Control-Allow-Origin" not in response.headers
        for path in ("/api/v1/conversations", "/api/v1/auth/login", "/api/v1/agents"):
            async with http.options(world.url + path, headers={
                "Origin": HOST_ORIGIN, "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, x-csrf-token",
            }) as response:
                assert response.status == 405, path
                assert "Access-Control-Allow-Origin" not in response.headers
                assert (await response.json())["error"]["code"] == "invalid_input"


async def test_socket_origins_listed_host_may_open_visitor_but_not_agent(world: World) -> None:
    version = await world.chat.notice_version()
    visitor = socketio.AsyncClient(reconnection=False)
    await visitor.connect(world.url, namespaces=["/visitor"], transports=["websocket"],
                          headers={"Origin": HOST_ORIGIN}, auth={"notice_version": version},
                          wait_timeout=5)
    await visitor.disconnect()
    cookie, _csrf = await world.session_cookie(ADMIN)
    agent = socketio.AsyncClient(reconnection=False)
    errors: list[Any] = []
    agent.on("connect_error", errors.append, namespace="/agent")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await agent.connect(world.url, namespaces=["/agent"], transports=["websocket"],
                            headers={"Origin": HOST_ORIGIN,
                                     "Cookie": f"chatserver_session={cookie}"}, wait_timeout=5)
    assert errors and errors[0]["data"]["code"] == "forbidden"


@pytest.mark.parametrize("origin,allowed", [(HOST_ORIGIN, True), (FOREIGN_ORIGIN, False)])
async def test_socket_polling_handshake_cors(world: World, origin: str, allowed: bool) -> None:
    async with aiohttp.ClientSession() as http, http.get(
        f"{world.url}/socket.io/?EIO=4&transport=polling", headers={"Origin": origin}
    ) as response:
        if allowed:
            assert response.status == 200
            assert response.headers["Access-Control-Allow-Origin"] == origin
        else:
            assert response.status == 400
            assert "Access-Control-Allow-Origin" not in response.headers


# ------------------------------------------------------------------ security headers

# (name, method, path, caller, body) → every class of answer: HTML pages, JSON, errors, assets.
ANSWERS = [
    ("html-demo", "GET", "/", "anonymous", None),
    ("html-privacy", "GET", "/privacy?lang=fi", "anonymous", None),
    ("html-console", "GET", "/console", "anonymous", None),
    ("html-console-admin", "GET", "/console/admin/agents", "admin_cookie", None),
    ("html-console-admin-403", "GET", "/console/admin/agents", "agent_cookie", None),
    ("json-public", "GET", "/api/v1/widget/config", "anonymous", None),
    ("json-authenticated", "GET", "/api/v1/conversations", "agent_bearer", None),
    ("error-401", "GET", "/api/v1/conversations", "anonymous", None),
    ("error-403", "GET", "/api/v1/agents", "agent_bearer", None),
    ("error-404-api", "GET", "/api/v1/no-such-thing", "anonymous", None),
    ("error-404-page", "GET", "/no-such-page", "anonymous", None),
    ("error-405", "DELETE", "/api/v1/auth/login", "anonymous", None),
    ("error-413", "POST", "/api/v1/auth/login", "anonymous", b"x" * 70_000),
    ("static-widget-js", "GET", "/widget.js", "anonymous", None),
    ("static-console-js", "GET", "/console.js", "anonymous", None),
    ("metrics", "GET", "/metrics", "anonymous", None),
    ("healthz", "GET", "/healthz", "anonymous", None),
]
FRAMELESS = {"html-privacy", "html-console", "html-console-admin", "html-console-admin-403"}


@pytest.mark.parametrize("name,method,path,caller,body", ANSWERS, ids=[a[0] for a in ANSWERS])
async def test_security_headers_on_every_kind_of_answer(
        world: World, name: str, method: str, path: str, caller: str, body: bytes | None
) -> None:
    headers = await world.headers(caller)
    if body is not None:
        headers["Content-Type"] = "application/json"
    async with aiohttp.ClientSession() as http, http.request(
        method, world.url + path, headers=headers, data=body
    ) as response:
        await response.read()
    if name.startswith("static") and response.status == 404:
        pytest.skip("the bundles are not built (make widget)")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    if path.startswith("/api/"):
        assert response.headers["Cache-Control"] == "no-store"
    if name.startswith("html"):
        csp = response.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "base-uri 'none'" in csp
        assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    if name in FRAMELESS:
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    if name.startswith("error-4"):
        assert response.status == int(name[6:9])


async def test_https_deployment_gets_hsts_and_secure_cookies(chat_factory: Any) -> None:
    chat = await chat_factory(public_url="https://chat.example.fi")
    await chat.add_agent(ADMIN, "Aada")
    async with aiohttp.ClientSession() as http, http.post(
        f"{chat.url}/api/v1/auth/login", json={"email": ADMIN, "password": PASSWORD}
    ) as response:
        cookie = response.headers["Set-Cookie"]
        assert response.status == 200
        assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


async def test_plain_http_deployment_sends_no_hsts(chat: Chat) -> None:
    async with aiohttp.ClientSession() as http, http.get(f"{chat.url}/healthz") as response:
        assert "Strict-Transport-Security" not in response.headers
