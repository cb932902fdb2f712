"""Behind a reverse proxy: login throttling per client address uses X-Forwarded-For only when
the request comes from a trusted proxy (`trusted_proxies`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from chatserver.http.proxies import client_address, networks
from chatserver.settings import ConfigError, load_settings
from tests.conftest import PASSWORD


def test_the_client_is_the_last_untrusted_hop() -> None:
    trusted = networks(["127.0.0.1", "10.0.0.0/8"])
    assert client_address("127.0.0.1", ["198.51.100.7"], trusted) == "198.51.100.7"
    # A forged first entry does not help: the proxy appended the real address last.
    assert client_address("127.0.0.1", ["1.2.3.4, 198.51.100.7"], trusted) == "198.51.100.7"
    assert client_address("127.0.0.1", ["198.51.100.7, 10.1.2.3"], trusted) == "198.51.100.7"
    # Not from a trusted proxy: the header is anybody's to write.
    assert client_address("203.0.113.9", ["198.51.100.7"], trusted) == "203.0.113.9"
    assert client_address("127.0.0.1", ["198.51.100.7"], []) == "127.0.0.1"
    assert client_address("127.0.0.1", [], trusted) == "127.0.0.1"
    assert client_address(None, [], trusted) == "unknown"


def test_a_bad_proxy_entry_stops_start_up() -> None:
    with pytest.raises(ConfigError, match="trusted_proxies"):
        load_settings(environ={"CHATSERVER_TRUSTED_PROXIES": "nginx.local"})
    settings = load_settings(environ={"CHATSERVER_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8"})
    assert settings.trusted_proxies == ["127.0.0.1", "10.0.0.0/8"]


async def _login(url: str, email: str, password: str, forwarded_for: str) -> int:
    async with aiohttp.ClientSession() as http, http.post(
        f"{url}/api/v1/auth/login", json={"email": email, "password": password},
        headers={"X-Forwarded-For": forwarded_for},
    ) as response:
        return response.status


@pytest.mark.parametrize("trusted", [True, False])
async def test_throttling_per_address_behind_a_proxy(
    chat_factory: Callable[..., Any], trusted: bool,
) -> None:
    chat = await chat_factory(
        trusted_proxies=["127.0.0.1"] if trusted else [],
        auth={"max_failures_per_address": 2, "max_failures_per_account": 100},
    )
    await chat.add_agent("anna@example.fi", "Anna")
    for n in range(2):
        assert await _login(chat.url, f"nobody{n}@example.fi", "wrong password!",
                            "198.51.100.7") == 401
    assert await _login(chat.url, "nobody@example.fi", "wrong password!", "198.51.100.7") == 429
    # Someone else behind the same proxy.
    status = await _login(chat.url, "anna@example.fi", PASSWORD, "203.0.113.20")
    assert status == (200 if trusted else 429)
