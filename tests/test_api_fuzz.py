"""Schemathesis against the REST API's own OpenAPI document (/api/v1/openapi.json), as an agent
and as an admin (bearer API tokens), on a real server on a real port.

Schemathesis calls are synchronous (requests), so the server runs in a thread with its own event
loop. Every operation is fuzzed as an admin, and as an agent where agents may use it (the admin
operations must refuse the agent with 403); every check Schemathesis has must pass: no server
error, a declared status code, a body that matches the declared schema, invalid data rejected
(400, or 413 for oversized values), valid data accepted, no answer without a valid token.
Bounded and derandomised for CI; see docs/protocol.md, "Fuzzing the REST API".
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import threading
from collections.abc import Coroutine, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest
import requests
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from chatserver.app import create_app
from chatserver.db.models import AgentSession
from chatserver.http import openapi
from chatserver.keys import CONTEXT
from chatserver.services import agents, api_tokens, canned
from chatserver.services.tokens import new_token, token_hash
from tests.helpers import PASSWORD, Client, free_port, make_settings

T = TypeVar("T")
# Generated cases per operation and role (the schema's examples and the coverage phase come on
# top). CI keeps the default; `API_FUZZ_EXAMPLES=500 pytest tests/test_api_fuzz.py` digs deeper.
MAX_EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "20"))
ROLES = ("agent", "admin")

# 413 is how this API rejects an oversized value (code `too_large`): a rejection like 400.
REJECTED = ["400", "401", "403", "404", "405", "409", "413", "415", "422", "429"]
config = schemathesis.Config.from_dict({
    "seed": 20261122,
    "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True},
    "checks": {"negative_data_rejection": {"expected-statuses": REJECTED}},
})
schema = schemathesis.openapi.from_dict(openapi.document(), config=config)
# For the agent's refusals only the generated phase: every input meets the same 403.
refusals = schemathesis.openapi.from_dict(openapi.document(), config=schemathesis.Config.from_dict({
    "seed": 20261122, "generation": {"deterministic": True},
    "phases": {"examples": {"enabled": False}, "coverage": {"enabled": False}},
}))
PLACEHOLDER = "Bearer role-token"


@refusals.auth()
@schema.auth()
class RoleToken:
    """Marks the bearer token as configured auth rather than generated data, so Schemathesis's
    `ignored_auth` check replays each protected call without a token and with a wrong one and
    expects a 401. Cases are partly built at collection time, before the server exists, so the
    header holds a placeholder here and the test puts the role's real token in."""

    def get(self, case: Any, context: Any) -> str:
        return PLACEHOLDER.removeprefix("Bearer ")

    def set(self, case: Any, data: str, context: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


class ServerThread:
    """The real app on a real port, served by its own event loop in a background thread."""

    def __init__(self, settings: Any) -> None:
        self.app = create_app(settings)
        self.url = f"http://127.0.0.1:{settings.port}"
        self.port = settings.port
        self.loop = asyncio.new_event_loop()
        self.runner = web.AppRunner(self.app)
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    @property
    def ctx(self) -> Any:
        return self.app[CONTEXT]

    def start(self) -> None:
        self.thread.start()
        self.run(self._start())

    async def _start(self) -> None:
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(30)

    def stop(self) -> None:
        self.run(self.runner.cleanup())
        self.run(self._cancel_leftovers())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    @staticmethod
    async def _cancel_leftovers() -> None:
        """The socket.io client's ping task and the like, so the loop closes cleanly."""
        current = asyncio.current_task()
        leftovers = [task for task in asyncio.all_tasks() if task is not current]
        for task in leftovers:
            task.cancel()
        await asyncio.gather(*leftovers, return_exceptions=True)


class Fixture:
    """The server plus what the run needs: a token per role and ids that exist."""

    def __init__(self, server: ServerThread) -> None:
        self.server = server
        self.tokens: dict[str, str] = {}
        self.ids: dict[str, int] = {}
        self.known: dict[str, str] = {}
        self.token_ids: set[str] = set()  # the tokens the run calls with: never revoked

    async def seed(self) -> None:
        ctx = self.server.ctx
        # The admin reads errors in Swedish and the agent in Finnish: both catalogs get used.
        for role, email, language in (("admin", "ada@example.com", "sv"),
                                      ("agent", "aino@example.com", "fi"),
                                      ("other", "otto@example.com", "en")):
            agent = await agents.create_agent(ctx, email, role.title(), PASSWORD,
                                              "admin" if role == "admin" else "agent", language)
            self.ids[role] = agent.id or 0
            self.tokens[role] = await agents.create_api_token(ctx, agent.id or 0, "fuzz")
            self.token_ids |= {str(t["id"]) for t in await api_tokens.listing(ctx, agent)}
        async with aiohttp.ClientSession() as http, http.get(
            f"{self.server.url}/api/v1/widget/config"
        ) as response:
            version = (await response.json())["notice"]["version"]
        visitor = Client("/visitor")
        await visitor.connect(self.server.url, auth={"notice_version": version, "lang": "fi"})
        await visitor.next("welcome")
        opened = await visitor.call("message", {"client_id": "1", "text": "Missä tilaukseni on?"})
        left = await visitor.call("offline_message", {
            "name": "Vera", "email": "vera@example.com", "text": "Soittakaa minulle."})
        await visitor.sio.disconnect()
        self.known = {"conversation_id": opened["conversation"]["id"], "message_id": left["id"],
                      "agent_id": str(self.ids["other"])}
        await self.restore()

    async def restore(self) -> None:
        """Put back what a test may have changed: the canned response (deleted or renamed) and
        the other agent (disabled, promoted); then check that both roles are intact."""
        ctx = self.server.ctx
        admin = await agents.get_by_email(ctx, "ada@example.com")
        for item in await canned.list_responses(ctx):
            await canned.delete(ctx, admin, item["id"])
        made = await canned.create(ctx, admin, "fi", "hei", "Hei! Miten voin auttaa?")
        self.known["canned_id"] = str(made["id"])
        await agents.set_disabled(ctx, self.ids["other"], False)
        await agents.set_role(ctx, self.ids["other"], "agent")
        for role in ROLES:
            grant = await api_tokens.check(ctx, self.tokens[role])
            assert grant is not None and grant.agent.role == role, f"the {role} lost their access"
        # An admin's session and token that a case may end or revoke, made again each time.
        async with ctx.db.begin() as session:  # not a login: the fuzzing is throttled by now
            spare = AgentSession(token_hash=token_hash(new_token()), agent_id=admin.id or 0,
                                 csrf_token="-", expires_at=ctx.clock() + timedelta(hours=1))
            session.add(spare)
        self.known["session_id"] = spare.handle
        await api_tokens.create(ctx, admin.id or 0, "may be revoked")
        self.known["token_id"] = str((await api_tokens.listing(ctx, admin))[0]["id"])
        self.known["passkey_id"] = "999999"  # none is registered: a browser would be needed


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, template_database: Path) -> Iterator[Fixture]:
    data_dir = tmp_path_factory.mktemp("api-fuzz")
    shutil.copy(template_database, data_dir / "chatserver.db")
    server = ServerThread(make_settings(data_dir, free_port()))
    server.start()
    fixture = Fixture(server)
    try:
        server.run(fixture.seed())
        yield fixture
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def restored(api: Fixture) -> Iterator[None]:
    yield
    api.server.run(api.restore())


