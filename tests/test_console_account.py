"""The console's "Sessions and tokens" page in a real browser (issue 20, the parts built): the
agent sees where they are logged in, ends another session, revokes a token, and logs out
everywhere."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp
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
