"""The embeddable widget (issue 4): its bundle and config over HTTP, and the visitor's side in a
real Chromium against the real server (one browser per session, one page per test)."""
# The fixtures imported from tests.browser are redefined as parameters by design:
# ruff: noqa: F811

from __future__ import annotations

import gzip
import re
from typing import Any

import aiohttp
import pytest
from sqlmodel import select

from chatserver.db.models import Conversation, Message, OfflineMessage
from chatserver.services.ui_strings import WIDGET_STRINGS
from tests.browser import (  # noqa: F401  (fixtures)
    HostSite,
    axe_source,
    base_url,
    browser_type_launch_args,
    bubbles,
    describe,
    expect,
    host_site,
    queued_conversation,
    run_axe,
    screenshot,
    send,
    shadow,
    start_chat,
    storage_of,
    widget_bundle,
)
from tests.helpers import Chat

BUDGET_GZIPPED = 25 * 1024


# ---------------------------------------------------------------- HTTP: bundle and config

async def test_bundle_is_within_the_size_budget(widget_bundle: Any) -> None:
    size = len(gzip.compress(widget_bundle.read_bytes(), 9))
    assert size <= BUDGET_GZIPPED, f"widget.js is {size} bytes gzipped, over {BUDGET_GZIPPED}"


async def test_widget_js_is_served_with_etag_and_cache_headers(chat: Chat,
                                                              widget_bundle: Any) -> None:
    async with aiohttp.ClientSession(auto_decompress=False) as http:
        async with http.get(f"{chat.url}/widget.js",
                            headers={"Accept-Encoding": "identity"}) as plain:
            assert plain.status == 200
            assert plain.headers["Content-Type"].startswith("application/javascript")
            assert "max-age" in plain.headers["Cache-Control"]
            etag = plain.headers["ETag"]
            assert await plain.read() == widget_bundle.read_bytes()
        async with http.get(f"{chat.url}/widget.js", headers={
                "Accept-Encoding": "identity", "If-None-Match": etag}) as again:
            assert again.status == 304
            assert again.headers["ETag"] == etag
            assert await again.read() == b""
        async with http.get(f"{chat.url}/widget.js",
                            headers={"Accept-Encoding": "gzip, br"}) as zipped:
            assert zipped.headers["Content-Encoding"] == "gzip"
            assert zipped.headers["ETag"] != etag
            assert gzip.decompress(await zipped.read()) == widget_bundle.read_bytes()
        async with http.get(f"{chat.url}/widget.js", headers={
                "Accept-Encoding": "identity", "If-None-Match": '"stale"'}) as changed:
            assert changed.status == 200
            assert not changed.cookies


async def test_config_delivers_translated_ui_strings_and_cors_for_host_sites(
        chat_factory: Any) -> None:
    origin = "https://shop.example"
    chat = await chat_factory(allowed_origins=[origin])
    seen: dict[str, dict[str, str]] = {}
    async with aiohttp.ClientSession() as http:
        for lang in ("fi", "sv", "en"):
            async with http.get(f"{chat.url}/api/v1/widget/config?lang={lang}",
                                headers={"Origin": origin}) as response:
                body = await response.json()
                assert response.headers["Access-Control-Allow-Origin"] == origin
                assert not response.cookies
            assert set(body["strings"]) == set(WIDGET_STRINGS)
            seen[lang] = body["strings"]
        async with http.get(f"{chat.url}/api/v1/widget/config",
                            headers={"Origin": "http://evil.example"}) as response:
            assert "Access-Control-Allow-Origin" not in response.headers
    assert seen["en"]["start_chat"] == "Start chat"
    assert seen["fi"]["start_chat"] == "Aloita keskustelu"
    assert seen["sv"]["start_chat"] == "Starta chatten"
    untranslated = [key for key in WIDGET_STRINGS
                    if seen["fi"][key] == seen["en"][key] or seen["sv"][key] == seen["en"][key]]
    assert untranslated == []


# ---------------------------------------------------------------- in the browser

