"""The widget's resilience and safety in a real Chromium: a server restart mid-chat, refused
messages, page navigation, markup in messages, and the choice of language."""
# The fixtures imported from tests.browser are redefined as parameters by design:
# ruff: noqa: F811

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from sqlmodel import select

from chatserver.db.models import Message
from tests.browser import (  # noqa: F401  (fixtures)
    HostSite,
    base_url,
    browser_type_launch_args,
    bubbles,
    expect,
    host_site,
    queued_conversation,
    screenshot,
    send,
    shadow,
    start_chat,
    widget_bundle,
)
from tests.helpers import Chat

XSS = [
    "<img src=x onerror=alert(1)>",
    "<script>alert(2)</script>",
    '"><svg onload=alert(3)>',
    "<a href=\"javascript:alert(4)\">click</a> &amp; &lt;b&gt;",
]


@pytest.mark.browser
async def test_server_restart_mid_chat_loses_and_doubles_nothing(
        chat: Chat, page: Any, aiohttp_server: Any) -> None:
    from chatserver.app import create_app

    agent = await chat.agent("anna@example.fi", "Anna")
    await page.goto(chat.url + "/")
    await start_chat(page)
    await send(page, "ennen katkoa")
    conversation_id = await queued_conversation(agent)
    await agent.call("claim", {"conversation_id": conversation_id})
    await agent.call("message", {"conversation_id": conversation_id, "client_id": "a1",
                                 "text": "vastaus 1"})
    await expect(bubbles(page)).to_have_count(3)

    await chat.close()
    await chat.server.close()
    await expect(shadow(page).locator(".status")).to_have_text(
        "Yhteys katkesi. Yhdistetään uudelleen…")
    await send(page, "katkon aikana")
    await expect(shadow(page).locator("li.pending")).to_have_text(
        re.compile("katkon aikana.*Lähetetään…"))

    app = create_app(chat.settings)
    # Before the new node listens, the agent's next message is stored: a gap for the widget.
    from chatserver.db.models import Agent
    from chatserver.keys import CONTEXT
    from chatserver.services import conversations

    async with app[CONTEXT].db() as session:
        anna = (await session.exec(select(Agent))).one()
    await conversations.post_agent_message(app[CONTEXT], anna, conversation_id, "a2",
                                           "vastaus 2")
    server = await aiohttp_server(app, port=chat.settings.port)
    again = Chat(server, chat.settings, app)
    try:
        agent = await again.agent("anna@example.fi")
        await expect(shadow(page).locator(".status")).to_have_text(
            "Keskustelet henkilön Anna kanssa.", timeout=15_000)
        # "vastaus 2" was stored while the widget was away (a gap it fills from history);
        # "katkon aikana" was resent after the reconnect, with its first client_id.
        expected = ["ennen katkoa", "Anna liittyi keskusteluun.", "vastaus 1", "vastaus 2",
                    "katkon aikana"]
        await expect(bubbles(page)).to_have_text(expected)
        await expect(shadow(page).locator("li.pending, li.failed")).to_have_count(0)
        history = await agent.call("history", {"conversation_id": conversation_id,
                                               "after_seq": 0})
        assert [m["text"] for m in history["messages"]] == expected
        seqs = await shadow(page).locator("li[data-seq]").evaluate_all(
            "(items) => items.map((li) => Number(li.dataset.seq))")
        assert seqs == [1, 2, 3, 4, 5]
    finally:
        await again.close()


