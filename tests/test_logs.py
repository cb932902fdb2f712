"""Logs never carry message text, email addresses, names or tokens (DESIGN.md §5.7).

A whole chat runs with JSON logs at debug level and the production access logger: login (a
failed one too), chat both ways, a transcript request sent on close, the offline form, export,
erase, REST with a bearer token and a query string holding a token. Then every captured record,
formatted as it would be written, is searched for each secret.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from typing import Any

import aiohttp
import pytest
from sqlmodel import select

from chatserver.app import create_app
from chatserver.db.models import OutboxEmail
from chatserver.logs import LEAKY_LOGGERS, AccessLogger, JsonFormatter, setup_logging
from chatserver.services import agents
from chatserver.settings import Settings
from tests.helpers import PASSWORD, Chat, Client


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.formatter_ = JsonFormatter()
        self.lines: list[str] = []
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.lines.append(self.formatter_.format(record))
        # Also the raw pieces, in case a formatter elsewhere would show them differently.
        self.lines.append(repr(record.msg) + repr(record.args) + repr(record.__dict__))


@pytest.fixture
def captured_logs() -> Iterator[Capture]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in (*LEAKY_LOGGERS, "aiohttp.access")}
    capture = Capture()
    yield capture
    root.handlers[:], level = saved
    root.setLevel(level)
    for name, old in levels.items():
        logging.getLogger(name).setLevel(old)


async def _wait_sent(chat: Chat, count: int) -> None:
    for _ in range(200):
        async with chat.ctx.db() as session:
            rows = (await session.exec(select(OutboxEmail))).all()
        if len([r for r in rows if r.status == "sent"]) >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"emails not sent: {[(r.kind, r.status) for r in rows]}")


async def test_a_whole_chat_leaves_no_personal_data_in_the_logs(
    aiohttp_server: Any, settings_factory: Callable[..., Settings], captured_logs: Capture,
) -> None:
    settings = settings_factory(log_level="debug", log_format="json")
    setup_logging(settings)
    logging.getLogger().addHandler(captured_logs)
    app = create_app(settings)
    server = await aiohttp_server(app, port=settings.port, access_log_class=AccessLogger)
    chat = Chat(server, settings, app)
    secrets: dict[str, str] = {
        "agent name": "Quentin Zanzibar",
        "agent email": "quentin.zanzibar@example.fi",
        "password": PASSWORD,
        "visitor text": "Salainen viesti kissanhäntä 8472",
        "agent text": "Vastaus koiranhäntä 5519",
        "transcript address": "visitor.secret@example.org",
        "offline name": "Wilhelmina Offlinetest",
        "offline email": "wilhelmina.offline@example.org",
        "offline text": "Offline-viesti sammakko 3310",
    }
    try:
        async with aiohttp.ClientSession() as http, http.post(
            f"{chat.url}/api/v1/auth/login",
            json={"email": secrets["agent email"], "password": "wrong password here"},
        ) as response:
            assert response.status == 401
        agent = await chat.agent(secrets["agent email"], secrets["agent name"])
        assert agent.http is not None
        secrets["session cookie"] = next(c.value for c in agent.http.cookie_jar)
        secrets["csrf token"] = agent.http.headers_csrf  # type: ignore[attr-defined]

        visitor = await chat.visitor("fi")
        secrets["visitor token"] = visitor.welcome["token"]
        ack = await visitor.call("message", {"client_id": "c1", "text": secrets["visitor text"]})
        conversation_id = ack["conversation"]["id"]
        assert (await agent.call("claim", {"conversation_id": conversation_id}))["ok"] is True
        assert (await agent.call("message", {"conversation_id": conversation_id,
                                             "client_id": "a1", "text": secrets["agent text"]})
                )["ok"] is True
        await visitor.next("message", where=lambda m: m["author"]["kind"] == "agent")
        transcript = await visitor.call("transcript", {"email": secrets["transcript address"]})
        assert transcript["ok"] is True, transcript
        assert (await visitor.call("export", {}))["ok"] is True
        assert (await agent.call("close", {"conversation_id": conversation_id}))["ok"] is True
        await _wait_sent(chat, 1)

        offline = await chat.visitor("fi")
        left = await offline.call("offline_message", {
            "name": secrets["offline name"], "email": secrets["offline email"],
            "text": secrets["offline text"]})
        assert left["ok"] is True, left
        await _wait_sent(chat, 2)

        token = await agents.create_api_token(chat.ctx, agent.welcome["agent"]["id"], "logs")
        secrets["api token"] = token
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{chat.url}/api/v1/conversations/{conversation_id}",
                                headers={"Authorization": f"Bearer {token}"}) as response:
                assert response.status == 200
            async with http.get(f"{chat.url}/api/v1/widget/config",
                                params={"lang": "fi", "token": secrets["visitor token"],
                                        "email": secrets["transcript address"]}) as response:
                assert response.status == 200

        again = Client("/visitor")
        await again.connect(chat.url, auth={"lang": "fi", "token": secrets["visitor token"],
                                            "notice_version": await chat.notice_version()})
        chat.clients.append(again.sio)
        await again.next("welcome")
        assert (await again.call("erase", {}))["ok"] is True
    finally:
        await chat.close()
        await server.close()

    lines = captured_logs.lines
    access = [r for r in captured_logs.records if r.name == "aiohttp.access"]
    assert any("/api/v1/conversations/{conversation_id}" in r.getMessage() for r in access)
    # The test saw real logging: the outbox's and the access log's lines are there.
    assert len([r for r in captured_logs.records if "sent after" in r.getMessage()]) == 3
    for what, secret in secrets.items():
        for variant in {secret, secret.lower(), secret.encode("unicode_escape").decode()}:
            leaks = [line for line in lines if variant in line]
            assert not leaks, f"{what} appears in the logs: {leaks[0][:300]}"
    assert not [line for line in lines if conversation_id in line and "access" in line]


def test_access_lines_name_the_route_never_the_path_or_query() -> None:
    from aiohttp import web
    from aiohttp.test_utils import make_mocked_request

    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    logger = logging.getLogger("test.access")
    logger.addHandler(Keep())
    logger.setLevel(logging.INFO)
    async def handler(request: web.Request) -> web.Response:
        return web.Response()

    app = web.Application()
    app.router.add_get("/api/v1/conversations/{conversation_id}", handler)
    request = make_mocked_request("GET", "/api/v1/conversations/abc123?token=s3cret", app=app)
    match = asyncio.run(app.router.resolve(request))
    request._match_info = match  # type: ignore[attr-defined]
    AccessLogger(logger, "").log(request, web.Response(status=204), 0.0123)
    unmatched = make_mocked_request("GET", "/nothing/here?token=s3cret", app=app)
    unmatched._match_info = asyncio.run(app.router.resolve(unmatched))  # type: ignore[attr-defined]
    AccessLogger(logger, "").log(unmatched, web.Response(status=404), 0.001)
    assert records == ["GET /api/v1/conversations/{conversation_id} 204 0.012s",
                       "GET (unmatched) 404 0.001s"]
