"""The console for a working day (issue 21), in Chromium: one agent with three visitors writing
at once (replies land in the chat they were typed in, unread counts rise and clear, drafts
survive switching and a dropped connection), the keyboard-only flow, notes and search from the
console, axe in every view in both themes and at phone width, and the screenshots in docs/."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from chatserver.keys import AGENTS
from chatserver.services import canned
from tests.browser import (  # noqa: F401  (fixtures used by the tests below)
    axe_source,
    base_url,
    browser_type_launch_args,
    widget_bundle,
)
from tests.helpers import Chat, Client, everything_received
from tests.test_console import (
    ADMIN,
    ANNA,
    REPLY,
    Console,
    assert_accessible,
    log_in,  # noqa: F401  (fixture)
    open_console,
    start_chat,
)

pytestmark = pytest.mark.browser
IMAGES = Path(__file__).resolve().parent.parent / "docs" / "img"
PHONE = {"width": 390, "height": 844}
WIDE = {"width": 1400, "height": 860}


def tab(page: Page, visitor: Client) -> Any:
    """The list entry of a visitor's chat ("Visitor 1a2b3c ...")."""
    short = visitor.conversation_id[:6]  # type: ignore[attr-defined]
    return page.locator(".chat-tabs button", has_text=f"Visitor {short}")


async def take_all(page: Page, count: int) -> None:
    for left in range(count, 0, -1):
        await expect(page.get_by_role("heading", name=f"Queue ({left})")).to_be_visible()
        await page.locator(".queue-item").first.get_by_role("button", name="Take").click()
    await expect(page.get_by_role("heading", name="Queue (0)")).to_be_visible()
    await expect(page.locator(".chat-tabs button")).to_have_count(count)


async def test_three_visitors_at_once_replies_land_right_unread_and_drafts_survive(
    chat: Chat, new_context: Callable[..., Any],
) -> None:
    await chat.add_agent(ANNA, "Anna")
    console = await open_console(new_context, chat, ANNA)
    page = console.page
    visitors = [await start_chat(chat, f"Hei, olen kävijä {n}", lang)
                for n, lang in enumerate(("fi", "sv", "en"))]
    await take_all(page, 3)

    # All three write at once while the third chat is on screen.
    await tab(page, visitors[2]).click()
    await asyncio.gather(*[v.call("message", {"client_id": "v-2", "text": f"Kiire {n}"})
                           for n, v in enumerate(visitors)])
    await expect(tab(page, visitors[0])).to_contain_text("1 unread")
    await expect(tab(page, visitors[1])).to_contain_text("1 unread")
    await expect(tab(page, visitors[2])).not_to_contain_text("unread")
    await expect(tab(page, visitors[0])).to_have_class(re.compile("needs-reply"))
    await expect(tab(page, visitors[0])).to_contain_text("Kiire 0")  # the last line
    await expect(page.locator("#unread-total")).to_have_text(" 2 unread")
    assert (await page.title()).startswith("(2) ")
    assert "%3E2%3C" in (await page.locator('link[rel="icon"]').get_attribute("href") or "")
    await page.get_by_role("link", name="History", exact=True).click()
    await expect(page).to_have_title(re.compile(r"^\(2\) History"))  # on every view
    await page.get_by_role("link", name=re.compile("^Chats")).click()

    # Drafts in two chats; each survives switching, and each reply goes to its own chat.
    await tab(page, visitors[0]).click()
    await expect(tab(page, visitors[0])).not_to_contain_text("unread")
    await expect(page.get_by_label(REPLY)).to_have_accessible_name(
        f"Reply to Visitor {visitors[0].conversation_id[:6]}")  # type: ignore[attr-defined]
    await page.get_by_label(REPLY).fill("Luonnos nollalle")
    await tab(page, visitors[1]).click()
    await page.get_by_label(REPLY).fill("Utkast till ettan")
    await tab(page, visitors[0]).click()
    await expect(page.get_by_label(REPLY)).to_have_value("Luonnos nollalle")
    # The visitor's typing shows in the list too.
    await visitors[1].emit("typing", {"typing": True})
    await expect(tab(page, visitors[1])).to_contain_text("The visitor is typing…")

    # A dropped connection: the drafts are still there after the reconnect.
    namespace = chat.app[AGENTS]
    for sid in namespace.sids():
        await namespace.disconnect(sid)
    await expect(page.get_by_text("Connected again.")).to_be_visible()
    await expect(page.get_by_label(REPLY)).to_have_value("Luonnos nollalle")
    await page.get_by_label(REPLY).press("Enter")
    await tab(page, visitors[1]).click()
    await expect(page.get_by_label(REPLY)).to_have_value("Utkast till ettan")
    await page.get_by_label(REPLY).press("Enter")
    await tab(page, visitors[2]).click()
    await page.get_by_label(REPLY).fill("Reply to two")
    await page.get_by_label(REPLY).press("Enter")
    for visitor, text in zip(visitors, ("Luonnos nollalle", "Utkast till ettan", "Reply to two"),
                             strict=True):
        got = await visitor.next("message", where=lambda m: m["author"]["kind"] == "agent")
        assert got["text"] == text
        assert not visitor.pending("message") or all(
            m["author"]["kind"] != "agent" for m in visitor.pending("message"))
    await expect(page.locator("#unread-total")).to_be_hidden()
    assert not (await page.title()).startswith("(")
    console.check()