@pytest.mark.browser
async def test_a_refused_message_shows_as_failed_with_a_retry(chat: Chat, page: Any) -> None:
    await chat.agent("anna@example.fi", "Anna")
    await page.goto(chat.url + "/")
    await start_chat(page)
    await send(page, "ensimmäinen")
    await expect(shadow(page).locator("li.me time")).to_have_count(1)
    await send(page, "kello \u0007 soi")  # a control character: the server refuses it
    failed = shadow(page).locator("li.failed")
    await expect(failed).to_contain_text("Kentässä ”text” on merkkejä, joita ei sallita.")
    await expect(failed.get_by_role("button", name="Yritä uudelleen")).to_be_visible()
    await screenshot(page, "8-failed-message")
    await send(page, "toinen")
    await expect(shadow(page).locator("li.me time")).to_have_count(2)
    await failed.get_by_role("button", name="Yritä uudelleen").click()
    await expect(shadow(page).locator("li.failed")).to_have_count(1)
    async with chat.ctx.db() as session:
        texts = [m.text for m in (await session.exec(select(Message).order_by(Message.seq)))]
    assert texts == ["ensimmäinen", "toinen"]


@pytest.mark.browser
async def test_chat_carries_on_across_page_navigation(chat_factory: Any, page: Any,
                                                     host_site: HostSite) -> None:
    chat = await chat_factory(allowed_origins=[host_site.origin])
    await chat.agent("anna@example.fi", "Anna")
    host_site.embed(chat.url, lang="sv", attributes='data-position="left" data-color="#ffd500"')
    await page.goto(f"{host_site.origin}/")
    # A light theme colour gets dark text (contrast), on the left as asked.
    launcher = shadow(page).locator(".launch")
    await expect(launcher).to_have_css("background-color", "rgb(255, 213, 0)")
    await expect(launcher).to_have_css("color", "rgb(26, 26, 26)")
    box = await launcher.bounding_box()
    assert box is not None and box["x"] < 100
    await start_chat(page, "Starta chatten")
    await send(page, "Hej från första sidan")
    await expect(shadow(page).locator("li.me time")).to_have_count(1)
    await page.goto(f"{host_site.origin}/next")
    await expect(page.get_by_role("dialog")).to_be_visible()
    await expect(bubbles(page)).to_have_text(["Hej från första sidan"])
    await send(page, "och från nästa")
    await expect(shadow(page).locator("li.me time")).to_have_count(2)
    async with chat.ctx.db() as session:
        texts = [m.text for m in (await session.exec(select(Message).order_by(Message.seq)))]
    assert texts == ["Hej från första sidan", "och från nästa"]


@pytest.mark.browser
async def test_markup_in_messages_shows_as_text(chat: Chat, page: Any) -> None:
    agent = await chat.agent("anna@example.fi", "Anna <b>")
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    await page.goto(chat.url + "/")
    await start_chat(page)
    for n, payload in enumerate(XSS):
        await send(page, payload)
        await expect(shadow(page).locator("li.me time")).to_have_count(n + 1)
    conversation_id = await queued_conversation(agent)
    await agent.call("claim", {"conversation_id": conversation_id})
    for n, payload in enumerate(XSS):
        await agent.call("message", {"conversation_id": conversation_id, "client_id": f"x{n}",
                                     "text": payload})
    await expect(bubbles(page)).to_have_text([*XSS, "Anna <b> liittyi keskusteluun.", *XSS])
    await expect(shadow(page).locator(".who").first).to_have_text("Anna <b>")
    injected = await shadow(page).evaluate(
        "(host) => host.shadowRoot.querySelectorAll('img, script, b, a[href^=javascript]')"
        ".length")
    assert injected == 0
    await asyncio.sleep(0.2)
    assert dialogs == []


@pytest.mark.browser
async def test_language_comes_from_data_lang_then_browser_then_default(
        chat_factory: Any, new_context: Any, host_site: HostSite) -> None:
    chat = await chat_factory(allowed_origins=[host_site.origin], default_language="fi")
    cases = [("sv", "en-GB", "Öppna chatten"), (None, "sv-FI", "Öppna chatten"),
             (None, "de-DE", "Avaa chat"), ("xx", "en-US", "Open chat")]
    for lang, locale, label in cases:
        context = await new_context(locale=locale)
        page = await context.new_page()
        host_site.embed(chat.url, lang=lang)
        await page.goto(f"{host_site.origin}/")
        await expect(shadow(page).locator(".launch")).to_have_attribute("aria-label", label)
        await context.close()
