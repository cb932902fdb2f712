"""Secrets stored only as hashes and compared in constant time; rate limits (offline form,
messages); size limits on every REST body, every socket event and every string field.
See docs/security.md."""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func
from sqlmodel import select

from chatserver.db.models import Message, OfflineMessage
from chatserver.http.auth import LoginBody
from chatserver.http.faq import MAX_FAQ_BYTES
from chatserver.http.openapi import OPERATIONS, Operation
from chatserver.realtime import payloads
from chatserver.services import agents, tokens
from chatserver.validation import Payload
from tests.helpers import Chat
from tests.mailserver import Clock
from tests.security_world import ADMIN, World, assert_error, op_id, running_world
from tests.test_security import AGENT_PAYLOADS, VISITOR_PAYLOADS
from tests.test_security_web import BODIES


@pytest.fixture(scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory, template_database: Path
                ) -> AsyncIterator[World]:
    async with running_world(tmp_path_factory, template_database) as built:
        yield built


# ------------------------------------------------------------------ secrets


async def test_tokens_are_stored_only_as_hashes(chat: Chat) -> None:
    """Session, CSRF, API and visitor tokens are used, then the raw SQLite file and its WAL are
    searched: each token's SHA-256 is there, the token itself is not."""
    admin = await chat.add_agent(ADMIN, "Aada", role="admin")
    http = await chat.login(ADMIN)
    session = next(c.value for c in http.cookie_jar if c.key == "chatserver_session")
    csrf: str = http.headers_csrf  # type: ignore[attr-defined]
    async with http.post(f"{chat.url}/api/v1/canned-responses", headers={"X-CSRF-Token": csrf},
                         json={"language": "en", "shortcut": "hi", "text": "Hello"}) as response:
        assert response.status == 201
    api_token = await agents.create_api_token(chat.ctx, admin.id, "scan")
    async with aiohttp.ClientSession() as bearer, bearer.get(
        f"{chat.url}/api/v1/conversations", headers={"Authorization": f"Bearer {api_token}"}
    ) as response:
        assert response.status == 200
    visitor = await chat.visitor("en")
    assert (await visitor.call("message", {"client_id": "1", "text": "hello"}))["ok"]
    visitor_token = visitor.welcome["token"]
    resumed = await chat.visitor("en", token=visitor_token)
    assert resumed.welcome["conversation"] is not None
    stored = chat.database_bytes()
    for name, secret in [("session", session), ("csrf", csrf), ("api", api_token),
                         ("visitor", visitor_token)]:
        assert secret.encode() not in stored, f"the raw {name} token is in the database"
        assert tokens.token_hash(secret).encode() in stored, f"no {name} hash: scan is blind"


async def test_secrets_are_looked_up_by_hash_and_compared_in_constant_time(
        chat: Chat, monkeypatch: pytest.MonkeyPatch) -> None:
    """The cookie is looked up by its hash (a timing difference would reveal only a prefix of
    the hash); the CSRF token goes through hmac.compare_digest."""
    compared: list[bytes] = []
    hashed: list[str] = []
    real_compare, real_hash = hmac.compare_digest, tokens.token_hash

    def compare(a: Any, b: Any) -> bool:
        compared.append(a)
        return real_compare(a, b)

    def hash_token(token: str) -> str:
        hashed.append(token)
        return real_hash(token)

    await chat.add_agent(ADMIN, "Aada", role="admin")
    http = await chat.login(ADMIN)
    monkeypatch.setattr(tokens.hmac, "compare_digest", compare)
    monkeypatch.setattr(agents, "token_hash", hash_token)
    session = next(c.value for c in http.cookie_jar if c.key == "chatserver_session")
    csrf: str = http.headers_csrf  # type: ignore[attr-defined]
    async with http.post(f"{chat.url}/api/v1/dsar/export", headers={"X-CSRF-Token": csrf},
                         json={"email": "nobody@example.fi"}) as response:
        assert response.status == 200
    assert session in hashed and csrf.encode() in compared


# ------------------------------------------------------------------ rate limits


async def _offline(visitor: Any, n: int) -> Any:
    return await visitor.call("offline_message", {"name": "Ville", "email": "v@example.fi",
                                                  "text": f"message {n}"})


