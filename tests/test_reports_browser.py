"""Reports and ratings in a real Chromium (issue 22): a visitor rates an ended chat from the
widget with the keyboard only (and skips the next one with Escape); an admin sees the rating on
the reports page, whose charts each have a table, and downloads the table as CSV; axe finds no
violation on the rating view or the reports page."""
# The fixtures imported from tests.browser are redefined as parameters by design:
# ruff: noqa: F811
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from chatserver.db.models import ConversationRating
from chatserver.services import reports
from tests.browser import (  # noqa: F401  (fixtures)
    axe_source,
    base_url,
    browser_type_launch_args,
    describe,
    expect,
    queued_conversation,
    run_axe,
    send,
    shadow,
    start_chat,
    widget_bundle,
)
from tests.test_console import assert_accessible, open_console, shot

pytestmark = pytest.mark.browser
ADMIN = "admin@example.fi"


async def _close_from_the_agent(page: Any, agent: Any, text: str) -> None:
    await send(page, text)
    conversation_id = await queued_conversation(agent)
    assert (await agent.call("claim", {"conversation_id": conversation_id}))["ok"]
    assert (await agent.call("message", {"conversation_id": conversation_id,
                                         "client_id": "a-" + conversation_id,
                                         "text": "Autan mielelläni."}))["ok"]
    assert (await agent.call("close", {"conversation_id": conversation_id}))["ok"]


async def test_a_rating_given_with_the_keyboard_reaches_the_reports_and_their_csv(
        chat_factory: Any, page: Any, new_context: Callable[..., Any],
        axe_source: str) -> None:
    # The site's day and the admin's browser's day are never the same here (25 hours apart):
    # the reports are by the site's days, and "today" must be the site's.
    chat = await chat_factory(rating={"enabled": True}, time_zone="Pacific/Kiritimati")
    await chat.add_agent(ADMIN, "Aada", role="admin")
    agent = await chat.agent("anna@example.fi", "Anna")
    await page.goto(chat.url + "/")  # the demo page: the widget in Finnish
    await start_chat(page)
    await _close_from_the_agent(page, agent, "Hei, tarvitsen apua")

    dialog = page.get_by_role("dialog")
    form = dialog.get_by_role("form", name="Miten onnistuimme?")
    await expect(form).to_be_visible()
    first = form.get_by_role("radio", name="1")
    await expect(first).to_be_focused()
    violations = await run_axe(page, axe_source)
    assert violations == [], describe(violations)
    # Keyboard only: choose 1, then arrow to 4; Tab to the comment; Tab to "Send"; Enter.
    await page.keyboard.press("Space")
    for _ in range(3):
        await page.keyboard.press("ArrowRight")
    await expect(form.get_by_role("radio", name="4")).to_be_checked()
    await page.keyboard.press("Tab")
    await expect(form.get_by_label("Kommentti (vapaaehtoinen)")).to_be_focused()
    await page.keyboard.type("Nopeaa apua")
    await page.keyboard.press("Tab")
    await expect(form.get_by_role("button", name="Lähetä arvio")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(dialog.get_by_role("status")).to_have_text("Kiitos palautteestasi!")
    async with chat.ctx.db() as session:
        ratings = (await session.exec(select(ConversationRating))).all()
    assert [(r.score, r.comment) for r in ratings] == [(4, "Nopeaa apua")]

    # The next chat's question is skipped with Escape: nothing is stored, the chat stays open.
    await page.keyboard.press("Enter")  # "Back to the chat"
    await dialog.get_by_role("button", name="Aloita uusi keskustelu").click()
    await _close_from_the_agent(page, agent, "Vielä yksi asia")
    await expect(form).to_be_visible()
    await page.keyboard.press("Escape")
    await expect(form).to_be_hidden()
    await expect(dialog).to_be_visible()
    await expect(dialog.get_by_role("button", name="Aloita uusi keskustelu")).to_be_focused()
    async with chat.ctx.db() as session:
        assert len((await session.exec(select(ConversationRating))).all()) == 1

    assert await reports.fold(chat.ctx) == 2  # what the worker does every interval
    # The admin's reports page: the rating is in the table behind the ratings chart and in
    # its CSV.
    console = await open_console(new_context, chat, ADMIN, timezone_id="Pacific/Pago_Pago")
    admin = console.page
    await admin.get_by_role("link", name="Reports", exact=True).click()
    ratings = admin.locator("section.report").filter(has=admin.get_by_role(
        "heading", name="Ratings", exact=True))
    today = datetime.now(ZoneInfo(chat.settings.time_zone)).date().isoformat()
    await ratings.get_by_text("Figures as a table").click()
    row = ratings.get_by_role("row", name=today)
    await expect(row).to_contain_text("4")
    await expect(admin.locator("svg.chart")).to_have_count(5)
    await assert_accessible(admin, axe_source)
    await shot(admin, "reports")
    async with admin.expect_download() as waiting:
        await ratings.get_by_role("button", name="Download “Ratings” as CSV").click()
    download = await waiting.value
    path = await download.path()
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == "Day,1,2,3,4,5,Average rating"
    assert lines[1:] == [f"{today},0,0,0,1,0,4"]
    agents = admin.locator("section.report").filter(has=admin.get_by_role(
        "heading", name="Agents", exact=True))
    await expect(agents.get_by_role("row", name="Anna")).to_contain_text("2")
    console.check()

    # Anna sees her own figures at /console/reports, without the site-wide heatmap.
    own = await open_console(new_context, chat, "anna@example.fi")
    await own.page.get_by_role("link", name="Reports", exact=True).click()
    await expect(own.page.get_by_text("These are your own figures.")).to_be_visible()
    await expect(own.page.locator("svg.chart")).to_have_count(4)
    await assert_accessible(own.page, axe_source)
    own.check()
