"""Authorisation: every REST operation (chatserver/http/openapi.py OPERATIONS) and every page ×
every kind of caller, and every socket event of both namespaces × every way of being the wrong
caller. The threat model these belong to is docs/security.md."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio

from chatserver.http.openapi import OPERATIONS, Operation
from chatserver.services.tokens import token_hash
from tests.helpers import Client, namespace_events
from tests.security_world import (
    AGENT,
    CALLERS,
    SECRET_TEXT,
    World,
    assert_error,
    denial,
    op_id,
    running_world,
)


@pytest.fixture(scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory, template_database: Path
                ) -> AsyncIterator[World]:
    async with running_world(tmp_path_factory, template_database) as built:
        yield built

# ------------------------------------------------------------------ REST × callers


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("op", OPERATIONS, ids=op_id)
async def test_rest_authorisation_matrix(world: World, op: Operation, caller: str) -> None:
    """Allowed callers get past authorisation (any answer but 401/403, never a 5xx); the others
    get 401 `unauthorized` or 403 `forbidden` in the contract's shape. Bodies are empty and ids
    made up, so nothing changes whatever the answer."""
    headers = await world.headers(caller)
    kwargs: dict[str, Any] = {"headers": headers}
    if op.body is not None:
        kwargs["json"] = {}
    async with aiohttp.ClientSession() as http, http.request(
        op.method.upper(), world.url + world.path(op), **kwargs
    ) as response:
        body = await response.json() if response.content_type == "application/json" else None
        expected = denial(op.access, caller)
        if expected is None:
            assert response.status < 500 and response.status not in (401, 403), body
        else:
            assert_error(response.status, body, expected)
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["Cache-Control"] == "no-store"


# Every route that is not in OPERATIONS: public by design (none holds personal data), except the
# console's admin paths, which answer 403 to a logged-in agent without the admin role.
PAGES = ("/", "/widget.js", "/console", "/console/history", "/console/admin/agents",
         "/console.js", "/console.css", "/privacy", "/healthz", "/readyz", "/metrics")


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("page", PAGES)
async def test_page_authorisation_matrix(world: World, page: str, caller: str) -> None:
    headers = await world.headers(caller)
    async with aiohttp.ClientSession() as http, http.get(world.url + page,
                                                         headers=headers) as response:
        text = await response.text()
    if page in ("/widget.js", "/console.js", "/console.css") and response.status == 404:
        pytest.skip("the bundles are not built (make widget)")
    expected = 403 if page.startswith("/console/admin") and caller == "agent_cookie" else 200
    assert response.status == expected, text[:200]
    assert SECRET_TEXT not in text and AGENT not in text


def test_the_matrices_cover_every_route(world: World) -> None:
    """A new route must be added to OPERATIONS (for /api) or to PAGES here."""
    covered = {(op.method.upper(), op.path) for op in OPERATIONS}
    covered |= {("GET", page) for page in PAGES}
    missing = []
    for resource in world.chat.app.router.resources():
        path = resource.canonical
        if path.startswith("/socket.io"):
            continue
        for route in resource:
            if route.method in ("HEAD", "OPTIONS", "*"):
                continue
            concrete = path.replace("{tail}", "admin/agents" if "console" in path else "")
            if (route.method, path) not in covered and (route.method, concrete) not in covered:
                missing.append((route.method, path))
    assert missing == []


# ------------------------------------------------------------------ socket events × callers

VISITOR_EVENTS = namespace_events()["visitor"]
AGENT_EVENTS = namespace_events()["agent"]

# A valid payload for each event, with CONV standing for a conversation id.
VISITOR_PAYLOADS: dict[str, Any] = {
    "message": {"client_id": "m1", "text": "hello"}, "typing": {"typing": True},
    "handoff": {}, "transcript": {"email": "a@example.fi"}, "close": {},
    "history": {"after_seq": 0}, "export": {}, "erase": {},
    "offline_message": {"name": "A", "email": "a@example.fi", "text": "call me"},
    "rate": {"score": 4},
}
AGENT_PAYLOADS: dict[str, Any] = {
    "presence": {"status": "online"}, "claim": {"conversation_id": "CONV"},
    "message": {"conversation_id": "CONV", "client_id": "x1", "text": "not mine"},
    "typing": {"conversation_id": "CONV", "typing": True},
    "transfer": {"conversation_id": "CONV", "agent_id": 1},
    "close": {"conversation_id": "CONV"}, "history": {"conversation_id": "CONV", "after_seq": 0},
    "queue": {}, "note": {"conversation_id": "CONV", "client_id": "n1", "text": "not mine"},
}
# An agent acting on a conversation another agent holds.
AGENT_NOT_THEIRS = {"claim": "conflict", "message": "forbidden", "typing": "forbidden",
                    "transfer": "forbidden", "close": "forbidden", "history": "forbidden",
                    "note": "forbidden",
                    "presence": None,  # presence names no conversation: allowed
                    "queue": None}  # every agent sees the whole queue


def _fill(payload: Any, conversation_id: str) -> Any:
    return json.loads(json.dumps(payload).replace('"CONV"', json.dumps(conversation_id)))


def test_socket_matrix_covers_every_event() -> None:
    assert set(VISITOR_PAYLOADS) == VISITOR_EVENTS
    assert set(AGENT_PAYLOADS) == AGENT_EVENTS == set(AGENT_NOT_THEIRS)


async def _raw_unauthenticated(world: World, namespace: str, event: str, payload: Any) -> None:
    """Asks for `namespace` without valid credentials (refused, with the code), sends the event
    anyway, then does a real call on /visitor: the event got no ack."""
    version = await world.chat.notice_version()
    payload = _fill(payload, world.conversation_id)
    async with aiohttp.ClientSession() as http, http.ws_connect(
        f"{world.url}/socket.io/?EIO=4&transport=websocket"
    ) as ws:
        assert (await ws.receive_str()).startswith("0")
        await ws.send_str(f"40{namespace}," + json.dumps({"lang": "en"} if namespace == "/visitor"
                                                          else {}))
        refused = await ws.receive_str()
        assert refused.startswith(f"44{namespace},"), refused
        code = json.loads(refused.split(",", 1)[1])["code"]
        assert code == ("notice_required" if namespace == "/visitor" else "unauthorized")
        await ws.send_str(f"42{namespace},7" + json.dumps([event, payload]))
        await ws.send_str("40/visitor," + json.dumps({"notice_version": version, "lang": "en"}))
        await ws.send_str('42/visitor,8["history",{"after_seq":0}]')
        frames: list[str] = []
        while not frames or not frames[-1].startswith("43/visitor,8"):
            frames.append(await ws.receive_str(timeout=5))
        assert not [f for f in frames if f.startswith(f"43{namespace},7")], frames


@pytest.mark.parametrize("event", sorted(VISITOR_EVENTS))
async def test_visitor_event_unauthenticated(world: World, event: str) -> None:
    before = await world.conversation_state(world.conversation_id)
    await _raw_unauthenticated(world, "/visitor", event, VISITOR_PAYLOADS[event])
    assert await world.conversation_state(world.conversation_id) == before


@pytest.mark.parametrize("event", sorted(AGENT_EVENTS))
async def test_agent_event_unauthenticated(world: World, event: str) -> None:
    before = await world.conversation_state(world.conversation_id)
    await _raw_unauthenticated(world, "/agent", event, AGENT_PAYLOADS[event])
    assert await world.conversation_state(world.conversation_id) == before


async def _agent(world: World, email: str) -> Client:
    cookie, _csrf = await world.session_cookie(email)
    client = Client("/agent")
    await client.connect(world.url, headers={"Cookie": f"chatserver_session={cookie}"})
    world.chat.clients.append(client.sio)
    await client.next("welcome")
    return client


async def _two_conversations(world: World) -> tuple[Client, Client, str]:
    """Visitor A and visitor B, each with a conversation; returns (A, B, B's conversation)."""
    a, b = await world.chat.visitor("en"), await world.chat.visitor("en")
    assert (await a.call("message", {"client_id": "a1", "text": "from A"}))["ok"]
    opened = await b.call("message", {"client_id": "b1", "text": SECRET_TEXT})
    return a, b, opened["conversation"]["id"]


@pytest.mark.parametrize("event", sorted(AGENT_EVENTS))
async def test_agent_event_on_the_visitor_namespace(world: World, event: str) -> None:
    """A visitor sending an agent event (agent payload naming B's conversation): invalid_input,
    either as an unknown event or for the unknown field; B is untouched."""
    a, _b, b_conversation = await _two_conversations(world)
    before = await world.conversation_state(b_conversation)
    ack = await a.call(event, _fill(AGENT_PAYLOADS[event], b_conversation))
    assert ack["ok"] is False and ack["error"]["code"] == "invalid_input", ack
    assert await world.conversation_state(b_conversation) == before


@pytest.mark.parametrize("event", sorted(VISITOR_EVENTS))
async def test_visitor_event_on_the_agent_namespace(world: World, event: str) -> None:
    agent = await _agent(world, AGENT)
    before = await world.conversation_state(world.conversation_id)
    ack = await agent.call(event, VISITOR_PAYLOADS[event])
    assert ack["ok"] is False and ack["error"]["code"] == "invalid_input", ack
    assert await world.conversation_state(world.conversation_id) == before
    await agent.sio.disconnect()


@pytest.mark.parametrize("event", sorted(VISITOR_EVENTS))
async def test_visitor_a_cannot_act_on_conversation_b(world: World, event: str) -> None:
    """Visitor events name no conversation: naming B anyway is refused (invalid_input), and the
    event itself acts on A's conversation only; nothing of B comes back."""
    a, _b, b_conversation = await _two_conversations(world)
    before = await world.conversation_state(b_conversation)
    aimed = {**VISITOR_PAYLOADS[event], "conversation_id": b_conversation}
    ack = await a.call(event, aimed)
    assert ack["ok"] is False and ack["error"]["code"] == "invalid_input", ack
    own = await a.call(event, VISITOR_PAYLOADS[event])
    assert SECRET_TEXT not in json.dumps(own) and b_conversation not in json.dumps(own)
    assert await world.conversation_state(b_conversation) == before


async def test_visitor_cannot_resume_b_with_what_the_server_stores(world: World) -> None:
    """Neither the stored token hash nor the conversation id opens B's conversation."""
    _a, b, b_conversation = await _two_conversations(world)
    for guess in (token_hash(b.welcome["token"]), b_conversation):
        stranger = await world.chat.visitor("en", token=guess)
        assert stranger.welcome["conversation"] is None
        assert SECRET_TEXT not in json.dumps(await stranger.call("export", {}))
        assert (await stranger.call("history", {"after_seq": 0}))["messages"] == []


async def test_visitor_token_does_not_open_the_agent_namespace(world: World) -> None:
    client = socketio.AsyncClient(reconnection=False)
    errors: list[Any] = []
    client.on("connect_error", errors.append, namespace="/agent")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(world.url, namespaces=["/agent"], transports=["websocket"],
                             auth={"api_token": world.visitor_token}, wait_timeout=5,
                             headers={"Cookie": f"chatserver_session={world.visitor_token}"})
    assert errors and errors[0]["data"]["code"] == "unauthorized"


@pytest.mark.parametrize("event", sorted(AGENT_EVENTS))
async def test_agent_event_on_a_conversation_not_theirs(world: World, event: str) -> None:
    owner = await _agent(world, "admin@example.fi")
    other = await _agent(world, AGENT)
    _a, _b, b_conversation = await _two_conversations(world)
    assert (await owner.call("claim", {"conversation_id": b_conversation}))["ok"]
    before = await world.conversation_state(b_conversation)
    payload = _fill(AGENT_PAYLOADS[event], b_conversation)
    if event == "transfer":
        payload["agent_id"] = owner.welcome["agent"]["id"]  # online, so ownership decides
    ack = await other.call(event, payload)
    expected = AGENT_NOT_THEIRS[event]
    if expected is None:
        assert ack["ok"] is True, ack
    else:
        assert ack["ok"] is False and ack["error"]["code"] == expected, ack
        assert SECRET_TEXT not in json.dumps(ack)
    assert await world.conversation_state(b_conversation) == before
    await owner.sio.disconnect()
    await other.sio.disconnect()


@pytest.mark.parametrize("target", ["absent", "offline"])
async def test_transfer_of_a_chat_not_theirs_tells_nothing_about_other_agents(
        world: World, target: str) -> None:
    owner = await _agent(world, "admin@example.fi")
    other = await _agent(world, AGENT)
    _a, _b, b_conversation = await _two_conversations(world)
    assert (await owner.call("claim", {"conversation_id": b_conversation}))["ok"]
    agent_id = 2**31 - 1 if target == "absent" else owner.welcome["agent"]["id"]
    if target == "offline":
        await owner.sio.disconnect()
    ack = await other.call("transfer", {"conversation_id": b_conversation, "agent_id": agent_id})
    assert ack["ok"] is False and ack["error"]["code"] == "forbidden", ack
    await other.sio.disconnect()