async def _offline_count(chat: Chat) -> int:
    async with chat.ctx.db() as session:
        return int((await session.exec(select(func.count()).select_from(OfflineMessage))).one())


async def test_offline_form_is_rate_limited_per_connection(chat_factory: Any) -> None:
    chat = await chat_factory(limits={"offline_per_connection": 2})
    visitor = await chat.visitor("fi")
    assert [(await _offline(visitor, n))["ok"] for n in range(2)] == [True, True]
    refused = await _offline(visitor, 3)
    assert refused["ok"] is False and refused["error"]["code"] == "rate_limited"
    assert "useita viestejä" in refused["error"]["message"]
    assert await _offline_count(chat) == 2
    assert (await _offline(await chat.visitor("en"), 4))["ok"]


async def test_offline_form_is_rate_limited_site_wide(chat_factory: Any) -> None:
    clock = Clock()
    chat = await chat_factory(clock=clock, limits={"offline_per_hour": 2})
    for n in range(2):
        assert (await _offline(await chat.visitor("en"), n))["ok"]
    refused = await _offline(await chat.visitor("sv"), 3)
    assert refused["ok"] is False and refused["error"]["code"] == "rate_limited"
    assert "Försök igen senare" in refused["error"]["message"]
    assert await _offline_count(chat) == 2
    clock.advance(minutes=61)
    assert (await _offline(await chat.visitor("en"), 4))["ok"]


async def test_messages_are_rate_limited_per_connection(chat_factory: Any) -> None:
    chat = await chat_factory(limits={"events_per_second": 0.5, "event_burst": 2})
    visitor = await chat.visitor("en")
    acks = [await visitor.call("message", {"client_id": str(n), "text": f"m{n}"})
            for n in range(4)]
    assert [a["ok"] for a in acks] == [True, True, False, False]
    assert acks[2]["error"]["code"] == "rate_limited" and acks[2]["error"]["message"]
    async with chat.ctx.db() as session:
        assert (await session.exec(select(func.count()).select_from(Message))).one() == 2


# ------------------------------------------------------------------ size limits

WITH_BODY = [op for op in OPERATIONS if op.body is not None]
WHOLE_FAQ = {"/api/v1/faq", "/api/v1/faq/try", "/api/v1/faq/evaluate"}


@pytest.mark.parametrize("op", WITH_BODY, ids=op_id)
async def test_every_rest_body_over_the_limit_is_too_large(world: World, op: Operation) -> None:
    limit = world.chat.settings.limits.max_body_bytes
    if op.path in WHOLE_FAQ:  # the bodies that carry a whole FAQ have a limit of their own
        limit = MAX_FAQ_BYTES
    body = json.dumps({"padding": "x" * limit}).encode()
    headers = {**await world.headers("admin_bearer"), "Content-Type": "application/json"}
    async with aiohttp.ClientSession() as http, http.request(
        op.method.upper(), world.url + world.path(op), data=body, headers=headers
    ) as response:
        assert_error(response.status, await response.json(), (413, "too_large"))


def _long_fields(model: type[Payload], room: int) -> list[tuple[str, int]]:
    """The string fields of a payload model with a length limit that fits in `room` bytes."""
    found = []
    for name, spec in model.model_json_schema(mode="validation")["properties"].items():
        options = spec.get("anyOf", [spec])
        limits = [o["maxLength"] for o in options if "maxLength" in o]
        if limits and limits[0] < room:
            found.append((name, limits[0]))
    return found


REST_SAMPLES = {**BODIES, ("post", "/api/v1/auth/login"): {"email": "a@example.fi",
                                                             "password": "pw"}}
REST_FIELDS = [(op, field, limit) for op in WITH_BODY for field, limit in
               _long_fields(op.body or Payload, 60_000)]


def test_the_field_lists_are_not_empty() -> None:
    """Guards the parametrisations below against a schema change that would empty them."""
    assert ("email", 254) in _long_fields(LoginBody, 60_000)
    assert len(REST_FIELDS) > 10 and len(EVENT_FIELDS) > 8


