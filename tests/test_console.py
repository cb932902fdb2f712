"""The agent console in Debian's Chromium (Playwright, one browser per session): login and
throttling, a visitor's chat claimed and answered, transfer, canned responses, the offline
inbox answered by email (aiosmtpd), erasure by email, admin-only pages, script payloads as
text, reconnects that keep drafts, and axe-core on every main view."""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
from collections.abc import Callable
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from playwright.async_api import Page, expect

from chatserver.keys import AGENTS
from tests.browser import (  # noqa: F401  (fixtures used by the tests below)
    AXE,
    CHROMIUM,
    axe_source,
    browser_type_launch_args,
    describe,
    widget_bundle,
)
from tests.conftest import PASSWORD, Chat, Client, free_port

pytestmark = pytest.mark.browser
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
XSS = '<img src=x onerror="window.pwned=1"><script>window.pwned=1</script>'
ADMIN = "admin@example.fi"
ANNA = "anna@example.fi"
BO = "bo@example.fi"


@pytest.fixture(scope="session")
def base_url() -> str | None:
    """Replaces pytest-base-url's fixture (deprecated style, a warning under pytest 9)."""
    return None


class Inbox:
    """aiosmtpd handler (runs in the controller's thread) that keeps every message."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received: list[tuple[list[str], Any]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.received.append((list(envelope.rcpt_tos), message))
        return "250 OK"

    async def wait(self, address: str, where: Callable[[Any], bool]) -> Any:
        for _ in range(500):
            with self.lock:
                found = [m for rcpts, m in self.received if address in rcpts and where(m)]
            if found:
                return found[0]
            await asyncio.sleep(0.02)
        raise AssertionError(f"no such email to {address}")


class Console:
    """One agent's browser context on the console, failing on script errors and CSP reports."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.problems: list[str] = []
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("console", self._console)

    def _console(self, message: Any) -> None:
        text = message.text
        if "Content Security Policy" in text or message.type == "error" and \
                "Failed to load resource" not in text:
            self.problems.append(f"console {message.type}: {text}")

    def check(self) -> None:
        assert self.problems == [], self.problems


async def open_console(new_context: Callable[..., Any], chat: Chat, email: str | None,
                       path: str = "/console") -> Console:
    context = await new_context()
    console = Console(await context.new_page())
    await console.page.goto(chat.url + path)
    if email is not None:
        await log_in(console.page, email)
    return console


async def log_in(page: Page, email: str, password: str = PASSWORD) -> None:
    await page.get_by_label("Email address").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("button", name="Log out")).to_be_visible()


async def run_axe(page: Page, axe_source: str) -> list[dict[str, Any]]:  # noqa: F811
    if not await page.evaluate("() => typeof window.axe === 'object'"):
        # The console's CSP forbids inline and foreign scripts; evaluate bypasses it.
        await page.evaluate(axe_source)
    script = """async (tags) => {
        const result = await axe.run(document, {runOnly: {type: 'tag', values: tags}});
        return result.violations.map((v) => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map((n) => n.target.join(' ') + ' :: ' + n.failureSummary)}));
    }"""
    violations: list[dict[str, Any]] = await page.evaluate(script, WCAG_TAGS)
    return violations


async def assert_accessible(page: Page, axe_source: str) -> None:  # noqa: F811
    violations = await run_axe(page, axe_source)
    assert violations == [], describe(violations)


async def start_chat(chat: Chat, text: str = "Hei, tarvitsen apua", lang: str = "fi") -> Client:
    visitor = await chat.visitor(lang)
    ack = await visitor.call("message", {"client_id": "v-1", "text": text})
    assert ack["ok"], ack
    visitor.conversation_id = ack["conversation"]["id"]  # type: ignore[attr-defined]
    return visitor


async def test_login_logout_and_wrong_passwords_are_throttled(
    chat_factory: Callable[..., Any], new_context: Callable[..., Any], axe_source: str,  # noqa: F811
) -> None:
    chat = await chat_factory(auth={"max_failures_per_account": 3})
    await chat.add_agent(ANNA, "Anna")
    await chat.add_agent(BO, "Bo")
    console = await open_console(new_context, chat, None, "/console?lang=en")
    page = console.page
    response = await page.request.get(chat.url + "/console")
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and "connect-src 'self' ws://" in csp
    await expect(page.get_by_role("heading", name="Customer service console")).to_be_visible()
    await assert_accessible(page, axe_source)

    for _ in range(3):
        await page.get_by_label("Email address").fill(ANNA)
        await page.get_by_label("Password").fill("wrong password!")
        await page.get_by_role("button", name="Log in").click()
        await expect(page.locator("#login-error")).to_have_text("Wrong email or password.")
        await page.locator("#login-error").evaluate("(el) => { el.textContent = '' }")
    await page.get_by_label("Email address").fill(ANNA)
    await page.get_by_label("Password").fill(PASSWORD)  # even the right one, for now
    await page.get_by_role("button", name="Log in").click()
    await expect(page.locator("#login-error")).to_contain_text("Too many failed logins")

    await log_in(page, BO)
    await expect(page.get_by_role("heading", name="Queue (0)")).to_be_visible()
    await page.get_by_role("button", name="Log out").click()
    await expect(page.locator("#login-error")).to_have_text("You have logged out.")
    me = await page.request.get(chat.url + "/api/v1/auth/me")
    assert me.status == 401
    console.check()