_turn = itertools.count()


def _prepare(case: Any, role: str, api: Fixture) -> bool:
    """Real ids in most valid cases, the role's real token where Schemathesis put the
    configured one; says whether the request carries that token."""
    meta = case.meta
    if meta is not None and meta.generation.mode.is_positive and case.path_parameters:
        # Two valid cases in three use ids that exist, so handlers run past their 404s.
        if next(_turn) % 3:
            for name in case.path_parameters:
                case.path_parameters[name] = api.known[name]
    if case.path_parameters.get("agent_id", "").lstrip("0") == str(api.ids["agent"]):
        # The admin may disable or demote any other account, but not the one this run tests
        # the agent role with (an admin's own account is the service's to protect).
        case.path_parameters["agent_id"] = api.known["agent_id"]
    if meta is not None and meta.generation.mode.is_positive and isinstance(case.body, dict) \
            and "password" in case.body:
        # How guessable a password is cannot be said in JSON Schema (services/passwords.py,
        # tested in test_passwords.py): valid cases send one a person could choose.
        case.body["password"] = "violet kettle Rovaniemi harbour"
    if case.path_parameters.get("token_id", "").lstrip("0") in api.token_ids:
        case.path_parameters["token_id"] = api.known["token_id"]
    if case.headers.get("Authorization") != PLACEHOLDER:
        return False  # no token, or a generated (wrong) one
    case.headers["Authorization"] = f"Bearer {api.tokens[role]}"
    return True


ADMIN_ONLY = {(op.method.upper(), op.path) for op in openapi.OPERATIONS if op.access == "admin"}


def _admin_only(ctx: Any) -> bool:
    return (ctx.operation.method.upper(), ctx.operation.path) in ADMIN_ONLY


FUZZ = settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))


# A one-time code is schema-valid and still wrong unless it is the code of this moment for a
# secret the fuzzing does not know (tests/test_second_factor.py); a passkey credential unless an
# authenticator signed it (tests/test_console_account.py).
CODE_STEPS = {"/api/v1/auth/verify", "/api/v1/auth/second-factor/confirm",
              "/api/v1/auth/passkeys", "/api/v1/auth/passkey-login",
              "/api/v1/auth/verify/passkey"}