@pytest.mark.browser
async def test_visitor_acknowledges_notice_and_chats_with_an_agent_both_ways(
        chat: Chat, page: Any, axe_source: str) -> None:
    agent = await chat.agent("anna@example.fi", "Anna")
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    await page.goto(chat.url + "/")  # the demo host page: <script src=/widget.js data-lang=fi>
    launcher = shadow(page).locator(".launch")
    await expect(launcher).to_have_attribute("aria-label", "Avaa chat")
    assert await run_axe(page, axe_source) == [], "closed"
    await screenshot(page, "1-closed")

    await launcher.click()
    dialog = page.get_by_role("dialog", name="Keskustele kanssamme")
    await expect(dialog).to_be_visible()
    await expect(dialog.get_by_role("link", name=re.compile("Lue koko tietosuojaseloste"))
                 ).to_have_attribute("href", re.compile(r"/privacy\?lang=fi$"))
    violations = await run_axe(page, axe_source)
    assert violations == [], describe(violations)
    await screenshot(page, "2-notice")

    await dialog.get_by_role("button", name="Aloita keskustelu").click()
    await expect(dialog.locator(".status")).to_have_text("Kirjoita kysymyksesi alle.")
    await send(page, "Hei, missä tilaukseni on?")
    conversation_id = await queued_conversation(agent)
    await expect(dialog.locator(".status")).to_have_text(re.compile("Odotetaan"))
    claimed = await agent.call("claim", {"conversation_id": conversation_id})
    assert claimed["ok"], claimed
    await expect(dialog.locator(".status")).to_have_text("Keskustelet henkilön Anna kanssa.")

    await agent.emit("typing", {"conversation_id": conversation_id, "typing": True})
    await expect(dialog.locator(".typing").first).to_have_text("Anna kirjoittaa…")
    reply = await agent.call("message", {"conversation_id": conversation_id,
                                         "client_id": "a1", "text": "Tarkistan heti!"})
    assert reply["ok"], reply
    await expect(bubbles(page)).to_have_text(
        ["Hei, missä tilaukseni on?", "Anna liittyi keskusteluun.", "Tarkistan heti!"])
    await expect(dialog.locator(".typing").first).to_have_text("")
    await expect(dialog.locator("li time").last).to_have_attribute(
        "datetime", reply["message"]["created_at"])
    # The live region announces what arrives.
    await expect(shadow(page).locator("div.sr[aria-live]")).to_have_text(
        "Anna: Tarkistan heti!")

    # The visitor's typing reaches the agent; the reply reaches the agent.
    await shadow(page).locator("#cs-msg").press_sequentially("Kii")
    typing = await agent.next("typing", where=lambda t: t["typing"])
    assert typing["conversation_id"] == conversation_id
    await shadow(page).locator("#cs-msg").fill("Kiitos!")
    await shadow(page).locator("#cs-msg").press("Enter")
    got = await agent.next("message", where=lambda m: m["text"] == "Kiitos!")
    assert got["author"] == {"kind": "visitor"}
    await expect(dialog.locator("li.me .meta").last).to_have_text(re.compile(r"\d\d[.:]\d\d"))
    violations = await run_axe(page, axe_source)
    assert violations == [], describe(violations)
    await screenshot(page, "3-chat")

    # Minimised: an unread badge counts what arrives; opening clears it.
    await dialog.get_by_role("button", name="Pienennä chat").click()
    await agent.call("message", {"conversation_id": conversation_id, "client_id": "a2",
                                 "text": "Paketti on matkalla."})
    await expect(launcher).to_have_attribute("aria-label",
                                             "Avaa chat – Lukemattomia viestejä: 1")
    await expect(launcher.locator(".badge")).to_have_text("1")
    await screenshot(page, "4-minimised-unread")
    await launcher.click()
    await expect(launcher.locator(".badge")).to_be_hidden()
    await expect(bubbles(page).last).to_have_text("Paketti on matkalla.")
    assert dialogs == []


