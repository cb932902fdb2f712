"""Agent accounts that withstand stolen passwords, the parts built so far (issue 20): guessable
passwords refused, an agent's own sessions listed and ended (their sockets closed within
`auth.session_recheck_seconds`), API tokens with a name, a scope, an expiry and a last use."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import update
from sqlmodel import select

from chatserver.db.models import ApiToken, PasskeyChallenge
from chatserver.errors import ServiceError
from chatserver.services import agents, api_tokens, passwords
from chatserver.services.privacy import retention
from tests.helpers import PASSWORD, Chat, Client
from tests.test_cli import run

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
SAFARI = ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1")


@pytest.mark.parametrize("password", ["password123456", "Salasana123", "qwertyuiop12",
                                      "anna.virtanen@example.fi", "Anna Virtanen 2026"])
async def test_guessable_passwords_are_refused_in_the_agents_language(
        chat: Chat, password: str) -> None:
    await agents.create_agent(chat.ctx, "admin@example.fi", "Aada", PASSWORD, "admin", "fi")
    http = await chat.login("admin@example.fi")
    async with http.post(f"{chat.url}/api/v1/agents", json={
            "email": "anna.virtanen@example.fi", "name": "Anna Virtanen", "password": password,
            "language": "fi"}, headers={
                "X-CSRF-Token": http.headers_csrf}) as response:  # type: ignore[attr-defined]
        body = await response.json()
    assert response.status == 400 and body["error"]["code"] == "invalid_input", body
    assert "liian helppo arvata" in body["error"]["message"], body


def test_a_password_of_unrelated_words_is_accepted() -> None:
    passwords.check_strength("violet kettle Rovaniemi harbour", email="a@example.fi", name="A")
    for weak in ("annavirtanen2026", "aaaaaaaaaaaa"):  # their own name; a repeat
        with pytest.raises(ServiceError):
            passwords.check_strength(weak, email="annavirtanen@example.fi",
                                     name="Anna Virtanen")


async def _login(chat: Chat, user_agent: str) -> aiohttp.ClientSession:
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                 headers={"User-Agent": user_agent})
    chat.http.append(http)
    async with http.post(f"{chat.url}/api/v1/auth/login",
                         json={"email": "anna@example.fi", "password": PASSWORD}) as response:
        body = await response.json()
        assert response.status == 200, body
    http.headers_csrf = body["csrf_token"]  # type: ignore[attr-defined]
    return http


async def test_an_agent_lists_and_ends_sessions_and_the_ended_sessions_socket_closes(
        chat_factory: Any) -> None:
    chat: Chat = await chat_factory(auth={"session_recheck_seconds": 1})
    await chat.add_agent("anna@example.fi", "Anna")
    laptop, phone = await _login(chat, FIREFOX), await _login(chat, SAFARI)
    cookies = "; ".join(f"{c.key}={c.value}" for c in phone.cookie_jar)
    phone_socket = Client("/agent")
    await phone_socket.connect(chat.url, headers={"Cookie": cookies})
    await phone_socket.next("welcome")

    async with laptop.get(f"{chat.url}/api/v1/auth/sessions") as response:
        listed = (await response.json())["sessions"]
    assert {(s["client"], s["current"]) for s in listed} == {
        ("Firefox on Linux", True), ("Safari on iOS", False)}
    assert all(s["started_at"] and s["last_used_at"] for s in listed)
    assert not any("127.0.0.1" in str(s) for s in listed)  # no address is kept or shown
    other = next(s["id"] for s in listed if not s["current"])

    csrf = {"X-CSRF-Token": laptop.headers_csrf}  # type: ignore[attr-defined]
    async with laptop.delete(f"{chat.url}/api/v1/auth/sessions/{other}",
                             headers=csrf) as response:
        assert response.status == 200, await response.text()
    # The phone's socket sends nothing, and is closed within the re-check interval anyway.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 4
    while phone_socket.sio.connected:
        assert loop.time() < deadline, "the ended session's socket stayed open"
        await asyncio.sleep(0.1)
    async with phone.get(f"{chat.url}/api/v1/auth/me") as response:
        assert response.status == 401
    async with laptop.delete(f"{chat.url}/api/v1/auth/sessions/{other}",
                             headers=csrf) as response:
        assert response.status == 404  # already gone; and never another agent's

    async with laptop.post(f"{chat.url}/api/v1/auth/logout-everywhere",
                           headers=csrf) as response:
        assert response.status == 200
    async with laptop.get(f"{chat.url}/api/v1/auth/me") as response:
        assert response.status == 401


async def test_tokens_have_a_scope_an_expiry_and_a_last_use(chat: Chat) -> None:
    anna = await chat.add_agent("anna@example.fi", "Anna")
    reader = await api_tokens.create(chat.ctx, anna.id, "dashboard", scope="read", days=30)
    full = await api_tokens.create(chat.ctx, anna.id, "bot", days=None)
    visitor = await chat.visitor("en")
    opened = await visitor.call("message", {"client_id": "c", "text": "hello"})
    conversation_id = opened["conversation"]["id"]

    def bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    async with aiohttp.ClientSession() as http:
        async with http.get(f"{chat.url}/api/v1/conversations", headers=bearer(reader)) as r:
            assert r.status == 200
        async with http.post(f"{chat.url}/api/v1/offline-messages/{'0' * 32}/handled",
                             json={"handled": True}, headers=bearer(reader)) as r:
            body = await r.json()
            assert r.status == 403 and body["error"]["code"] == "forbidden", body

    # On the socket a read token receives and reads, and changes nothing.
    socket = Client("/agent")
    await socket.connect(chat.url, auth={"api_token": reader, "queue_version": 2})
    welcome = await socket.next("welcome")
    assert [c["id"] for c in welcome["queue"]] == [conversation_id]
    assert (await socket.call("queue", {}))["ok"]
    for event, payload in (("claim", {"conversation_id": conversation_id}),
                           ("message", {"conversation_id": conversation_id, "client_id": "r",
                                        "text": "hello"}),
                           ("presence", {"status": "away"})):
        refused = await socket.call(event, payload)
        assert refused["ok"] is False and refused["error"]["code"] == "forbidden", refused
    await socket.sio.disconnect()

    listed = await api_tokens.listing(chat.ctx, anna)
    by_name = {t["name"]: t for t in listed}
    assert by_name["dashboard"]["scope"] == "read" and by_name["dashboard"]["last_used_at"]
    assert by_name["dashboard"]["expires_at"] and by_name["bot"]["expires_at"] is None

    # Expired: refused like an unknown token, then deleted by the purge.
    async with chat.ctx.db.begin() as session:
        await session.exec(update(ApiToken).where(ApiToken.label == "dashboard")  # type: ignore[arg-type]
                           .values(expires_at=chat.ctx.clock() - timedelta(minutes=1)))
    async with aiohttp.ClientSession() as http, http.get(
            f"{chat.url}/api/v1/conversations", headers=bearer(reader)) as r:
        assert r.status == 401
    await retention.purge(chat.ctx)
    assert [t["name"] for t in await api_tokens.listing(chat.ctx, anna)] == ["bot"]

    # Revoked from the console's REST call: refused at once.
    http = await chat.login("anna@example.fi")
    bot_id = (await api_tokens.listing(chat.ctx, anna))[0]["id"]
    async with http.delete(f"{chat.url}/api/v1/auth/tokens/{bot_id}",
                           headers={"X-CSRF-Token": http.headers_csrf}) as r:  # type: ignore[attr-defined]
        assert r.status == 200
    assert await api_tokens.check(chat.ctx, full) is None
    assert await agents.get_by_email(chat.ctx, "anna@example.fi")  # the account itself stays


def test_the_command_line_creates_named_scoped_expiring_tokens(tmp_path: Path) -> None:
    assert run(tmp_path, "migrate").returncode == 0
    assert run(tmp_path, "agent", "add", "anna@example.fi", "--name", "Anna",
               "--password-stdin", stdin="violet kettle Rovaniemi harbour\n").returncode == 0
    made = run(tmp_path, "agent", "token", "anna@example.fi", "--name", "grafana",
               "--scope", "read", "--days", "7")
    assert made.returncode == 0, made.stderr
    assert len(made.stdout.strip()) >= 40 and "read token" in made.stderr
    assert "expires in 7 days" in made.stderr
    refused = run(tmp_path, "agent", "token", "anna@example.fi", "--days", "0")
    assert refused.returncode != 0 and "1 to 3650 days" in refused.stderr
    weak = run(tmp_path, "agent", "add", "b@example.fi", "--name", "B", "--password-stdin",
               stdin="password1234\n")
    assert weak.returncode != 0 and "too easy to guess" in weak.stderr


async def test_passkey_logins_started_and_not_finished_are_capped(
        chat: Chat, monkeypatch: pytest.MonkeyPatch) -> None:
    """Anyone may start a passkey login, and each start is stored for five minutes: a flood
    of starts meets `rate_limited` instead of filling the table."""
    from chatserver.services import passkeys

    monkeypatch.setattr(passkeys, "MAX_OPEN_LOGINS", 3)
    async with aiohttp.ClientSession() as http:
        answers = []
        for _ in range(4):
            async with http.post(f"{chat.url}/api/v1/auth/passkey-login/options") as response:
                answers.append((response.status, (await response.json()).get("error")))
    assert [status for status, _ in answers] == [200, 200, 200, 429]
    assert answers[-1][1]["code"] == "rate_limited"
    # Never finished, they expire and the purge deletes them; starts are possible again.
    async with chat.ctx.db.begin() as session:
        await session.exec(update(PasskeyChallenge).values(  # type: ignore[call-overload]
            expires_at=chat.ctx.clock() - timedelta(seconds=1)))
    await retention.purge(chat.ctx)
    async with chat.ctx.read() as session:
        assert (await session.exec(select(PasskeyChallenge))).all() == []
    async with aiohttp.ClientSession() as http, http.post(
            f"{chat.url}/api/v1/auth/passkey-login/options") as response:
        assert response.status == 200
