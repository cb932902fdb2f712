"""Behind a reverse proxy: login throttling and the per-address limits use X-Forwarded-For only when
the request comes from a trusted proxy (`trusted_proxies`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from chatserver.http.proxies import client_address, networks
from chatserver.settings import ConfigError, load_settings
from tests.helpers import PASSWORD


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


async def test_a_proxy_missing_from_trusted_proxies_is_named_in_a_warning_once(
    chat_factory: Callable[..., Any], caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Behind a proxy that is not trusted every visitor counts as the proxy's one address, and
    the per-address limits would hit them all: the operator is told, once, without any address
    (the header may come from a visitor)."""
    from chatserver.http import proxies

    monkeypatch.setattr(proxies, "_warned_untrusted", False)
    chat = await chat_factory()
    for _ in range(3):
        assert await _login(chat.url, "nobody@example.fi", "wrong password!",
                            "198.51.100.7") == 401
    warnings = [r for r in caplog.records if "trusted_proxies" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelname == "WARNING"
    assert "198.51.100.7" not in warnings[0].getMessage()
    assert "127.0.0.1" not in warnings[0].getMessage()