@pytest.mark.browser
async def test_before_start_chat_nothing_is_stored_and_only_the_chat_server_is_asked(
        chat_factory: Any, page: Any, host_site: HostSite) -> None:
    chat = await chat_factory(allowed_origins=[host_site.origin])
    await chat.agent("anna@example.fi", "Anna")
    requests: list[str] = []
    violations: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on("websocket", lambda ws: requests.append(ws.url))
    page.on("console", lambda msg: violations.append(msg.text)
            if "Content Security Policy" in msg.text else None)
    host_site.embed(chat.url, lang="en")
    await page.emulate_media(reduced_motion="reduce")
    await page.goto(f"{host_site.origin}/")
    launcher = shadow(page).locator(".launch")
    await expect(launcher).to_be_visible()
    await launcher.click()
    assert await shadow(page).evaluate("(host) => host.shadowRoot.getAnimations().length") == 0
    await expect(page.get_by_role("button", name="Start chat")).to_be_visible()
    await expect(page.get_by_role("dialog")).to_have_css("color", "rgb(26, 26, 26)")
    assert await storage_of(page) == {"cookies": "", "local": 0, "session": []}
    assert await page.context.cookies() == []

    # Keyboard only: focus is trapped in the open panel and returns to the launcher.
    await page.keyboard.press("Escape")
    await expect(launcher).to_be_focused()
    await page.keyboard.press("Enter")
    start = page.get_by_role("button", name="Start chat")
    await expect(start).to_be_focused()
    for _ in range(6):
        await page.keyboard.press("Tab")
        assert await page.evaluate(
            "() => document.activeElement && document.activeElement.tagName") \
            == "CHATSERVER-WIDGET"
    await page.keyboard.press("Shift+Tab")
    await page.keyboard.press("Escape")
    await expect(launcher).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(start).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(shadow(page).locator("#cs-msg")).to_be_focused()
    await page.keyboard.type("Hello from the keyboard")
    await page.keyboard.press("Enter")
    await expect(shadow(page).locator("li.me .meta")).to_have_text(re.compile(r"\d"))

    stored = await storage_of(page)
    assert stored["cookies"] == "" and stored["local"] == 0
    assert stored["session"] == ["chatserver-widget"]  # the resume token, after Start chat
    assert await page.context.cookies() == []
    foreign = [url for url in requests
               if not url.startswith((chat.url, chat.url.replace("http", "ws"),
                                        host_site.origin))]
    assert foreign == []
    assert any(url.startswith(chat.url + "/socket.io/") for url in requests)
    assert violations == []


@pytest.mark.browser
async def test_offline_form_reaches_the_server(chat: Chat, page: Any, axe_source: str) -> None:
    await page.goto(chat.url + "/")
    await shadow(page).locator(".launch").click()
    form = shadow(page).locator("form")
    await expect(form.get_by_role("heading")).to_have_text("Jätä meille viesti")
    await expect(form.locator(".notice a")).to_be_visible()  # the notice is shown here too
    violations = await run_axe(page, axe_source)
    assert violations == [], describe(violations)
    await screenshot(page, "5-offline-form")

    await form.get_by_label("Nimi").fill("Maija Meikäläinen")
    await form.get_by_label("Sähköpostiosoite").fill("not-an-address")
    await form.get_by_role("button", name="Lähetä viesti").click()
    await expect(form.get_by_label("Sähköpostiosoite")).to_have_attribute("aria-invalid", "true")
    await expect(form.get_by_label("Sähköpostiosoite")).to_be_focused()
    violations = await run_axe(page, axe_source)
    assert violations == [], describe(violations)
    await screenshot(page, "6-offline-form-errors")
    await form.get_by_label("Sähköpostiosoite").fill("maija@example.fi")
    await form.get_by_label("Viesti").fill("Soittakaa minulle <b>huomenna</b>.")
    await form.get_by_role("button", name="Lähetä viesti").click()
    await expect(shadow(page).get_by_role("status").last).to_have_text(
        "Kiitos! Viestisi on lähetetty. Vastaamme sähköpostitse.")
    async with chat.ctx.db() as session:
        rows = (await session.exec(select(OfflineMessage))).all()
    assert [(r.name, r.email, r.text, r.language) for r in rows] == [
        ("Maija Meikäläinen", "maija@example.fi", "Soittakaa minulle <b>huomenna</b>.", "fi")]
    # The form is no chat: nothing stays in the browser.
    assert await storage_of(page) == {"cookies": "", "local": 0, "session": []}


