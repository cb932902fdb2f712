"""One-time codes as the second factor (issue 20): enrolment with a code computed from the
shown secret, login with a code, replays refused, recovery codes used once, the policy that
leaves an admin without a factor nothing but enrolment, and the reset."""

from __future__ import annotations

from typing import Any

import aiohttp
import pyotp
import pytest
import socketio

from chatserver.services import agents
from tests.helpers import PASSWORD, Chat, Client
from tests.mailserver import Clock
from tests.test_cli import run

URL = "{}/api/v1{}"


class Browser:
    """One agent's cookie jar and CSRF token, as the console keeps them."""

    def __init__(self, chat: Chat) -> None:
        self.chat = chat
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        chat.http.append(self.http)
        self.csrf = ""

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"X-CSRF-Token": self.csrf} if self.csrf else {}
        async with self.http.request(method, URL.format(self.chat.url, path), json=body,
                                     headers=headers) as response:
            data = await response.json()
        if isinstance(data, dict) and data.get("csrf_token"):
            self.csrf = data["csrf_token"]
        return response.status, data

    async def socket_is_refused(self) -> None:
        """A session at a login step opens no agent socket."""
        cookies = "; ".join(f"{c.key}={c.value}" for c in self.http.cookie_jar)
        socket = Client("/agent")
        with pytest.raises(socketio.exceptions.ConnectionError):
            await socket.connect(self.chat.url, headers={"Cookie": cookies})

    async def login(self, email: str) -> Any:
        status, body = await self.call("POST", "/auth/login",
                                       {"email": email, "password": PASSWORD})
        assert status == 200, body
        return body


async def _enrol(browser: Browser, clock: Clock) -> tuple[pyotp.TOTP, list[str]]:
    status, started = await browser.call("POST", "/auth/second-factor/start")
    assert status == 200, started
    assert started["qr"].startswith("data:image/svg+xml") and started["uri"].startswith(
        "otpauth://totp/")
    totp = pyotp.TOTP(started["secret"])
    status, refused = await browser.call("POST", "/auth/second-factor/confirm",
                                         {"code": "000000" if totp.at(clock.now) != "000000"
                                          else "111111"})
    assert status == 400 and refused["error"]["code"] == "invalid_input"
    status, confirmed = await browser.call("POST", "/auth/second-factor/confirm",
                                           {"code": totp.at(clock.now)})
    assert status == 200, confirmed
    return totp, confirmed["recovery_codes"]


async def test_codes_are_set_up_used_once_and_recovery_codes_once(chat_factory: Any) -> None:
    clock = Clock()
    chat: Chat = await chat_factory(clock=clock)
    await chat.add_agent("anna@example.fi", "Anna")
    anna = Browser(chat)
    assert (await anna.login("anna@example.fi"))["stage"] == ""
    totp, recovery = await _enrol(anna, clock)
    assert len(recovery) == 10 and len(set(recovery)) == 10
    status, state = await anna.call("GET", "/auth/second-factor")
    assert state["enabled"] is True and state["recovery_codes_left"] == 10

    # The next login needs a code; before it, the session reaches nothing else.
    clock.advance(seconds=60)
    laptop = Browser(chat)
    assert (await laptop.login("anna@example.fi"))["stage"] == "second_factor"
    status, refused = await laptop.call("GET", "/conversations")
    assert status == 403 and "one-time code" in refused["error"]["message"]
    await laptop.socket_is_refused()
    code = totp.at(clock.now)
    status, verified = await laptop.call("POST", "/auth/verify", {"code": code})
    assert status == 200 and verified["stage"] == "", verified
    assert (await laptop.call("GET", "/conversations"))[0] == 200

    # The same code again, in the same 30 seconds, on another login: refused.
    phone = Browser(chat)
    await phone.login("anna@example.fi")
    status, replayed = await phone.call("POST", "/auth/verify", {"code": code})
    assert status == 401 and replayed["error"]["code"] == "unauthorized", replayed
    # A recovery code works once (typed with spaces or without the dash as well).
    status, _ok = await phone.call("POST", "/auth/verify", {"code": recovery[0].replace("-", " ")})
    assert status == 200
    tablet = Browser(chat)
    await tablet.login("anna@example.fi")
    status, _refused = await tablet.call("POST", "/auth/verify", {"code": recovery[0]})
    assert status == 401
    assert (await anna.call("GET", "/auth/second-factor"))[1]["recovery_codes_left"] == 9


async def test_policy_admins_leaves_an_admin_without_a_factor_only_enrolment(
        chat_factory: Any, tmp_path: Any) -> None:
    clock = Clock()
    chat: Chat = await chat_factory(clock=clock, auth={"require_second_factor": "admins"})
    await chat.add_agent("admin@example.fi", "Aada", role="admin")
    await chat.add_agent("anna@example.fi", "Anna")
    admin, agent = Browser(chat), Browser(chat)
    assert (await admin.login("admin@example.fi"))["stage"] == "enrol"
    assert (await agent.login("anna@example.fi"))["stage"] == ""  # not under the policy
    assert (await agent.call("GET", "/conversations"))[0] == 200
    for method, path in (("GET", "/agents"), ("GET", "/conversations"), ("GET", "/audit"),
                         ("GET", "/auth/sessions")):
        status, body = await admin.call(method, path)
        assert status == 403 and "Set up one-time codes" in body["error"]["message"], body
    assert (await admin.call("GET", "/auth/me"))[1]["stage"] == "enrol"
    await admin.socket_is_refused()
    await _enrol(admin, clock)
    assert (await admin.call("GET", "/auth/me"))[1]["stage"] == ""
    assert (await admin.call("GET", "/agents"))[0] == 200
    # Under the policy the admin cannot turn the codes off themselves...
    status, _body = await admin.call("DELETE", "/auth/second-factor")
    assert status == 403
    # ...but another admin (or the command line) resets them, which ends the sessions.
    anna = await agents.get_by_email(chat.ctx, "anna@example.fi")
    status, _body = await admin.call("POST", f"/agents/{anna.id}/second-factor/reset")
    assert status == 200
    assert (await agent.call("GET", "/auth/me"))[0] == 401


def test_the_command_line_resets_a_locked_out_admin(tmp_path: Any) -> None:
    assert run(tmp_path, "migrate").returncode == 0
    assert run(tmp_path, "agent", "add", "admin@example.fi", "--name", "Aada", "--role",
               "admin", "--password-stdin",
               stdin="violet kettle Rovaniemi harbour\n").returncode == 0
    reset = run(tmp_path, "agent", "reset-second-factor", "admin@example.fi")
    assert reset.returncode == 0, reset.stderr
    assert "one-time codes removed for admin@example.fi" in reset.stdout
