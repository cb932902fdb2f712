"""Agent accounts: login, logout, sessions, throttling, CSRF and socket authentication."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
import socketio

from tests.helpers import PASSWORD, Chat


async def _login(chat: Chat, http: aiohttp.ClientSession, email: str, password: str
                 ) -> tuple[int, Any]:
    async with http.post(f"{chat.url}/api/v1/auth/login",
                         json={"email": email, "password": password}) as response:
        return response.status, await response.json()


def _jar() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def test_login_sets_an_httponly_lax_session_cookie_and_me_works(chat: Chat) -> None:
    await chat.add_agent("anna@example.fi", "Anna", role="admin")
    async with _jar() as http:
        async with http.post(f"{chat.url}/api/v1/auth/login",
                             json={"email": "Anna@Example.fi", "password": PASSWORD}) as response:
            assert response.status == 200
            body = await response.json()
            raw_cookie = response.headers["Set-Cookie"]
        assert "HttpOnly" in raw_cookie and "SameSite=Lax" in raw_cookie
        assert body["agent"]["email"] == "anna@example.fi" and body["csrf_token"]
        async with http.get(f"{chat.url}/api/v1/auth/me") as response:
            me = await response.json()
        assert me["agent"]["name"] == "Anna" and me["csrf_token"] == body["csrf_token"]


async def test_wrong_password_and_bad_bodies_get_clear_errors(chat: Chat) -> None:
    await chat.add_agent("anna@example.fi", "Anna")
    async with _jar() as http:
        status, body = await _login(chat, http, "anna@example.fi", "wrong password!")
        assert status == 401 and body["error"]["code"] == "unauthorized"
        async with http.post(f"{chat.url}/api/v1/auth/login", data="{not json",
                             headers={"Content-Type": "application/json"}) as response:
            assert response.status == 400
            assert (await response.json())["error"]["code"] == "invalid_input"
        async with http.post(f"{chat.url}/api/v1/auth/login?lang=fi",
                             json={"email": "a@example.fi"}) as response:
            error = (await response.json())["error"]
            assert response.status == 400 and "puuttuu" in error["message"]
        async with http.post(f"{chat.url}/api/v1/auth/login", json={
            "email": "a@example.fi", "password": "x", "admin": True
        }) as response:
            assert (await response.json())["error"]["code"] == "invalid_input"


async def test_repeated_wrong_passwords_throttle_the_account(chat: Chat) -> None:
    await chat.add_agent("anna@example.fi", "Anna")
    async with _jar() as http:
        for _ in range(5):
            status, _body = await _login(chat, http, "anna@example.fi", "not the password")
            assert status == 401
        status, body = await _login(chat, http, "anna@example.fi", PASSWORD)
        assert status == 429 and body["error"]["code"] == "rate_limited"
        assert "15" in body["error"]["message"]


async def test_throttling_per_client_address_across_accounts(chat_factory: Any) -> None:
    chat = await chat_factory(auth={"max_failures_per_address": 3})
    await chat.add_agent("anna@example.fi", "Anna")
    async with _jar() as http:
        for n in range(3):
            await _login(chat, http, f"nobody{n}@example.fi", "whatever password")
        status, body = await _login(chat, http, "anna@example.fi", PASSWORD)
        assert status == 429 and body["error"]["code"] == "rate_limited"


async def test_login_rotates_the_session(chat: Chat) -> None:
    await chat.add_agent("anna@example.fi", "Anna")
    async with _jar() as http:
        await _login(chat, http, "anna@example.fi", PASSWORD)
        first = {c.key: c.value for c in http.cookie_jar}["chatserver_session"]
        await _login(chat, http, "anna@example.fi", PASSWORD)
        second = {c.key: c.value for c in http.cookie_jar}["chatserver_session"]
    assert first != second
    async with aiohttp.ClientSession() as other, other.get(
        f"{chat.url}/api/v1/auth/me", headers={"Cookie": f"chatserver_session={first}"}
    ) as response:
        assert response.status == 401


async def test_state_changing_calls_need_the_csrf_token(chat: Chat) -> None:
    await chat.add_agent("admin@example.fi", "Admin", role="admin")
    http = await chat.login("admin@example.fi")
    new_agent = {"email": "b@example.fi", "name": "B", "password": "long enough pw"}
    async with http.post(f"{chat.url}/api/v1/agents", json=new_agent) as response:
        assert response.status == 403
        assert (await response.json())["error"]["code"] == "forbidden"
    async with http.post(f"{chat.url}/api/v1/agents", json=new_agent,
                         headers={"X-CSRF-Token": http.headers_csrf}) as response:  # type: ignore
        assert response.status == 201, await response.text()


async def test_agent_role_is_refused_on_admin_endpoints(chat: Chat) -> None:
    await chat.add_agent("agent@example.fi", "Agent")
    http = await chat.login("agent@example.fi")
    async with http.get(f"{chat.url}/api/v1/agents") as response:
        assert response.status == 403
    async with http.post(f"{chat.url}/api/v1/agents", json={},
                         headers={"X-CSRF-Token": http.headers_csrf}) as response:  # type: ignore
        assert response.status == 403


async def test_nothing_is_readable_without_authentication(chat: Chat) -> None:
    async with aiohttp.ClientSession() as http:
        for path in ("/api/v1/conversations", "/api/v1/conversations/x", "/api/v1/agents",
                     "/api/v1/auth/me"):
            async with http.get(f"{chat.url}{path}") as response:
                assert response.status == 401, path
                assert (await response.json())["error"]["code"] == "unauthorized"


async def test_unauthenticated_agent_socket_is_refused(chat: Chat) -> None:
    client = socketio.AsyncClient(reconnection=False)
    errors: list[Any] = []
    client.on("connect_error", errors.append, namespace="/agent")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(chat.url, namespaces=["/agent"], transports=["websocket"],
                             wait_timeout=5)
    assert errors, errors
    assert errors[0]["data"]["code"] == "unauthorized" and errors[0]["data"]["message"]
    forged = socketio.AsyncClient(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await forged.connect(chat.url, namespaces=["/agent"], transports=["websocket"],
                             headers={"Cookie": "chatserver_session=forged"}, wait_timeout=5)


async def test_agent_socket_from_a_foreign_origin_is_refused(chat: Chat) -> None:
    await chat.add_agent("anna@example.fi", "Anna")
    http = await chat.login("anna@example.fi")
    cookies = "; ".join(f"{c.key}={c.value}" for c in http.cookie_jar)
    client = socketio.AsyncClient(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(chat.url, namespaces=["/agent"], transports=["websocket"],
                             headers={"Cookie": cookies, "Origin": "https://evil.example"},
                             wait_timeout=5)


async def test_visitor_socket_from_an_unlisted_origin_is_refused(chat_factory: Any) -> None:
    chat = await chat_factory(allowed_origins=["https://shop.example.fi"])
    version = await chat.notice_version()
    allowed = socketio.AsyncClient(reconnection=False)
    await allowed.connect(chat.url, namespaces=["/visitor"], transports=["websocket"],
                          headers={"Origin": "https://shop.example.fi"},
                          auth={"notice_version": version}, wait_timeout=5)
    await allowed.disconnect()
    stranger = socketio.AsyncClient(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await stranger.connect(chat.url, namespaces=["/visitor"], transports=["websocket"],
                               headers={"Origin": "https://evil.example"},
                               auth={"notice_version": version}, wait_timeout=5)


async def test_logged_out_session_no_longer_works(chat: Chat) -> None:
    agent = await chat.agent("anna@example.fi", "Anna")
    http = agent.http
    assert http is not None
    cookies = "; ".join(f"{c.key}={c.value}" for c in http.cookie_jar)
    async with http.post(f"{chat.url}/api/v1/auth/logout",
                         headers={"X-CSRF-Token": http.headers_csrf}) as response:  # type: ignore
        assert response.status == 200
    async with aiohttp.ClientSession() as other, other.get(
        f"{chat.url}/api/v1/auth/me", headers={"Cookie": cookies}
    ) as response:
        assert response.status == 401
    # The socket opened with that session is refused its next event and disconnected.
    ack = await agent.call("presence", {"status": "away"})
    assert ack["ok"] is False and ack["error"]["code"] == "unauthorized"
    again = socketio.AsyncClient(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await again.connect(chat.url, namespaces=["/agent"], transports=["websocket"],
                            headers={"Cookie": cookies}, wait_timeout=5)


async def test_disabled_agent_cannot_log_in_or_keep_using_a_socket(chat: Chat) -> None:
    from chatserver.services import agents

    agent = await chat.agent("anna@example.fi", "Anna")
    account = await agents.get_by_email(chat.ctx, "anna@example.fi")
    await agents.set_disabled(chat.ctx, account.id or 0, True)
    ack = await agent.call("presence", {"status": "online"})
    assert ack["error"]["code"] == "unauthorized"
    async with _jar() as http:
        status, _body = await _login(chat, http, "anna@example.fi", PASSWORD)
        assert status == 401


async def test_api_token_authenticates_rest_and_socket(chat: Chat) -> None:
    from chatserver.services import agents

    account = await chat.add_agent("bot@example.fi", "Script")
    token = await agents.create_api_token(chat.ctx, account.id, "test")
    async with aiohttp.ClientSession() as http, http.get(
        f"{chat.url}/api/v1/conversations", headers={"Authorization": f"Bearer {token}"}
    ) as response:
        assert response.status == 200
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(chat.url, namespaces=["/agent"], transports=["websocket"],
                         auth={"api_token": token}, wait_timeout=5)
    assert client.connected
    await client.disconnect()


async def test_availability_is_pushed_when_first_agent_arrives_and_last_leaves(chat: Chat
                                                                              ) -> None:
    visitor = await chat.visitor("en")
    assert visitor.welcome["online"] is False
    agent = await chat.agent("anna@example.fi", "Anna")
    assert (await visitor.next("availability")) == {"online": True}
    await agent.call("presence", {"status": "away"})
    assert (await visitor.next("availability")) == {"online": False}
    await agent.call("presence", {"status": "online"})
    assert (await visitor.next("availability")) == {"online": True}
    await agent.sio.disconnect()
    assert (await visitor.next("availability")) == {"online": False}


async def test_oversized_body_gets_too_large_and_unknown_api_path_not_found(chat: Chat) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{chat.url}/api/v1/auth/login",
                             json={"email": "a@example.fi", "password": "x" * 100_000}) as response:
            assert response.status == 413
            assert (await response.json())["error"]["code"] == "too_large"
        async with http.get(f"{chat.url}/api/v1/nothing-here") as response:
            assert response.status == 404
            assert (await response.json())["error"]["code"] == "not_found"
        async with http.delete(f"{chat.url}/api/v1/auth/login") as response:
            assert response.status == 405
            assert (await response.json())["error"]["code"] == "invalid_input"
