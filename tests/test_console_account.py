"""The console's "Sessions and tokens" page in a real browser (issue 20, the parts built): the
agent sees where they are logged in, ends another session, revokes a token, and logs out
everywhere."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pyotp
import pytest
from playwright.async_api import expect

from chatserver.app import create_app
from chatserver.services import api_tokens
from tests.browser import (  # noqa: F401  (fixtures used by the tests below)
    AXE,
    CHROMIUM,
    axe_source,
    browser_type_launch_args,
    widget_bundle,
)
from tests.helpers import PASSWORD, Chat, free_port, make_settings
from tests.test_console import (  # noqa: F401  (base_url: a fixture)
    ANNA,
    assert_accessible,
    base_url,
    log_in,
    open_console,
    shot,
)

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
    await expect(page.get_by_role("button", name="Log in", exact=True)).to_be_visible()
    await page.reload()  # no session is left to resume
    await expect(page.get_by_role("button", name="Log in", exact=True)).to_be_visible()
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
    await page.get_by_role("button", name="Log in", exact=True).click()
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
    await expect(page.get_by_role("button", name="Log out", exact=True)).to_be_visible()

    await page.get_by_role("button", name="Log out", exact=True).click()
    await page.get_by_label("Email address").fill("admin@example.fi")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in", exact=True).click()
    await expect(page.get_by_role("heading", name="Two-step login")).to_be_visible()
    await page.get_by_label("One-time code").fill("000000")
    await page.get_by_role("button", name="Continue").click()
    await expect(page.locator("#code-error")).to_have_text("That code is not right.")
    # The set-up used this 30-second step's code, and a code is never accepted twice: the
    # next step's code is (a step either side is allowed for clock drift).
    code = pyotp.TOTP(secret).at(int(time.time()) + 30)
    await page.get_by_label("One-time code").fill(code)
    await page.get_by_role("button", name="Continue").click()
    await expect(page.get_by_role("button", name="Log out", exact=True)).to_be_visible()
    await page.get_by_role("link", name="Sessions and tokens").click()
    on = page.get_by_text("One-time codes are on. Recovery codes left: 10.")
    await expect(on).to_be_visible()
    console.check()


async def test_passkeys_register_log_in_alone_or_after_the_password_and_are_removed(
    tmp_path: Path, template_database: Path, aiohttp_server: Any,
    new_context: Callable[..., Any], axe_source: str,  # noqa: F811
) -> None:
    """Chromium's virtual authenticator (DevTools protocol `WebAuthn`) stands in for a phone or
    a security key. The site is `localhost`: an IP address cannot be a WebAuthn relying party."""
    port = free_port()
    shutil.copy(template_database, tmp_path / "chatserver.db")
    settings = make_settings(tmp_path, port, public_url=f"http://localhost:{port}")
    app = create_app(settings)
    chat = Chat(await aiohttp_server(app, port=port), settings, app)
    await chat.add_agent(ANNA, "Anna")
    context = await new_context()
    page = await context.new_page()
    devtools = await context.new_cdp_session(page)
    await devtools.send("WebAuthn.enable")
    await devtools.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
        "hasUserVerification": True, "isUserVerified": True,
        "automaticPresenceSimulation": True}})
    await page.goto(settings.public_url + "/console")
    await log_in(page, ANNA)

    await page.get_by_role("link", name="Sessions and tokens").click()
    await expect(page.get_by_text("You have no passkeys.")).to_be_visible()
    await page.get_by_label("Name of the new passkey").fill("laptop")
    await page.get_by_role("button", name="Add a passkey").click()
    keys = page.get_by_role("table", name="Passkeys")
    await expect(keys).to_contain_text("laptop")
    await assert_accessible(page, axe_source)
    await shot(page, "passkeys")

    # A passkey alone logs in.
    await page.get_by_role("button", name="Log out", exact=True).click()
    await page.get_by_role("button", name="Log in with a passkey").click()
    await expect(page.get_by_role("button", name="Log out", exact=True)).to_be_visible()
    # With a passkey, a password login asks for it as the second step.
    await page.get_by_role("button", name="Log out", exact=True).click()
    await page.get_by_label("Email address").fill(ANNA)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in", exact=True).click()
    await page.get_by_role("button", name="Use a passkey").click()
    await expect(page.get_by_role("button", name="Log out", exact=True)).to_be_visible()

    # Removed, it no longer works (the authenticator still holds it; the server refuses).
    await page.get_by_role("link", name="Sessions and tokens").click()
    await page.get_by_role("button", name="Remove laptop").click()
    await expect(page.get_by_text("You have no passkeys.")).to_be_visible()
    await page.get_by_role("button", name="Log out", exact=True).click()
    await page.get_by_role("button", name="Log in with a passkey").click()
    await expect(page.locator("#login-error")).to_have_text("That passkey was not accepted.")
    await chat.close()