@pytest.mark.parametrize("op,field,limit", REST_FIELDS,
                         ids=[f"{op_id(op)}.{field}" for op, field, _ in REST_FIELDS])
async def test_rest_field_over_its_limit_names_the_field(world: World, op: Operation,
                                                         field: str, limit: int) -> None:
    body = {**REST_SAMPLES[(op.method, op.path)], field: "x" * (limit + 1)}
    async with aiohttp.ClientSession() as http, http.request(
        op.method.upper(), world.url + world.path(op), json=body,
        headers=await world.headers("admin_bearer"),
    ) as response:
        answer = await response.json()
    assert_error(response.status, answer, (413, "too_large"))
    assert field in answer["error"]["message"]


EVENT_MODELS: dict[tuple[str, str], type[Payload]] = {
    ("/visitor", "message"): payloads.VisitorMessage,
    ("/visitor", "transcript"): payloads.TranscriptRequest,
    ("/visitor", "offline_message"): payloads.OfflineMessageIn,
    ("/agent", "presence"): payloads.Presence,
    ("/agent", "claim"): payloads.ConversationRef,
    ("/agent", "message"): payloads.AgentMessage,
    ("/agent", "typing"): payloads.AgentTyping,
    ("/agent", "transfer"): payloads.Transfer,
    ("/agent", "close"): payloads.ConversationRef,
    ("/agent", "history"): payloads.AgentHistory,
    ("/agent", "note"): payloads.AgentNote,
}
EVENT_FIELDS = [(ns, event, field, limit) for (ns, event), model in EVENT_MODELS.items()
                for field, limit in _long_fields(model, 60_000)]
# Text fields are limited by limits.max_message_chars after trimming (too_large, "message").
TEXT_EVENTS = [("/visitor", "message"), ("/visitor", "offline_message"), ("/agent", "message"),
               ("/agent", "note")]


def test_every_event_with_string_fields_is_listed() -> None:
    for (ns, events) in (("/visitor", VISITOR_PAYLOADS), ("/agent", AGENT_PAYLOADS)):
        for event, payload in events.items():
            if any(isinstance(v, str) for v in payload.values()):
                assert (ns, event) in EVENT_MODELS, event


async def _connected(world: World, namespace: str) -> Any:
    if namespace == "/visitor":
        return await world.chat.visitor("en")
    from tests.helpers import Client

    client = Client("/agent")
    await client.connect(world.url, auth={"api_token": world.admin_token})
    world.chat.clients.append(client.sio)
    await client.next("welcome")
    return client


def _sample(namespace: str, event: str, conversation_id: str) -> dict[str, Any]:
    payload = (VISITOR_PAYLOADS if namespace == "/visitor" else AGENT_PAYLOADS)[event]
    return json.loads(json.dumps(payload).replace('"CONV"', json.dumps(conversation_id)))


@pytest.mark.parametrize("namespace,event,field,limit", EVENT_FIELDS,
                         ids=[f"{ns[1:]}.{e}.{f}" for ns, e, f, _ in EVENT_FIELDS])
async def test_event_field_over_its_limit_names_the_field(
        world: World, namespace: str, event: str, field: str, limit: int) -> None:
    client = await _connected(world, namespace)
    payload = {**_sample(namespace, event, world.conversation_id), field: "x" * (limit + 1)}
    ack = await client.call(event, payload)
    assert ack["ok"] is False and ack["error"]["code"] == "too_large", ack
    assert field in ack["error"]["message"]
    await client.sio.disconnect()


@pytest.mark.parametrize("namespace,event", TEXT_EVENTS, ids=[f"{n[1:]}.{e}" for n, e in
                                                              TEXT_EVENTS])
async def test_event_text_over_the_message_limit_is_too_large(
        world: World, namespace: str, event: str) -> None:
    client = await _connected(world, namespace)
    limit = world.chat.settings.limits.max_message_chars
    payload = {**_sample(namespace, event, world.conversation_id), "text": "y" * (limit + 1)}
    ack = await client.call(event, payload)
    assert ack["ok"] is False and ack["error"]["code"] == "too_large", ack
    assert str(limit) in ack["error"]["message"]
    await client.sio.disconnect()