async def test_visitor_chat_is_claimed_answered_and_payloads_stay_text(
    chat: Chat, new_context: Callable[..., Any], axe_source: str,  # noqa: F811
) -> None:
    await chat.add_agent(ANNA, "Anna")
    console = await open_console(new_context, chat, ANNA)
    page = console.page
    await expect(page.get_by_role("heading", name="Queue (0)")).to_be_visible()
    await assert_accessible(page, axe_source)

    visitor = await start_chat(chat, text=XSS)
    await expect(page.get_by_role("heading", name="Queue (1)")).to_be_visible()
    item = page.locator(".queue-item")
    await expect(item).to_contain_text("Finnish")
    await expect(item).to_contain_text("Waiting less than a minute")
    await item.get_by_role("button", name="Take").click()
    await expect(page.get_by_role("heading", name="Queue (0)")).to_be_visible()
    log = page.locator("ol.log")
    await expect(log).to_contain_text(XSS)
    await expect(log).to_contain_text("Anna liittyi keskusteluun.")  # the chat's language
    assert await log.locator("img, script").count() == 0
    assert await page.evaluate("() => window.pwned") is None
    details = page.get_by_label("Visitor details")
    await expect(details).to_contain_text("Finnish")
    await expect(details).to_contain_text((await chat.notice_version())[:12])

    # Typing both ways; the agent sees only that the visitor types, never the text.
    await visitor.emit("typing", {"typing": True})
    await expect(page.get_by_text("The visitor is typing…")).to_be_visible()
    reply = page.get_by_label("Your reply")
    await reply.press_sequentially("Hei! ")
    typing = await visitor.next("typing", where=lambda d: d["typing"])
    assert typing == {"typing": True, "name": "Anna"}
    await reply.press_sequentially("<b>Miten voin auttaa?</b>")
    await reply.press("Enter")
    message = await visitor.next("message", where=lambda m: m["author"]["kind"] == "agent")
    assert message["text"] == "Hei! <b>Miten voin auttaa?</b>"
    assert message["author"] == {"kind": "agent", "name": "Anna"}
    await expect(log.locator("li.msg.agent")).to_contain_text("<b>Miten voin auttaa?</b>")
    await expect(reply).to_have_value("")
    await assert_accessible(page, axe_source)

    ack = await visitor.call("message", {"client_id": "v-2", "text": "Kiitos"})
    assert ack["ok"]
    await expect(log).to_contain_text("Kiitos")
    await expect(page.get_by_text("The visitor is typing…")).to_be_hidden()
    await page.get_by_role("button", name="End chat").click()
    await expect(page.get_by_text("The chat has ended.").last).to_be_visible()
    assert (await visitor.next("conversation", where=lambda c: c["state"] == "closed"))
    await expect(reply).to_be_disabled()
    console.check()


async def test_several_chats_show_unread_counts_and_one_is_transferred(
    chat: Chat, new_context: Callable[..., Any],
) -> None:
    await chat.add_agent(ANNA, "Anna")
    await chat.add_agent(BO, "Bo")
    anna = await open_console(new_context, chat, ANNA)
    bo = await open_console(new_context, chat, BO)
    first = await start_chat(chat, "Ensimmäinen", "fi")
    second = await start_chat(chat, "Andra", "sv")
    page = anna.page
    await expect(page.get_by_role("heading", name="Queue (2)")).to_be_visible()
    await page.locator(".queue-item").first.get_by_role("button", name="Take").click()
    await expect(page.get_by_role("heading", name="Queue (1)")).to_be_visible()
    await page.locator(".queue-item").first.get_by_role("button", name="Take").click()
    await expect(page.get_by_role("heading", name="Queue (0)")).to_be_visible()
    tabs = page.locator(".chat-tabs button")
    await expect(tabs).to_have_count(2)
    # The second chat is open; a message in the first counts as unread.
    await expect(page.locator("ol.log")).to_contain_text("Andra")
    assert (await first.call("message", {"client_id": "v-2", "text": "Hallo?"}))["ok"]
    await expect(tabs.first).to_contain_text("1 unread")
    await expect(page.locator("#unread-total")).to_have_text(" 1 unread")
    await tabs.first.click()
    await expect(page.locator("ol.log")).to_contain_text("Hallo?")
    await expect(tabs.first).not_to_contain_text("unread")

    await page.get_by_label("Transfer to").select_option(label="Bo")
    await page.get_by_role("button", name="Transfer", exact=True).click()
    await expect(tabs).to_have_count(1)
    await expect(page.get_by_text("The chat was transferred to Bo.").first).to_be_visible()
    await expect(bo.page.locator(".chat-tabs button")).to_have_count(1)
    await expect(bo.page.locator("ol.log")).to_contain_text("Hallo?")
    await expect(bo.page.locator("ol.log")).to_contain_text(
        "Keskustelu siirrettiin henkilölle Bo.")
    await bo.page.get_by_label("Your reply").fill("Bo täällä")
    await bo.page.get_by_role("button", name="Send").click()
    got = await first.next("message", where=lambda m: m["author"]["kind"] == "agent")
    assert got["text"] == "Bo täällä" and got["author"]["name"] == "Bo"
    assert second  # still Anna's
    anna.check()
    bo.check()