# The FAQ's own checks (an answer without HTML, a title in every language of an entry or in
# none, unique ids, no personal data in a copied question) cannot be said in JSON Schema; they
# are tested in tests/test_faq_editor.py.
FAQ_CHECKS = {"/api/v1/faq", "/api/v1/faq/try", "/api/v1/faq/evaluate",
              "/api/v1/faq/review/{message_id}"}


def _excluded(case: Any) -> list[Any]:
    path = case.operation.path
    return [positive_data_acceptance] if path in CODE_STEPS | FAQ_CHECKS else []


@schema.parametrize()
@FUZZ
def test_admin_fuzz(case: Any, api: Fixture) -> None:
    """Every operation as an admin."""
    _prepare(case, "admin", api)
    case.call_and_validate(base_url=api.server.url, excluded_checks=_excluded(case))


@schema.exclude(func=_admin_only).parametrize()
@FUZZ
def test_agent_fuzz(case: Any, api: Fixture) -> None:
    """Every operation an agent may use, as an agent."""
    _prepare(case, "agent", api)
    case.call_and_validate(base_url=api.server.url, excluded_checks=_excluded(case))


@refusals.include(func=_admin_only).parametrize()
@settings(FUZZ, max_examples=3)
def test_agent_refused_admin_operations(case: Any, api: Fixture) -> None:
    """The admin operations refuse an agent's valid token with 403, whatever the input."""
    authenticated = _prepare(case, "agent", api)
    response = case.call_and_validate(base_url=api.server.url)
    if authenticated and case.method == case.operation.method.upper():
        assert response.status_code == 403, response.text
        assert response.json()["error"]["code"] == "forbidden"


# One admin call per operation on a record that exists, with a valid body: each must succeed
# and match its declared response (the fuzzing above mostly meets refusals).
ON_RECORDS = [
    ("GET", "/api/v1/conversations/{conversation_id}", None),
    ("PATCH", "/api/v1/agents/{agent_id}", {"role": "admin", "disabled": True}),
    ("POST", "/api/v1/agents/{agent_id}/password", {"password": "a new long password"}),
    ("PUT", "/api/v1/canned-responses/{canned_id}",
     {"language": "sv", "shortcut": " /Hej ", "text": "Hej! Hur kan jag hjälpa?"}),
    ("DELETE", "/api/v1/canned-responses/{canned_id}", None),
    ("POST", "/api/v1/offline-messages/{message_id}/handled", {"handled": False}),
    ("POST", "/api/v1/offline-messages/{message_id}/reply", {"text": "Soitamme huomenna."}),
]


@pytest.mark.parametrize(("method", "path", "body"), ON_RECORDS,
                         ids=[f"{m} {p}" for m, p, _ in ON_RECORDS])
def test_operations_on_existing_records_succeed(method: str, path: str, body: Any,
                                                api: Fixture) -> None:
    operation = schema[path][method]
    names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
    kwargs: dict[str, Any] = {"body": body} if body is not None else {}
    case = operation.Case(path_parameters={name: api.known[name] for name in names}, **kwargs)
    response = case.call_and_validate(
        base_url=api.server.url, headers={"Authorization": f"Bearer {api.tokens['admin']}"})
    assert 200 <= response.status_code < 300, response.text
    if method == "PUT":
        assert response.json()["canned_response"]["shortcut"] == "hej"


@pytest.mark.parametrize(("method", "path"), [
    ("DELETE", "/api/v1/canned-responses/²"),
    ("GET", "/api/v1/conversations?limit=²"),
    ("GET", "/api/v1/offline-messages?limit=٣"),
    ("GET", "/api/v1/audit?before=²"),
    ("GET", "/api/v1/audit?actor=²"),
    ("GET", "/api/v1/conversations/0123456789abcdef%000123456789abcde"),
    ("POST", "/api/v1/offline-messages/%00/handled"),
    ("GET", "/api/v1/conversations?q=%00"),
    ("GET", "/api/v1/audit?action=login%00"),
    ("GET", "/api/v1/privacy-notice?version=%00"),
])
def test_odd_ids_and_filters_are_refused(method: str, path: str, api: Fixture) -> None:
    """`"²".isdigit()` is true: such ids and limits used to reach int(), which fails on "²"
    (a 503) and reads "٣" as 3. A NUL in an id or a search used to reach the database, which
    PostgreSQL answers with an error. Now all are refused like any other wrong value."""
    response = requests.request(method, api.server.url + path, timeout=10,
                                headers={"Authorization": f"Bearer {api.tokens['admin']}"})
    assert response.status_code in (400, 404), response.text
    assert response.json()["ok"] is False
