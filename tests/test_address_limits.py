"""Limits per client address (chatserver/services/address_limits.py): a script that opens many
widget connections from one address is stopped at the connection, at the new conversation and
at the offline form, while visitors behind other addresses chat on; and the address itself is
never stored, only a keyed hash that a copy of the database cannot be matched against.
See docs/security.md."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
import socketio
from sqlalchemy import func
from sqlmodel import SQLModel, select

from chatserver.db.models import Conversation, LoginFailure, Message, OfflineMessage
from chatserver.services.address_limits import (
    HOUR,
    SWEEP_EVERY,
    SWEEP_SECONDS,
    AddressLimits,
    counted_as,
)
from chatserver.settings import ConfigError, load_settings
from tests.helpers import PASSWORD, Chat, Client
from tests.mailserver import Clock

PROXY = ["127.0.0.1"]  # the test clients connect from here, as a reverse proxy would
SCRIPT, NEIGHBOUR = "198.51.100.7", "203.0.113.20"


async def _visitor(chat: Chat, lang: str = "fi", forwarded_for: str | None = None) -> Client:
    client = Client("/visitor")
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    await client.connect(chat.url, headers=headers,
                         auth={"lang": lang, "notice_version": await chat.notice_version()})
    chat.clients.append(client.sio)
    await client.next("welcome")
    return client


async def _refused(chat: Chat, lang: str, forwarded_for: str) -> dict[str, Any]:
    client = socketio.AsyncClient(reconnection=False)
    errors: list[Any] = []
    client.on("connect_error", errors.append, namespace="/visitor")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(chat.url, namespaces=["/visitor"], transports=["websocket"],
                             headers={"X-Forwarded-For": forwarded_for}, wait_timeout=5,
                             auth={"lang": lang, "notice_version": await chat.notice_version()})
    assert errors, "refused without a connect_error"
    return dict(errors[0]["data"])


async def _rows(chat: Chat, model: type[SQLModel]) -> int:
    async with chat.ctx.db() as session:
        return int((await session.exec(select(func.count()).select_from(model))).one())


async def test_one_address_holds_only_so_many_widget_connections(
        chat_factory: Callable[..., Any]) -> None:
    chat = await chat_factory(trusted_proxies=PROXY,
                              limits={"visitor_connections_per_address": 3})
    windows = [await _visitor(chat, forwarded_for=SCRIPT) for _ in range(3)]
    error = await _refused(chat, "sv", SCRIPT)
    assert error["code"] == "rate_limited"
    assert "Stäng ett och försök igen" in error["message"]
    # Someone else behind the same proxy is not affected.
    neighbour = await _visitor(chat, "en", forwarded_for=NEIGHBOUR)
    assert (await neighbour.call("message", {"client_id": "1", "text": "Hello"}))["ok"]
    # Closing a window frees its place.
    await windows[0].sio.disconnect()
    key = chat.ctx.address_limits.key_for("address", SCRIPT)
    for _ in range(100):
        if chat.ctx.address_limits.open_connections(key) == 2:
            break
        await asyncio.sleep(0.02)
    again = await _visitor(chat, forwarded_for=SCRIPT)
    assert (await again.call("message", {"client_id": "1", "text": "Hei"}))["ok"]


async def test_every_way_a_connection_ends_gives_its_place_back(
        chat_factory: Callable[..., Any]) -> None:
    """A clean disconnect, a dropped transport, and refusals before or at the limit: once they
    are over, the address holds no place, so honest visitors are never locked out by leaks."""
    chat = await chat_factory(limits={"visitor_connections_per_address": 2})
    key = chat.ctx.address_limits.key_for("address", "127.0.0.1")
    clean, dropped = await chat.visitor("fi"), await chat.visitor("en")
    assert chat.ctx.address_limits.open_connections(key) == 2
    assert (await _refused(chat, "fi", "127.0.0.1"))["code"] == "rate_limited"
    stale = socketio.AsyncClient(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):  # refused for the notice
        await stale.connect(chat.url, namespaces=["/visitor"], transports=["websocket"],
                            auth={"lang": "fi", "notice_version": "old"}, wait_timeout=5)
    await clean.sio.disconnect()
    await dropped.sio.eio.disconnect(abort=True)
    for _ in range(250):
        if chat.ctx.address_limits.open_connections(key) == 0:
            break
        await asyncio.sleep(0.02)
    assert chat.ctx.address_limits.open_connections(key) == 0
    await chat.visitor("sv")
    await chat.visitor("sv")


async def test_a_forged_forwarded_for_from_an_untrusted_client_counts_as_its_own_address(
        chat_factory: Callable[..., Any]) -> None:
    """Without `trusted_proxies` the header is anybody's to write: a script cannot dodge the
    limit by sending a new X-Forwarded-For with each connection."""
    chat = await chat_factory(limits={"visitor_connections_per_address": 2})
    for n in range(2):
        await _visitor(chat, forwarded_for=f"198.51.100.{n}")
    assert (await _refused(chat, "fi", "198.51.100.99"))["code"] == "rate_limited"


async def test_addresses_of_one_ipv6_64_count_as_one_client(
        chat_factory: Callable[..., Any]) -> None:
    chat = await chat_factory(trusted_proxies=PROXY,
                              limits={"visitor_connections_per_address": 2})
    for address in ("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff"):
        await _visitor(chat, forwarded_for=address)
    assert (await _refused(chat, "en", "2001:db8:1:2:abcd::9"))["code"] == "rate_limited"
    await _visitor(chat, forwarded_for="2001:db8:1:3::1")  # the next /64 is someone else
    assert counted_as("::ffff:198.51.100.7") == "198.51.100.7" == counted_as("198.51.100.7")
    assert counted_as("[2001:db8::5]") == "2001:db8::/64"
    assert counted_as("unknown") == "unknown"


async def test_one_address_starts_only_so_many_conversations_an_hour(
        chat_factory: Callable[..., Any]) -> None:
    clock = Clock()
    chat = await chat_factory(clock=clock, limits={"conversations_per_address_per_hour": 2})
    visitors = [await chat.visitor("en") for _ in range(3)]
    for n, visitor in enumerate(visitors[:2]):
        assert (await visitor.call("message", {"client_id": "1", "text": f"Hello {n}"}))["ok"]
    refused = await visitors[2].call("message", {"client_id": "1", "text": "One more"})
    assert refused["ok"] is False and refused["error"]["code"] == "rate_limited"
    assert "Please try again later" in refused["error"]["message"]
    handoff = await visitors[2].call("handoff", {})
    assert handoff["ok"] is False and handoff["error"]["code"] == "rate_limited"
    assert await _rows(chat, Conversation) == 2 and await _rows(chat, Message) == 2
    # The conversations already under way go on.
    assert (await visitors[0].call("message", {"client_id": "2", "text": "And then"}))["ok"]
    clock.advance(minutes=61)
    assert (await visitors[2].call("message", {"client_id": "1", "text": "One more"}))["ok"]
    assert await _rows(chat, Conversation) == 3


async def _offline(visitor: Client, n: int) -> Any:
    return await visitor.call("offline_message", {"name": "Maija", "email": f"m{n}@example.fi",
                                                  "text": f"Soittakaa minulle {n}"})


async def test_one_address_cannot_use_up_the_offline_form_for_everybody(
        chat_factory: Callable[..., Any]) -> None:
    chat = await chat_factory(trusted_proxies=PROXY, limits={
        "offline_per_address_per_hour": 2, "offline_per_hour": 5})
    for n in range(2):  # each from a new connection, past the per-connection limit
        assert (await _offline(await _visitor(chat, forwarded_for=SCRIPT), n))["ok"]
    refused = await _offline(await _visitor(chat, forwarded_for=SCRIPT), 2)
    assert refused["ok"] is False and refused["error"]["code"] == "rate_limited"
    assert "Yritä myöhemmin uudelleen" in refused["error"]["message"]
    assert (await _offline(await _visitor(chat, forwarded_for=NEIGHBOUR), 3))["ok"]
    assert await _rows(chat, OfflineMessage) == 3


async def _fail_login(chat: Chat, email: str) -> int:
    async with aiohttp.ClientSession() as http, http.post(
        f"{chat.url}/api/v1/auth/login", json={"email": email, "password": "not the password"},
    ) as response:
        return response.status


async def test_login_throttling_keeps_only_keyed_hashes(chat_factory: Callable[..., Any]) -> None:
    """The failed logins are stored under an HMAC with `auth.address_key`. A copy of the
    database holds neither the address nor the account, nor their plain SHA-256, which anyone
    could compute for every IPv4 address in minutes."""
    key = "k" * 40
    chat = await chat_factory(auth={"address_key": key})
    assert await _fail_login(chat, "anna@example.fi") == 401
    async with chat.ctx.db() as session:
        stored = set((await session.exec(select(LoginFailure.key_hash))).all())

    def keyed(value: str) -> str:
        return hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()[:32]

    def plain(value: str) -> str:
        return hashlib.sha256(value.encode()).hexdigest()[:32]

    assert stored == {keyed("account:anna@example.fi"), keyed("address:127.0.0.1")}
    raw = chat.database_bytes()
    for value in ("account:anna@example.fi", "address:127.0.0.1"):
        assert plain(value).encode() not in raw
    assert b"anna@example.fi" not in raw and b"127.0.0.1" not in raw


async def test_nodes_with_the_same_address_key_throttle_together(
        chat_factory: Callable[..., Any]) -> None:
    """Two nodes on one database: with one `auth.address_key` failed logins at one count at the
    other; with a random key each (the default) they do not, hence the start-up warning."""
    limits = {"max_failures_per_account": 2, "max_failures_per_address": 100}
    key = "shared secret key of forty characters!!!"
    first = await chat_factory(auth={**limits, "address_key": key})
    second = await chat_factory(auth={**limits, "address_key": key})
    lone = await chat_factory(auth=limits)
    await first.add_agent("anna@example.fi", "Anna")
    assert [await _fail_login(first, "anna@example.fi") for _ in range(2)] == [401, 401]
    assert await _fail_login(second, "anna@example.fi") == 429
    assert await _fail_login(lone, "anna@example.fi") == 401
    async with aiohttp.ClientSession() as http, http.post(
        f"{lone.url}/api/v1/auth/login", json={"email": "anna@example.fi", "password": PASSWORD},
    ) as response:
        assert response.status == 200


def test_an_address_key_too_short_to_be_a_secret_stops_start_up() -> None:
    with pytest.raises(ConfigError, match=r"auth\.address_key.*32 random characters"):
        load_settings(environ={"CHATSERVER_AUTH__ADDRESS_KEY": "secret"})


def test_windows_of_addresses_gone_quiet_are_dropped() -> None:
    """A scan from many addresses leaves no more than about an hour's worth of windows, and
    an address is forgotten soon after its hour."""
    now = [0.0]
    limits = AddressLimits(b"k" * 32, now=lambda: now[0])
    for n in range(SWEEP_EVERY):
        limits.take("conversation", limits.key_for("address", f"10.0.{n // 256}.{n % 256}"),
                    5, "m")
    now[0] += HOUR + 1
    for n in range(SWEEP_EVERY):
        limits.take("conversation", limits.key_for("address", f"10.1.{n // 256}.{n % 256}"),
                    5, "m")
    assert len(limits._recent) == SWEEP_EVERY  # the second hour's, each with its one entry
    assert all(len(window) == 1 for window in limits._recent.values())
    # A quiet site forgets too: the first call a minute after the hour has run out.
    now[0] += HOUR + SWEEP_SECONDS + 1
    limits.take("offline", limits.key_for("address", "192.0.2.1"), 5, "m")
    assert list(limits._recent) == [("offline", limits.key_for("address", "192.0.2.1"))]
