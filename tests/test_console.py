"""The agent console in Debian's Chromium (Playwright, one browser per session): login and
throttling, a visitor's chat claimed and answered, transfer, canned responses, the offline
inbox answered by email (aiosmtpd), erasure by email, admin-only pages, script payloads as
text, reconnects that keep drafts, and axe-core on every main view."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import threading
from collections.abc import Callable
from pathlib import Path
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
from tests.helpers import PASSWORD, Chat, Client, free_port

pytestmark = pytest.mark.browser
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
XSS = '<img src=x onerror="window.pwned=1"><script>window.pwned=1</script>'
OUTPUT = Path(__file__).resolve().parent.parent / "test-output" / "console"
ADMIN = "admin@example.fi"
ANNA = "anna@example.fi"
BO = "bo@example.fi"
# The reply box is named after the chat on screen ("Reply to Visitor 1a2b3c").
REPLY = re.compile(r"^Reply to Visitor [0-9a-f]{6}$")


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
                       path: str = "/console", **context_args: Any) -> Console:
    context = await new_context(**context_args)
    console = Console(await context.new_page())
    await console.page.goto(chat.url + path)
    if email is not None:
        await log_in(console.page, email)
    return console


async def log_in(page: Page, email: str, password: str = PASSWORD) -> None:
    await page.get_by_label("Email address").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Log in", exact=True).click()
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


async def shot(page: Page, name: str) -> None:
    """A screenshot in test-output/console/ for a person to look at."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(OUTPUT / f"{name}.png"), full_page=True)


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
    await shot(page, "login")

    for _ in range(3):
        await page.get_by_label("Email address").fill(ANNA)
        await page.get_by_label("Password").fill("wrong password!")
        await page.get_by_role("button", name="Log in", exact=True).click()
        await expect(page.locator("#login-error")).to_have_text("Wrong email or password.")
        await page.locator("#login-error").evaluate("(el) => { el.textContent = '' }")
    await page.get_by_label("Email address").fill(ANNA)
    await page.get_by_label("Password").fill(PASSWORD)  # even the right one, for now
    await page.get_by_role("button", name="Log in", exact=True).click()
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
    await expect(page.locator("p.typing").get_by_text("The visitor is typing…")).to_be_visible()
    reply = page.get_by_label(REPLY)
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
    await expect(page.locator("p.typing").get_by_text("The visitor is typing…")).to_be_hidden()
    await shot(page, "chat")
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
    await shot(page, "two-chats")

    await page.get_by_label("Transfer to").select_option(label="Bo")
    await page.get_by_role("button", name="Transfer", exact=True).click()
    await expect(tabs).to_have_count(1)
    await expect(page.get_by_text("The chat was transferred to Bo.").first).to_be_visible()
    await expect(bo.page.locator(".chat-tabs button")).to_have_count(1)
    await expect(bo.page.locator("ol.log")).to_contain_text("Hallo?")
    await expect(bo.page.locator("ol.log")).to_contain_text(
        "Keskustelu siirrettiin henkilölle Bo.")
    await bo.page.get_by_label(REPLY).fill("Bo täällä")
    await bo.page.get_by_role("button", name="Send").click()
    got = await first.next("message", where=lambda m: m["author"]["kind"] == "agent")
    assert got["text"] == "Bo täällä" and got["author"]["name"] == "Bo"
    assert second  # still Anna's
    anna.check()
    bo.check()