@pytest.mark.parametrize("namespace,field", [
    ("/visitor", "token"), ("/visitor", "lang"), ("/visitor", "notice_version"),
    ("/visitor", "page_url"), ("/visitor", "previous"), ("/agent", "api_token")])
async def test_connect_auth_field_over_its_limit_names_the_field(
        world: World, namespace: str, field: str) -> None:
    model = payloads.VisitorAuth if namespace == "/visitor" else payloads.AgentAuth
    limit = dict(_long_fields(model, 60_000))[field]
    async with aiohttp.ClientSession() as http, http.ws_connect(
        f"{world.url}/socket.io/?EIO=4&transport=websocket"
    ) as ws:
        await ws.receive_str()
        await ws.send_str(f"40{namespace}," + json.dumps({field: "x" * (limit + 1)}))
        refused = await ws.receive_str(timeout=5)
    assert refused.startswith(f"44{namespace},"), refused
    data = json.loads(refused.split(",", 1)[1])
    assert data["code"] == "too_large" and field in data["message"]


ALL_EVENTS = [("/visitor", e) for e in sorted(VISITOR_PAYLOADS)] + \
             [("/agent", e) for e in sorted(AGENT_PAYLOADS)]


@pytest.mark.parametrize("namespace,event", ALL_EVENTS, ids=[f"{n[1:]}.{e}" for n, e in
                                                             ALL_EVENTS])
async def test_event_over_max_event_bytes_closes_the_connection(
        world: World, namespace: str, event: str) -> None:
    """The contract's answer (docs/security.md): a packet over limits.max_event_bytes is never
    parsed; the WebSocket is closed with code 1009 (message too big) and nothing is stored. The
    widget and console cannot produce one (their text limits keep every event far below)."""
    before = await world.conversation_state(world.conversation_id)
    auth = ({"notice_version": await world.chat.notice_version(), "lang": "en"}
            if namespace == "/visitor" else {"api_token": world.admin_token})
    limit = world.chat.settings.limits.max_event_bytes
    payload = {**_sample(namespace, event, world.conversation_id), "padding": "z" * limit}
    async with aiohttp.ClientSession() as http, http.ws_connect(
        f"{world.url}/socket.io/?EIO=4&transport=websocket"
    ) as ws:
        await ws.receive_str()
        await ws.send_str(f"40{namespace}," + json.dumps(auth))
        while not (await ws.receive_str(timeout=5)).startswith(f"40{namespace},"):
            pass
        await ws.send_str(f"42{namespace},1" + json.dumps([event, payload]))
        while (message := await ws.receive(timeout=5)).type == aiohttp.WSMsgType.TEXT:
            assert not message.data.startswith(f"43{namespace},1"), message.data
        assert message.type == aiohttp.WSMsgType.CLOSE and message.data == 1009, message
    assert await world.conversation_state(world.conversation_id) == before
    assert (await (await world.chat.visitor("en")).call("history", {}))["ok"]


async def test_oversized_polling_post_is_refused(world: World) -> None:
    """Over HTTP long-polling the oversized POST gets 400 and the session is closed (the close
    packet goes out on the client's pending GET, which socket.io clients always keep open)."""
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{world.url}/socket.io/?EIO=4&transport=polling") as response:
            sid = json.loads((await response.text())[1:])["sid"]
        url = f"{world.url}/socket.io/?EIO=4&transport=polling&sid={sid}"
        poll = asyncio.create_task(http.get(url))
        await asyncio.sleep(0.1)
        big = "42/visitor,1" + json.dumps(["message", {"padding": "z" * 70_000}])
        async with http.post(url, data=big) as response:
            assert response.status == 400
        async with await poll as closed:
            assert (await closed.text()) == "1"  # engine.io's close packet


async def test_login_password_at_its_limit_is_not_too_large(chat: Chat) -> None:
    """The edge: exactly at a field's limit is accepted (here, a wrong password: 401)."""
    await chat.add_agent(ADMIN, "Aada")
    async with aiohttp.ClientSession() as http, http.post(
        f"{chat.url}/api/v1/auth/login", json={"email": ADMIN, "password": "p" * 1024}
    ) as response:
        assert response.status == 401