async def test_keyboard_only_claim_canned_switch_note_end(
    chat: Chat, new_context: Callable[..., Any], axe_source: str,  # noqa: F811
) -> None:
    admin = await chat.add_agent(ADMIN, "Aada", role="admin")
    await canned.create(chat.ctx, admin, "fi", "kiitos", "Kiitos yhteydenotosta!")
    await chat.add_agent(ANNA, "Anna")
    console = await open_console(new_context, chat, ANNA)
    page = console.page
    first = await start_chat(chat, "Ensimmäinen kysymys", "fi")
    second = await start_chat(chat, "Toinen kysymys", "fi")
    keys = page.keyboard
    await expect(page.get_by_role("heading", name="Queue (2)")).to_be_visible()

    await keys.press("Alt+a")  # take the first waiting chat
    await expect(page.get_by_role("heading", name="Queue (1)")).to_be_visible()
    await expect(page.get_by_label(REPLY)).to_be_focused()
    await keys.press("Alt+k")  # canned responses
    await expect(page.get_by_label("Canned responses")).to_be_focused()
    await keys.press("ArrowDown")
    await expect(page.get_by_label(REPLY)).to_have_value("Kiitos yhteydenotosta!")
    await expect(page.get_by_label(REPLY)).to_be_focused()
    await keys.press("Enter")
    got = await first.next("message", where=lambda m: m["author"]["kind"] == "agent")
    assert got["text"] == "Kiitos yhteydenotosta!"

    await keys.press("Alt+a")  # the second one
    await expect(page.get_by_role("heading", name="Queue (0)")).to_be_visible()
    await keys.press("Alt+ArrowUp")  # back to the first
    await expect(page.get_by_role("heading", name=re.compile(
        "Chat with visitor " + first.conversation_id[:6]))).to_be_visible()  # type: ignore[attr-defined]
    await keys.press("Alt+n")
    await expect(page.get_by_label(re.compile("^Private note"))).to_be_focused()
    await keys.type("Asiakas odottaa palautusta")
    await keys.press("Enter")
    await expect(page.locator("ol.log li.msg.note")).to_contain_text("Asiakas odottaa palautusta")
    await keys.press("Alt+ArrowDown")
    await expect(page.get_by_role("heading", name=re.compile(
        "Chat with visitor " + second.conversation_id[:6]))).to_be_visible()  # type: ignore[attr-defined]
    await expect(page.locator("ol.log li.msg.note")).to_have_count(0)  # notes stay per chat
    await keys.press("Alt+e")
    await expect(page.get_by_role("button", name="End chat")).to_be_focused()
    await keys.press("Enter")
    state = await second.next("conversation", where=lambda c: c["state"] == "closed")
    assert state["state"] == "closed"

    # `?` outside a text field lists the shortcuts; Escape closes the list.
    await page.locator("ol.log").focus()
    await keys.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    await expect(dialog).to_be_visible()
    await expect(dialog).to_contain_text("Take the first waiting chat")
    await assert_accessible(page, axe_source)
    await keys.press("Escape")
    await expect(dialog).to_be_hidden()
    received = everything_received(first)
    assert any(event == "conversation" for event, _ in received)  # can fail: it did receive
    assert all(event != "note" and "palautusta" not in repr(data) for event, data in received)
    console.check()


