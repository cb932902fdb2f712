"""Hypothesis throws malformed payloads at every socket event of both namespaces.

Whatever arrives, the answer is an ack in the contract's shape (docs/protocol.md), the connection
and the server stay up, and what is stored changes only when the payload was valid — in which
case the ack describes exactly what was stored.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import socketio
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlalchemy import text

from chatserver.errors import Code
from chatserver.keys import SIO
from chatserver.realtime import payloads
from chatserver.validation import Payload
from tests.helpers import Chat, Client

# Every event of the contract and the model its payload must match (docs/protocol.md).
EVENTS: dict[str, dict[str, type[Payload]]] = {
    "/visitor": {
        "message": payloads.VisitorMessage,
        "typing": payloads.Typing,
        "handoff": payloads.Empty,
        "transcript": payloads.TranscriptRequest,
        "close": payloads.Empty,
        "history": payloads.History,
        "offline_message": payloads.OfflineMessageIn,
        "export": payloads.Empty,
        "erase": payloads.Empty,
        "rate": payloads.Rating,
    },
    "/agent": {
        "presence": payloads.Presence,
        "claim": payloads.ConversationRef,
        "message": payloads.AgentMessage,
        "typing": payloads.AgentTyping,
        "transfer": payloads.Transfer,
        "close": payloads.ConversationRef,
        "history": payloads.AgentHistory,
        "queue": payloads.Empty,
        "note": payloads.AgentNote,
    },
}
# Valid payloads of these would end or move the conversation the fuzzing runs in; only their
# invalid variants are sent (their valid paths are covered by the flow tests).
ENDING = {("/visitor", "close"), ("/visitor", "erase"), ("/visitor", "handoff"),
          ("/agent", "claim"), ("/agent", "close"), ("/agent", "transfer")}
# Tables whose rows change on their own (presence heartbeats, session touches, throttling).
VOLATILE_TABLES = {"agent_connection", "agent_session", "api_token", "login_failure",
                   "alembic_version"}
MAX_PACKET_CHARS = 60_000  # under limits.max_event_bytes, whose excess closes the connection

NASTY = [
    "", " ", "\t\n", "\x00", "nul\x00inside", "\x07bell", "\x1b[31mred", "\ud800", "lone \udfff",
    "😀", "👩‍👩‍👧‍👦 family", "🇫🇮🇸🇪", "שלום עולם", "مرحبا بالعالم", "\u202eevil\u202c", "\u200b",
    "\ufeffbom", "e\u0301\u0301\u0301", "ǅ", "İ", "Ω" * 300, "x" * 4001, "y" * 20_000,
    "ä" * 4000, " padded  ", "<script>alert(1)</script>", "' OR 1=1 --", "{{7*7}}",
    "%s%n", "../../etc/passwd", "a@b", "a" * 255 + "@example.fi", "null", "true", "-0", "1e309",
]
strings = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=40),
    st.text(st.characters(categories=["Cc", "Cs", "Cf", "Zl", "Zp", "So", "Mn"]), max_size=20),
)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False), strings, st.binary(max_size=16),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(strings, inner, max_size=4)),
    max_leaves=12,
)
deep_nesting = st.integers(min_value=20, max_value=400).map(
    lambda depth: json.loads("[" * depth + "]" * depth)
)
anything = st.one_of(json_values, deep_nesting)


def variants(valid: dict[str, Any]) -> st.SearchStrategy[Any]:
    """The valid payload with one thing wrong: a field dropped, added or replaced, or the
    whole payload swapped for any JSON value."""
    options = [anything, st.tuples(strings, anything).filter(lambda kv: kv[0] not in valid)
               .map(lambda kv: {**valid, kv[0]: kv[1]})]
    if valid:
        keys = sorted(valid)
        options.append(st.sampled_from(keys).map(
            lambda key: {k: v for k, v in valid.items() if k != key}))
        options.append(st.tuples(st.sampled_from(keys), anything)
                       .map(lambda kv: {**valid, kv[0]: kv[1]}))
    return st.one_of(*options)


def is_valid(model: type[Payload] | None, payload: Any) -> bool:
    if model is None:
        return False
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        return False
    try:
        model.model_validate(payload)
    except ValidationError:
        return False
    return True


def valid_payload(namespace: str, event: str, conversation_id: str) -> dict[str, Any]:
    conversation = {"conversation_id": conversation_id}
    valid: dict[tuple[str, str], dict[str, Any]] = {
        ("/visitor", "message"): {"client_id": "fuzz-v", "text": "hello"},
        ("/visitor", "typing"): {"typing": True},
        ("/visitor", "transcript"): {"email": "visitor@example.fi"},
        ("/visitor", "history"): {"after_seq": 0},
        ("/visitor", "offline_message"): {"name": "Maija", "email": "m@example.fi",
                                          "text": "call me"},
        ("/agent", "presence"): {"status": "online"},
        ("/agent", "claim"): conversation,
        ("/agent", "message"): {**conversation, "client_id": "fuzz-a", "text": "hi"},
        ("/agent", "typing"): {**conversation, "typing": True},
        ("/agent", "transfer"): {**conversation, "agent_id": 1},
        ("/agent", "close"): conversation,
        ("/agent", "history"): {**conversation, "after_seq": 0},
        ("/agent", "note"): {**conversation, "client_id": "fuzz-n", "text": "a note"},
    }
    return valid.get((namespace, event), {})


# Strategies are built once, before a conversation exists: they use this placeholder, which
# each example swaps for the real conversation id.
CONVERSATION = "<conversation>"


@dataclass
class Fuzz:
    chat: Chat
    visitor: Client
    agent: Client
    conversation_id: str


@dataclass(frozen=True)
class Case:
    namespace: str
    event: str
    args: tuple[Any, ...]


@st.composite
def cases(draw: st.DrawFn) -> Case:
    namespace = draw(st.sampled_from(sorted(EVENTS)))
    kind = draw(st.sampled_from(["payload"] * 8 + ["unknown event", "extra argument"]))
    if kind == "unknown event":
        event = draw(st.one_of(st.sampled_from(["connect", "disconnect", "connect_error",
                                                "MESSAGE", "message ", "__proto__"]),
                               st.text(max_size=30)))
        assume(event not in EVENTS[namespace])
        return Case(namespace, event, (draw(anything),))
    event = draw(st.sampled_from(sorted(EVENTS[namespace])))
    payload = draw(variants(valid_payload(namespace, event, CONVERSATION)))
    if kind == "extra argument":
        return Case(namespace, event, (payload, draw(anything)))
    return Case(namespace, event, (payload,))


def with_conversation(value: Any, conversation_id: str) -> Any:
    if value == CONVERSATION:
        return conversation_id
    if isinstance(value, dict):
        return {k: with_conversation(v, conversation_id) for k, v in value.items()}
    return value


async def fingerprint(chat: Chat) -> dict[str, str]:
    """A digest of every stored row, per table."""
    digests = {}
    async with chat.ctx.db() as session:
        tables = (await session.exec(text(
            "SELECT name FROM sqlite_master WHERE type = 'table'"))).scalars().all()
        # The search index's tables (FTS5) are derived from `message` and `note`, digested here.
        derived = {t for t in tables if t.startswith(("message_search", "note_search"))}
        for table in sorted(set(tables) - VOLATILE_TABLES - derived):
            rows = (await session.exec(text(
                f'SELECT * FROM "{table}" ORDER BY rowid'))).all()  # noqa: S608
            digests[table] = hashlib.sha256(repr(rows).encode()).hexdigest()
    return digests


def assert_contract_shape(ack: Any) -> None:
    assert isinstance(ack, dict) and isinstance(ack.get("ok"), bool), ack
    if not ack["ok"]:
        assert set(ack) == {"ok", "error"}, ack
        error = ack["error"]
        assert error["code"] in {code.value for code in Code}, ack
        assert isinstance(error["message"], str) and error["message"].strip(), ack


@pytest.fixture
async def fuzz(chat_factory: Any) -> AsyncIterator[Fuzz]:
    chat = await chat_factory(limits={"events_per_second": 100_000, "event_burst": 100_000})
    visitor = await chat.visitor("en")
    first = await visitor.call("message", {"client_id": "first", "text": "I need help"})
    agent = await chat.agent("fuzz-agent@example.fi", "Fuzz Agent")
    conversation_id = first["conversation"]["id"]
    assert (await agent.call("claim", {"conversation_id": conversation_id}))["ok"]
    yield Fuzz(chat, visitor, agent, conversation_id)
    # After all the examples: the server still takes new visitors, and the fuzzed ones still chat.
    newcomer = await chat.visitor("sv")
    assert (await newcomer.call("message", {"client_id": "n1", "text": "Hej"}))["ok"]
    assert (await visitor.call("message", {"client_id": "last", "text": "still here"}))["ok"]


@settings(max_examples=1000, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(case=cases())
async def test_every_event_answers_any_payload_with_a_contract_ack(fuzz: Fuzz,
                                                                   case: Case) -> None:
    args = tuple(with_conversation(arg, fuzz.conversation_id) for arg in case.args)
    assume(len(json.dumps([case.event, *args], default=repr)) < MAX_PACKET_CHARS)
    model = EVENTS[case.namespace].get(case.event)
    valid = len(args) == 1 and is_valid(model, args[0])
    assume(not (valid and (case.namespace, case.event) in ENDING))
    note(f"{case.namespace} {case.event!r} {args!r:.300} valid={valid}")
    client = fuzz.visitor if case.namespace == "/visitor" else fuzz.agent
    before = await fingerprint(fuzz.chat)

    ack = await client.sio.call(case.event, args[0] if len(args) == 1 else args,
                                namespace=case.namespace, timeout=10)

    assert_contract_shape(ack)
    if not valid:
        assert ack["ok"] is False, ack
        assert ack["error"]["code"] in {"invalid_input", "too_large"}, ack
        assert await fingerprint(fuzz.chat) == before
    elif ack["ok"] and case.event == "message":
        stored = await stored_message(fuzz.chat, ack["message"]["id"])
        assert stored == (ack["message"]["text"], args[0]["client_id"])
        assert ack["message"]["text"] == args[0]["text"].strip()


async def stored_message(chat: Chat, message_id: str) -> tuple[str, str]:
    async with chat.ctx.db() as session:
        row = (await session.exec(text(
            "SELECT text, client_id FROM message WHERE id = :id"), params={"id": message_id}
        )).one()
    return str(row[0]), str(row[1])


async def test_fuzzed_event_table_matches_the_namespaces(chat: Chat) -> None:
    """A new event must be added to EVENTS above, so the fuzzing covers it."""
    sio = chat.app[SIO]
    for namespace, events in EVENTS.items():
        assert set(sio.namespace_handlers[namespace].handlers) == set(events), namespace


RAW_PACKETS = [
    ("lifecycle name connect", '2/visitor,{n}["connect",{{"HTTP_COOKIE":"x"}}]'),
    ("lifecycle name disconnect", '2/visitor,{n}["disconnect","client disconnect"]'),
    ("empty event", "2/visitor,{n}[]"),
    ("event name not a string", '2/visitor,{n}[42,{{}}]'),
    ("data not a list", '2/visitor,{n}{{"message":1}}'),
    ("NaN", '2/visitor,{n}["message",{{"client_id":"a","text":NaN}}]'),
    ("not JSON", '2/visitor,{n}["message",{{"client_id":'),
    ("nesting deeper than the parser's stack",
     '2/visitor,{n}["message",' + "[" * 20_000 + "]" * 20_000 + "]"),
]


@pytest.mark.parametrize(("label", "raw"), RAW_PACKETS, ids=[p[0] for p in RAW_PACKETS])
async def test_raw_packets_the_client_library_would_not_send(chat: Chat, label: str,
                                                             raw: str) -> None:
    visitor = await chat.visitor("en")
    assert (await visitor.call("message", {"client_id": "a1", "text": "before"}))["ok"]
    before = await fingerprint(chat)
    ack_id = 900
    answer = await _send_raw(visitor, raw.format(n=ack_id), ack_id)
    assert_contract_shape(answer)
    assert answer["ok"] is False and answer["error"]["code"] == "invalid_input", answer
    assert await fingerprint(chat) == before
    after = await visitor.call("message", {"client_id": "a2", "text": "after"})
    assert after["ok"] and after["message"]["seq"] == 2, after


async def _send_raw(client: Client, encoded: str, ack_id: int) -> Any:
    """Sends an encoded socket.io packet as is and waits for its ack, if any comes."""
    loop = asyncio.get_running_loop()
    answered: asyncio.Future[Any] = loop.create_future()
    client.sio.callbacks.setdefault("/visitor", {})[ack_id] = (
        lambda *data: answered.set_result(data[0] if data else None))
    await client.sio.eio.send(encoded)
    try:
        return await asyncio.wait_for(answered, 3)
    except TimeoutError:
        return None
    finally:
        client.sio.callbacks["/visitor"].pop(ack_id, None)



@dataclass
class Gate:
    chat: Chat
    notice_version: str
    api_token: str
    resume_token: str


@pytest.fixture
async def gate(chat: Chat) -> Gate:
    from chatserver.services import agents

    agent = await chat.add_agent("token-agent@example.fi", "Token Agent")
    api_token = await agents.create_api_token(chat.ctx, agent.id, "fuzz")
    visitor = await chat.visitor("en")
    assert (await visitor.call("message", {"client_id": "g1", "text": "hello"}))["ok"]
    return Gate(chat, await chat.notice_version(), api_token, visitor.welcome["token"])


CONNECT_AUTH = {
    "/visitor": {"lang": "en", "notice_version": "<notice>", "token": "<resume>",
                 "page_url": "https://shop.example.fi/"},
    "/agent": {"api_token": "<api token>"},
}


def has_bytes(value: Any) -> bool:
    """socket.io cannot carry binary attachments in a CONNECT packet."""
    if isinstance(value, bytes):
        return True
    if isinstance(value, dict):
        return any(has_bytes(v) for v in value.values())
    if isinstance(value, list):
        return any(has_bytes(v) for v in value)
    return False


def with_secrets(value: Any, gate: Gate) -> Any:
    secrets = {"<notice>": gate.notice_version, "<resume>": gate.resume_token,
               "<api token>": gate.api_token}
    if isinstance(value, dict):
        return {k: with_secrets(v, gate) for k, v in value.items()}
    return secrets.get(value, value) if isinstance(value, str) else value


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(namespace=st.sampled_from(sorted(CONNECT_AUTH)), data=st.data())
async def test_connecting_with_any_auth_is_welcomed_or_refused_in_the_contract_shape(
        gate: Gate, namespace: str, data: st.DataObject) -> None:
    auth = with_secrets(data.draw(variants(CONNECT_AUTH[namespace])), gate)
    assume(not has_bytes(auth))
    note(f"{namespace} auth={auth!r:.300}")
    before = await fingerprint(gate.chat)
    client = socketio.AsyncClient(reconnection=False)
    refusals: list[Any] = []
    client.on("connect_error", refusals.append, namespace=namespace)
    try:
        await client.connect(gate.chat.url, namespaces=[namespace], transports=["websocket"],
                             auth=auth, wait_timeout=10)
    except socketio.exceptions.ConnectionError as error:
        assert refusals, f"refused without a connect_error: {error}"
        refusal = refusals[0]
        assert refusal["code"] in {code.value for code in Code}, refusal
        assert isinstance(refusal["message"], str) and refusal["message"].strip(), refusal
    else:
        assert namespace == "/agent" or isinstance(auth, dict | None), auth
    finally:
        await client.disconnect()
    # Connecting stores nothing, whether it is welcomed or refused (the gate, DESIGN §5).
    assert await fingerprint(gate.chat) == before


@pytest.mark.parametrize("namespace", ["/visitor", "/agent"])
@pytest.mark.parametrize("auth", [1.0, 2.5, -3])
async def test_a_number_as_connect_auth_is_refused_as_not_an_object(
        chat: Chat, namespace: str, auth: Any) -> None:
    """`0/agent,1.0` reads as ack id 1 followed by `.0`: found by the fuzzing above. (A bare
    positive integer reads as an ack id alone, so it arrives as no auth at all and is refused
    as such: the fuzzing covers that.)"""
    client = socketio.AsyncClient(reconnection=False)
    refusals: list[Any] = []
    client.on("connect_error", refusals.append, namespace=namespace)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(chat.url, namespaces=[namespace], transports=["websocket"],
                             auth=auth, wait_timeout=10)
    await client.disconnect()
    assert refusals and refusals[0]["code"] == "invalid_input", refusals