@pytest.mark.browser
async def test_transcript_request_is_stored(chat: Chat, page: Any) -> None:
    await chat.agent("anna@example.fi", "Anna")
    await page.goto(chat.url + "/")
    await start_chat(page)
    await send(page, "Lähettäkää keskustelu minulle")
    await expect(shadow(page).locator("li.me time")).to_have_count(1)
    widget = shadow(page)
    await widget.get_by_role("button", name="Chatin toiminnot").click()
    await widget.get_by_role("button", name="Lähetä keskusteluhistoria sähköpostiini").click()
    address = widget.get_by_label("Sähköpostiosoite")
    await address.fill("ei osoite")
    await widget.get_by_role("button", name="Lähetä keskusteluhistoria minulle").click()
    await expect(widget.locator("#cs-te-e")).to_have_text(
        "Tarkista sähköpostiosoite; se ei näytä kelvolliselta.")
    await address.fill("visitor@example.fi")
    await widget.get_by_role("button", name="Lähetä keskusteluhistoria minulle").click()
    await expect(widget.get_by_role("status").last).to_have_text(
        "Keskusteluhistoria lähetetään osoitteeseen visitor@example.fi, kun keskustelu päättyy.")
    async with chat.ctx.db() as session:
        conversation = (await session.exec(select(Conversation))).one()
    assert conversation.transcript_email == "visitor@example.fi"

    await widget.get_by_role("button", name="Takaisin keskusteluun").click()
    await expect(widget.locator("#cs-msg")).to_be_focused()
    await widget.get_by_role("button", name="Chatin toiminnot").click()
    await widget.get_by_role("button", name="Lopeta keskustelu").click()
    await expect(widget.locator(".status")).to_have_text("Keskustelu on päättynyt.")
    await expect(widget.get_by_role("button", name="Aloita uusi keskustelu")).to_be_visible()


def _has_events(chat: Chat, *events: str) -> bool:
    from chatserver.keys import VISITORS

    return all(event in chat.app[VISITORS].handlers for event in events)


@pytest.mark.browser
async def test_download_and_erase_remove_the_conversation(chat: Chat, page: Any) -> None:
    if not _has_events(chat, "export", "erase"):
        pytest.skip("the server has no export/erase events yet (privacy issue)")
    await chat.agent("anna@example.fi", "Anna")
    await page.goto(chat.url + "/")
    await start_chat(page)
    await send(page, "Poistakaa tämä sitten")
    await expect(shadow(page).locator("li.me time")).to_have_count(1)
    widget = shadow(page)
    await widget.get_by_role("button", name="Chatin toiminnot").click()
    async with page.expect_download() as info:
        await widget.get_by_role("button", name="Lataa keskusteluhistoria").click()
    download = await info.value
    assert download.suggested_filename.endswith(".json")
    assert "Poistakaa tämä sitten" in (await download.path()).read_text()

    await widget.get_by_role("button", name="Chatin toiminnot").click()
    await widget.get_by_role("button", name="Poista tämä keskustelu").click()
    await expect(widget.get_by_role("heading", name="Poistetaanko tämä keskustelu?")
                 ).to_be_visible()
    await expect(widget.get_by_role("button", name="Peruuta")).to_be_focused()
    await screenshot(page, "7-erase-confirmation")
    await widget.get_by_role("button", name="Poista", exact=True).click()
    await expect(widget.get_by_role("status").last).to_have_text("Keskustelusi on poistettu.")
    async with chat.ctx.db() as session:
        assert (await session.exec(select(Conversation))).all() == []
        assert (await session.exec(select(Message))).all() == []
    assert await storage_of(page) == {"cookies": "", "local": 0, "session": []}
    await widget.get_by_role("button", name="Sulje").click()
    await expect(widget.locator(".launch")).to_be_focused()


@pytest.mark.browser
async def test_bot_answers_and_offers_the_offline_form_when_nobody_is_online(
        chat_factory: Any, page: Any) -> None:
    chat = await chat_factory(bot={"enabled": True})
    await page.goto(chat.url + "/")
    await start_chat(page)  # with the assistant on, nobody online still means a chat
    await send(page, "qwzx blorf vrrk")
    widget = shadow(page)
    await expect(widget.locator(".status")).to_have_text(
        "Keskustelet automaattisen avustajamme kanssa.")
    bot_messages = widget.locator("li", has=page.locator(".who", has_text="Avustaja"))
    await expect(bot_messages).to_have_count(2)  # the greeting and the unsure note
    await screenshot(page, "9-bot")
    await bot_messages.last.get_by_role("button", name="Jätä mieluummin viesti").click()
    form = widget.locator("form")
    await form.get_by_label("Nimi").fill("Ville")
    await form.get_by_label("Sähköpostiosoite").fill("ville@example.fi")
    await form.get_by_label("Viesti").fill("Soittakaa")
    await form.get_by_role("button", name="Lähetä viesti").click()
    await widget.get_by_role("button", name="Takaisin keskusteluun").click()
    await expect(widget.locator("#cs-msg")).to_be_focused()
    async with chat.ctx.db() as session:
        rows = (await session.exec(select(OfflineMessage))).all()
    assert [(r.name, r.text) for r in rows] == [("Ville", "Soittakaa")]