async def test_every_view_passes_axe_in_both_themes_and_at_phone_width(
    chat: Chat, new_context: Callable[..., Any], axe_source: str,  # noqa: F811
) -> None:
    await chat.add_agent(ADMIN, "Aada", role="admin")
    visitors = [await start_chat(chat, text, lang) for text, lang in (
        ("Hei! Tilaukseni 1042 on myöhässä, milloin se saapuu?", "fi"),
        ("Hej, kan jag byta storlek på skorna?", "sv"),
        ("Hi, do you ship to Iceland?", "en"))]
    for scheme in ("light", "dark"):
        for size in (WIDE, PHONE):
            context = await new_context(viewport=size, color_scheme=scheme)
            console = Console(await context.new_page())
            page = console.page
            await page.goto(chat.url + "/console")
            await expect(page.get_by_role("button", name="Log in", exact=True)).to_be_visible()
            await assert_accessible(page, axe_source)  # the login page, once it is drawn
            await log_in(page, ADMIN)
            await check_views(page, chat, visitors, scheme, size, axe_source)
            console.check()
            await context.close()


async def check_views(page: Page, chat: Chat, visitors: list[Client], scheme: str,
                      size: dict[str, int], axe_source: str) -> None:  # noqa: F811
    phone = size is PHONE
    name = ("phone" if phone else "wide") + ("-dark" if scheme == "dark" else "")
    # The three chats, waiting (the first round) or already taken (the later ones).
    await expect(page.locator(".chat-tabs button, .queue-item")).to_have_count(3)
    if await page.locator(".chat-tabs button").count() == 0:
        await take_all(page, 3)
        await tab(page, visitors[0]).click()
        assert (await visitors[0].call("message", {"client_id": "v-9", "text":
                                                   "Tilausnumero on 1042."}))["ok"]
        await page.get_by_label(re.compile("^Private note")).fill(
            "Tilaus lähti varastosta eilen; seurantakoodi lähetetty.")
        await page.get_by_role("button", name="Add note").click()
        await page.get_by_label(REPLY).fill("Tarkistan heti!")
    else:
        await tab(page, visitors[0]).click()
    await expect(page.locator("ol.log li.msg.note")).to_have_count(1)
    await assert_accessible(page, axe_source)
    if phone:  # one pane at a time: the conversation; back to the list; the details
        await expect(page.locator(".list-pane")).to_be_hidden()
        await shot_for_docs(page, f"console-{name}")
        await page.get_by_role("button", name="Details").click()
        await expect(page.get_by_role("heading", name="Details")).to_be_visible()
        await expect(page.locator(".chat-panel")).to_be_hidden()
        await assert_accessible(page, axe_source)
        await page.get_by_role("button", name="← Back to the chat").click()
        await page.get_by_role("button", name="← Chats").click()
        await expect(page.locator(".list-pane")).to_be_visible()
        await expect(page.locator(".chat-panel")).to_be_hidden()
        await assert_accessible(page, axe_source)
    else:
        await expect(page.locator(".details-pane")).to_contain_text("Privacy notice version")
        await shot_for_docs(page, f"console-{name}")
    # The search, with a result marked.
    await page.goto(chat.url + "/console/history")
    await page.get_by_label("Search messages").fill("tilaus")
    await page.get_by_role("button", name="Search").click()
    await expect(page.locator(".search-results mark").first).to_be_visible()
    await assert_accessible(page, axe_source)
    if not phone and scheme == "light":
        await shot_for_docs(page, "console-search")
    await page.goto(chat.url + "/console")


async def shot_for_docs(page: Page, name: str) -> None:
    """The pictures in README.md and docs/console.md, made here so they stay current."""
    IMAGES.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(IMAGES / f"{name}.png"))
