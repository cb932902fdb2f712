"""The console's "Sessions and tokens" page in a real browser (issue 20, the parts built): the
agent sees where they are logged in, ends another session, revokes a token, and logs out
everywhere."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import aiohttp
import pyotp
import pytest
from playwright.async_api import expect

from chatserver.services import api_tokens
from tests.browser import (  # noqa: F401  (fixtures used by the tests below)
    AXE,
    CHROMIUM,
    axe_source,
    browser_type_launch_args,
    widget_bundle,
)
from tests.helpers import PASSWORD, Chat
from tests.test_console import ANNA, assert_accessible, base_url, open_console, shot  # noqa: F401

pytestmark = pytest.mark.browser
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


async def test_an_agent_ends_a_session_revokes_a_token_and_logs_out_everywhere(
    chat: Chat, new_context: Callable[..., Any], axe_source: str,  # noqa: F811
) -> None:
    anna = await chat.add_agent(ANNA, "Anna")
    await api_tokens.create(chat.ctx, anna.id, "grafana", scope="read", days=30)
    elsewhere = aiohttp.ClientSession(headers={"User-Agent": FIREFOX})
    chat.http.append(elsewhere)
    async with elsewhere.post(f"{chat.url}/api/v1/auth/login",
                              json={"email": ANNA, "password": PASSWORD}) as response:
        assert response.status == 200

    console = await open_console(new_context, chat, ANNA)
    page = console.page
    await page.get_by_role("link", name="Sessions and tokens").click()
    sessions = page.get_by_role("table", name="Where you are logged in")
    await expect(sessions.get_by_role("row")).to_have_count(3)  # the header and two sessions
    await expect(sessions).to_contain_text("This session")
    await expect(sessions).to_contain_text("Firefox on Linux")
    tokens = page.get_by_role("table", name="API tokens")
    await expect(tokens).to_contain_text("grafana")
    await expect(tokens).to_contain_text("read only")
    await assert_accessible(page, axe_source)
    await shot(page, "account")

    await page.get_by_role("button", name="End session Firefox on Linux").click()
    await expect(sessions.get_by_role("row")).to_have_count(2)
    async with elsewhere.get(f"{chat.url}/api/v1/auth/me") as response:
        assert response.status == 401  # that browser is logged out
    await page.get_by_role("button", name="Revoke grafana").click()
    await expect(page.get_by_text("You have no API tokens.")).to_be_visible()
    assert await api_tokens.listing(chat.ctx, anna) == []

    await page.get_by_role("button", name="Log out everywhere").click()
    await expect(page.get_by_role("button", name="Log in")).to_be_visible()
    await page.reload()
    await expect(page.get_by_role("button", name="Log in")).to_be_visible()  # no session left
    console.check()


async def test_an_admin_required_to_use_codes_sets_them_up_and_logs_in_with_one(
    chat_factory: Callable[..., Any], new_context: Callable[..., Any],
    axe_source: str,  # noqa: F811
) -> None:
    """`auth.require_second_factor = "admins"`: at the first login the console shows only the
    set-up (QR code and key), then the recovery codes once; the next login asks for a code."""
    chat: Chat = await chat_factory(auth={"require_second_factor": "admins"})
    await chat.add_agent("admin@example.fi", "Aada", role="admin")
    console = await open_console(new_context, chat, None)
    page = console.page
    await page.get_by_label("Email address").fill("admin@example.fi")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("heading", name="Set up one-time codes")).to_be_visible()
    await page.get_by_role("button", name="Set up one-time codes").click()
    await expect(page.get_by_role("img", name="QR code for your authenticator app")).to_be_visible()
    await assert_accessible(page, axe_source)
    await shot(page, "second-factor-setup")
    secret = (await page.locator("code.secret").inner_text()).replace(" ", "")
    await page.get_by_label("One-time code").fill(pyotp.TOTP(secret).now())
    await page.get_by_role("button", name="Turn on").click()
    await expect(page.locator("ol.recovery-codes li")).to_have_count(10)
    await page.get_by_role("button", name="I have saved them").click()
    await expect(page.get_by_role("button", name="Log out")).to_be_visible()

    await page.get_by_role("button", name="Log out").click()
    await page.get_by_label("Email address").fill("admin@example.fi")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("heading", name="Two-step login")).to_be_visible()
    await page.get_by_label("One-time code").fill("000000")
    await page.get_by_role("button", name="Continue").click()
    await expect(page.locator("#code-error")).to_have_text("That code is not right.")
    # The set-up used this 30-second step's code, and a code is never accepted twice: the
    # next step's code is (a step either side is allowed for clock drift).
    code = pyotp.TOTP(secret).at(int(time.time()) + 30)
    await page.get_by_label("One-time code").fill(code)
    await page.get_by_role("button", name="Continue").click()
    await expect(page.get_by_role("button", name="Log out")).to_be_visible()
    await page.get_by_role("link", name="Sessions and tokens").click()
    on = page.get_by_text("One-time codes are on. Recovery codes left: 10.")
    await expect(on).to_be_visible()
    console.check()