async def test_canned_response_is_added_by_an_admin_then_inserted_with_tab_and_sent(
    chat: Chat, new_context: Callable[..., Any],
) -> None:
    await chat.add_agent(ADMIN, "Aada", role="admin")
    await chat.add_agent(ANNA, "Anna")
    admin = await open_console(new_context, chat, ADMIN, "/console/admin/canned")
    page = admin.page
    await expect(page.get_by_role("heading", name="Canned responses", exact=True)).to_be_visible()
    await page.get_by_label("Language").select_option("fi")
    await page.get_by_label("Shortcut").fill("/hei")
    await page.get_by_label("Text").fill("Hei! Kuinka voin auttaa?")
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator("table")).to_contain_text("/hei")
    await page.get_by_label("Language").select_option("sv")
    await page.get_by_label("Shortcut").fill("hei")
    await page.get_by_label("Text").fill("Hej! Hur kan jag hjälpa?")
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator("tbody tr")).to_have_count(2)
    await page.get_by_label("Language").select_option("sv")
    await page.get_by_label("Shortcut").fill("hei")
    await page.get_by_label("Text").fill("Dubbel")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("status").filter(has_text="already in use")).to_be_visible()

    anna = await open_console(new_context, chat, ANNA)
    visitor = await start_chat(chat, "Hej", "sv")
    await anna.page.get_by_role("button", name="Take").click()
    reply = anna.page.get_by_label(REPLY)
    await reply.press_sequentially("/hei")
    await reply.press("Tab")
    await expect(reply).to_have_value("Hej! Hur kan jag hjälpa?")  # the chat's language
    await reply.press("Enter")
    message = await visitor.next("message", where=lambda m: m["author"]["kind"] == "agent")
    assert message["text"] == "Hej! Hur kan jag hjälpa?"
    # An unknown shortcut leaves Tab to move focus as usual.
    await reply.press_sequentially("/nope")
    await reply.press("Tab")
    await expect(reply).to_have_value("/nope")
    await expect(reply).not_to_be_focused()
    admin.check()
    anna.check()


@pytest.fixture
def smtp_server() -> Any:
    """A real SMTP server on a loopback port; stopped after the app (fixture order)."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller
    controller.stop()


async def test_offline_message_is_answered_from_the_inbox_by_email(
    smtp_server: Any, chat_factory: Callable[..., Any], new_context: Callable[..., Any],
    axe_source: str,  # noqa: F811
) -> None:
    inbox = smtp_server.handler
    chat = await chat_factory(smtp={"host": "127.0.0.1", "port": smtp_server.port,
                                    "security": "none", "from_address": "chat@example.fi",
                                    "team_address": "team@example.fi", "timeout": 5})
    await chat.add_agent(ANNA, "Anna")
    visitor = await chat.visitor("fi")
    left = await visitor.call("offline_message", {
        "name": XSS, "email": "aino@example.fi", "text": "Onko lauantaina auki?"})
    assert left["ok"], left
    console = await open_console(new_context, chat, ANNA, "/console/inbox")
    page = console.page
    item = page.locator("article.offline-message")
    await expect(item).to_contain_text("Onko lauantaina auki?")
    await expect(item.get_by_role("heading")).to_contain_text(XSS)
    assert await item.locator("img, script").count() == 0
    await assert_accessible(page, axe_source)
    await item.get_by_role("button", name="Send reply").click()
    await expect(item.get_by_role("status")).to_have_text("Write the reply first.")
    await item.get_by_label("Reply by email").fill("Kyllä, klo 10–14.")
    await item.get_by_role("button", name="Send reply").click()
    await expect(page.get_by_text("No offline messages.")).to_be_visible()  # handled now
    answer = await inbox.wait("aino@example.fi", lambda m: "10–14" in m.get_content())
    assert "> Onko lauantaina auki?" in answer.get_content()
    await page.get_by_label("Show handled messages too").check()
    await expect(item).to_contain_text("handled")
    await item.get_by_role("button", name="Mark not handled").click()
    await page.get_by_label("Show handled messages too").uncheck()
    await expect(item).to_have_count(1)
    await item.get_by_role("button", name="Mark handled").click()
    await expect(page.get_by_text("No offline messages.")).to_be_visible()
    console.check()


async def test_admin_erases_by_email_and_the_chat_leaves_every_agents_view(
    chat: Chat, new_context: Callable[..., Any], axe_source: str,  # noqa: F811
) -> None:
    await chat.add_agent(ADMIN, "Aada", role="admin")
    await chat.add_agent(ANNA, "Anna")
    await chat.add_agent(BO, "Bo")
    anna = await open_console(new_context, chat, ANNA)
    bo = await open_console(new_context, chat, BO)
    claimed = await start_chat(chat, "Poistakaa tietoni")
    assert (await claimed.call("transcript", {"email": "aino@example.fi"}))["ok"]
    waiting = await start_chat(chat, "Jonossa odotan")
    assert (await waiting.call("transcript", {"email": "Aino@Example.fi"}))["ok"]
    await expect(anna.page.get_by_role("heading", name="Queue (2)")).to_be_visible()
    await anna.page.locator(".queue-item").first.get_by_role("button", name="Take").click()
    await expect(anna.page.locator("ol.log")).to_contain_text("Poistakaa tietoni")
    await expect(bo.page.get_by_role("heading", name="Queue (1)")).to_be_visible()

    admin = await open_console(new_context, chat, ADMIN, "/console/admin/requests")
    page = admin.page
    await page.get_by_label("Email address").fill("aino@example.fi")
    await page.get_by_role("button", name="Find").click()
    await expect(page.get_by_text("Conversations: 2")).to_be_visible()
    await assert_accessible(page, axe_source)
    async with page.expect_download() as download_info:
        await page.get_by_role("button", name="Export as JSON").click()
    download = await download_info.value
    exported = (await download.path()).read_text()
    assert "Poistakaa tietoni" in exported and "Jonossa odotan" in exported
    await page.get_by_role("button", name="Erase everything").click()
    await expect(page.get_by_text("Tick the confirmation first.")).to_be_visible()
    await page.get_by_label("I understand that everything about aino@example.fi").check()
    await page.get_by_role("button", name="Erase everything").click()
    await expect(page.get_by_text("Erased: 2 conversations")).to_be_visible()

    await expect(anna.page.locator(".chat-tabs button")).to_have_count(0)
    await expect(anna.page.get_by_text("A conversation was erased")).to_be_visible()
    for console in (anna, bo):
        await expect(console.page.get_by_role("heading", name="Queue (0)")).to_be_visible()
        await console.page.get_by_role("link", name="History").click()
        await console.page.get_by_label("Search messages").fill("tietoni")
        await console.page.get_by_role("button", name="Search", exact=True).click()
        await expect(console.page.get_by_text("Nothing was found.")).to_be_visible()
        console.check()
    await page.get_by_role("link", name="Audit log").click()
    await page.get_by_label("Action").select_option("dsar.erase")
    await page.get_by_role("button", name="Filter").click()
    await expect(page.locator("table.audit tbody tr")).to_have_count(1)
    await expect(page.locator("table.audit")).to_contain_text("Aada")
    assert "aino" not in (await page.locator("table.audit").inner_text()).lower()
    admin.check()


async def test_agent_role_gets_403_on_admin_pages_and_endpoints(
    chat: Chat, new_context: Callable[..., Any],
) -> None:
    await chat.add_agent(ANNA, "Anna")
    console = await open_console(new_context, chat, ANNA)
    page = console.page
    await expect(page.get_by_role("link", name="History")).to_be_visible()
    await expect(page.get_by_role("link", name="Agents")).to_have_count(0)
    response = await page.goto(chat.url + "/console/admin/agents")
    assert response is not None and response.status == 403
    await expect(page.get_by_role("heading", name="403")).to_be_visible()
    await expect(page.get_by_text("Only administrators can do this.")).to_be_visible()
    csrf = await page.evaluate("""async () => (await (await fetch('/api/v1/auth/me')).json())
        .csrf_token""")
    headers = {"X-CSRF-Token": csrf}
    checks = [
        ("GET", "/api/v1/agents", None), ("POST", "/api/v1/agents", {}),
        ("PATCH", "/api/v1/agents/1", {"role": "admin"}),
        ("POST", "/api/v1/agents/1/password", {"password": "x" * 12}),
        ("POST", "/api/v1/canned-responses", {"language": "fi", "shortcut": "a", "text": "b"}),
        ("DELETE", "/api/v1/canned-responses/1", None), ("GET", "/api/v1/audit", None),
        ("GET", "/api/v1/retention", None), ("GET", "/api/v1/dsar?email=a@example.fi", None),
        ("POST", "/api/v1/dsar/erase", {"email": "a@example.fi"}),
    ]
    for method, path, body in checks:
        answer = await page.request.fetch(chat.url + path, method=method, headers=headers,
                                          data=body)
        assert answer.status == 403, (method, path, answer.status)
        assert (await answer.json())["error"]["code"] == "forbidden"
    ok = await page.request.get(chat.url + "/api/v1/canned-responses")
    assert ok.status == 200  # agents read the canned responses
    console.check()


async def test_dropped_connection_shows_a_banner_and_keeps_what_was_typed(
    chat: Chat, new_context: Callable[..., Any],
) -> None:
    await chat.add_agent(ANNA, "Anna")
    console = await open_console(new_context, chat, ANNA)
    page = console.page
    visitor = await start_chat(chat)
    await page.get_by_role("button", name="Take").click()
    reply = page.get_by_label(REPLY)
    await reply.fill("Luonnos, jota ei saa hukata")
    namespace = chat.app[AGENTS]
    for sid in namespace.sids():
        await namespace.disconnect(sid)
    await expect(page.get_by_text("The connection was lost. Reconnecting…")).to_be_visible()
    await reply.press("End")
    await reply.press_sequentially(" – ja lisää")
    await reply.press("Enter")  # sent after the reconnect, with the same client_id
    await shot(page, "reconnecting")
    await expect(page.get_by_text("Connected again.")).to_be_visible()
    message = await visitor.next("message", where=lambda m: m["author"]["kind"] == "agent")
    assert message["text"] == "Luonnos, jota ei saa hukata – ja lisää"
    await expect(page.locator("ol.log li.msg.agent")).to_have_count(1)
    await expect(page.locator(".pending-item")).to_have_count(0)

    await reply.fill("Keskeneräinen")
    await page.reload()  # a draft survives a reload too (sessionStorage)
    await expect(page.get_by_label(REPLY)).to_have_value("Keskeneräinen")
    console.check()


async def test_admin_views_have_no_axe_violations(
    chat: Chat, new_context: Callable[..., Any], axe_source: str,  # noqa: F811
) -> None:
    await chat.add_agent(ADMIN, "Aada", role="admin")
    await chat.add_agent(ANNA, "Anna")
    console = await open_console(new_context, chat, ADMIN)
    page = console.page
    for link, ready in [("History", "Nothing was found."), ("Offline messages", "No offline"),
                        ("Agents", "anna@example.fi"), ("Canned responses", "No canned"),
                        ("Data requests", "Find, export or erase"), ("Audit log", "login"),
                        ("Privacy and retention", "60 days")]:
        await page.get_by_role("link", name=link, exact=True).click()
        await expect(page.locator("main#view")).to_contain_text(ready)
        await assert_accessible(page, axe_source)
        await shot(page, "admin-" + link.split()[0].lower())
    # The live notice in each language; retention read-only from the configuration.
    await page.get_by_role("button", name="Swedish").click()
    await expect(page.locator(".notice article")).to_have_attribute("lang", "sv")
    await page.get_by_role("link", name="Agents", exact=True).click()
    row = page.locator("tr[data-agent='anna@example.fi']")
    await row.get_by_label("Role of Anna").select_option("admin")
    await expect(page.get_by_text("Saved.").first).to_be_visible()
    await row.get_by_role("button", name="Disable").click()
    await expect(row).to_contain_text("Disabled")
    await row.get_by_label("New password for Anna").fill("short")
    await row.get_by_role("button", name="Set password").click()
    await expect(page.get_by_text("The password is too short").first).to_be_visible()
    own = page.locator("tr[data-agent='admin@example.fi']")
    await own.get_by_role("button", name="Disable").click()
    await expect(page.get_by_text("You cannot disable your own account").first).to_be_visible()
    console.check()
