"""Business hours (issue 22), with an injected clock: the back-at text in fi, sv and en (config,
welcome and the widget in Chromium), a hand-off outside the hours offers the offline form though
an agent is online, the switch at opening time reaches a connected visitor without polling,
exception dates, and admins alone change the schedule."""
# ruff: noqa: F811
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from chatserver.keys import AGENTS
from chatserver.services import hours, presence
from tests.browser import (  # noqa: F401  (fixtures)
    HostSite,
    axe_source,
    base_url,
    browser_type_launch_args,
    describe,
    expect,
    host_site,
    run_axe,
    shadow,
    widget_bundle,
)
from tests.helpers import Chat

ADMIN = "admin@example.fi"
WEEKDAYS_9_TO_17 = {"weekly": [{"weekday": d, "opens": "09:00", "closes": "17:00"}
                               for d in range(5)],
                    "exceptions": [{"date": "2026-03-10"},  # a Tuesday off
                                   {"date": "2026-03-11", "opens": "09:00", "closes": "12:00"}]}


class Clock:
    """Helsinki is UTC+2 in early March 2026."""

    def __init__(self, *moment: int) -> None:
        self.now = datetime(*moment, tzinfo=UTC)  # type: ignore[misc]

    def __call__(self) -> datetime:
        return self.now


async def _admin(chat: Chat) -> aiohttp.ClientSession:
    await chat.add_agent(ADMIN, "Aada", "admin")
    return await chat.login(ADMIN)


async def _set_hours(chat: Chat, http: aiohttp.ClientSession, body: dict[str, Any]) -> Any:
    async with http.put(f"{chat.url}/api/v1/business-hours", json=body,
                        headers={"X-CSRF-Token": http.headers_csrf}) as response:  # type: ignore
        data = await response.json()
        assert response.status == 200, data
        return data["hours"]


async def _config(chat: Chat, lang: str) -> Any:
    async with aiohttp.ClientSession() as http, http.get(
            f"{chat.url}/api/v1/widget/config?lang={lang}") as response:
        return await response.json()


async def test_outside_the_hours_the_back_at_time_is_given_in_each_language(
        chat_factory: Any) -> None:
    clock = Clock(2026, 3, 7, 10, 0)  # Saturday 12.00 in Helsinki
    chat = await chat_factory(clock=clock)
    http = await _admin(chat)
    await chat.agent("anna@example.fi", "Anna")  # online, but the team is closed
    assert (await _config(chat, "fi"))["online"] is True  # no schedule: as before
    saved = await _set_hours(chat, http, WEEKDAYS_9_TO_17)
    assert saved["open"] is False and len(saved["weekly"]) == 5
    expected = {"fi": "Palaamme maanantaina klo 9.00.",
                "sv": "Vi är tillbaka på måndag kl. 09:00.",
                "en": "We are back on Monday at 9:00\u202fAM."}
    for lang, text in expected.items():
        config = await _config(chat, lang)
        assert (config["online"], config["back_at"]) == (False, text)
        visitor = await chat.visitor(lang)
        assert (visitor.welcome["online"], visitor.welcome["back_at"]) == (False, text)
    # Friday evening: back on Monday; Monday 8.00: today; the Tuesday off: Wednesday, which
    # closes early; a closing after Wednesday noon: Thursday.
    for moment, fi in (((2026, 3, 6, 16, 0), "Palaamme maanantaina klo 9.00."),
                       ((2026, 3, 9, 6, 0), "Palaamme tänään klo 9.00."),
                       ((2026, 3, 9, 16, 0), "Palaamme keskiviikkona klo 9.00."),
                       ((2026, 3, 11, 11, 0), "Palaamme huomenna klo 9.00.")):
        clock.now = datetime(*moment, tzinfo=UTC)
        assert hours.back_at(chat.ctx, "fi") == fi, moment
    clock.now = datetime(2026, 3, 11, 9, 0, tzinfo=UTC)  # Wednesday 11.00: open
    await presence.heartbeat(chat.ctx, chat.app[AGENTS].sids())
    assert (await _config(chat, "fi"))["back_at"] is None
    assert (await _config(chat, "fi"))["online"] is True


async def test_a_hand_off_outside_the_hours_offers_the_offline_form_though_an_agent_is_online(
        chat_factory: Any) -> None:
    clock = Clock(2026, 3, 9, 16, 0)  # Monday 18.00 in Helsinki: closed
    chat = await chat_factory(clock=clock, bot={"enabled": True})
    http = await _admin(chat)
    agent = await chat.agent("anna@example.fi", "Anna")
    await _set_hours(chat, http, WEEKDAYS_9_TO_17)
    visitor = await chat.visitor("en")
    await visitor.call("message", {"client_id": "1", "text": "Hello"})
    # The assistant still answers outside the hours.
    assert (await visitor.next("message", where=lambda m: m["author"]["kind"] == "bot"))["text"]
    handed = await visitor.call("handoff", {})
    assert handed["ok"] and handed["conversation"]["state"] == "bot"
    offer = await visitor.next("message", where=lambda m: "offline_form" in m.get("actions", []))
    assert offer["author"]["kind"] == "bot"
    assert agent.pending("queue") == [] or all(
        not q["conversations"] for q in agent.pending("queue"))
    # At opening time the same hand-off reaches the queue.
    clock.now = datetime(2026, 3, 10, 7, 30, tzinfo=UTC)  # the Tuesday off: still closed
    await presence.heartbeat(chat.ctx, chat.app[AGENTS].sids())
    assert (await visitor.call("handoff", {}))["conversation"]["state"] == "bot"
    clock.now = datetime(2026, 3, 11, 7, 30, tzinfo=UTC)  # Wednesday 9.30: open
    await presence.heartbeat(chat.ctx, chat.app[AGENTS].sids())
    assert (await visitor.call("handoff", {}))["conversation"]["state"] == "queued"


async def test_the_opening_reaches_a_connected_visitor_without_polling(
        chat_factory: Any) -> None:
    clock = Clock(2026, 3, 9, 6, 59, 59)  # Monday 8.59.59
    chat = await chat_factory(clock=clock)
    http = await _admin(chat)
    await chat.agent("anna@example.fi", "Anna")
    visitor = await chat.visitor("sv")
    await _set_hours(chat, http, WEEKDAYS_9_TO_17)
    # The saving node's timer announces the closing at once.
    closed = await visitor.next("availability", where=lambda a: not a["online"])
    assert closed["back_at"]["sv"] == "Vi är tillbaka i dag kl. 09:00."
    clock.now = datetime(2026, 3, 9, 7, 0, 1, tzinfo=UTC)
    # This node's timer (or its next heartbeat) announces the opening.
    assert await visitor.next("availability", where=lambda a: a["online"]) == {"online": True}


async def test_only_admins_change_the_hours_and_bad_times_are_refused(chat: Chat) -> None:
    http = await _admin(chat)
    await chat.add_agent("anna@example.fi", "Anna")
    anna = await chat.login("anna@example.fi")
    async with anna.put(f"{chat.url}/api/v1/business-hours", json={"weekly": []},
                        headers={"X-CSRF-Token": anna.headers_csrf}) as response:  # type: ignore
        assert response.status == 403
    async with anna.get(f"{chat.url}/api/v1/business-hours") as response:
        assert (await response.json())["hours"]["weekly"] == []
    for bad in ({"weekday": 7, "opens": "09:00", "closes": "17:00"},
                {"weekday": 1, "opens": "9:00", "closes": "17:00"},
                {"weekday": 1, "opens": "09:00", "closes": "25:00"}):
        async with http.put(f"{chat.url}/api/v1/business-hours", json={"weekly": [bad]},
                            headers={"X-CSRF-Token": http.headers_csrf}) as response:  # type: ignore
            assert response.status == 400
    # A night shift past midnight.
    night = await _set_hours(chat, http, {"weekly": [{"weekday": 0, "opens": "22:00",
                                                      "closes": "02:00"}]})
    zone = hours.zone_of(chat.ctx)
    schedule = hours.current(chat.ctx)
    assert night["weekly"] == [{"weekday": 0, "opens": "22:00", "closes": "02:00"}]
    assert hours.is_open(schedule, datetime(2026, 3, 9, 23, 30, tzinfo=UTC), zone)  # Tue 1.30
    assert not hours.is_open(schedule, datetime(2026, 3, 10, 1, 0, tzinfo=UTC), zone)


@pytest.mark.browser
@pytest.mark.parametrize(("lang", "text"), [
    ("fi", "Palaamme maanantaina klo 9.00."),
    ("sv", "Vi är tillbaka på måndag kl. 09:00."),
    ("en", "We are back on Monday at 9:00\u202fAM.")])
async def test_the_widget_shows_when_the_team_is_back(
        chat_factory: Any, page: Any, axe_source: str, host_site: HostSite, lang: str,
        text: str) -> None:
    chat = await chat_factory(clock=Clock(2026, 3, 7, 10, 0),  # Saturday
                              allowed_origins=[host_site.origin])
    http = await _admin(chat)
    await chat.agent("anna@example.fi", "Anna")  # online, but the team is closed
    await _set_hours(chat, http, WEEKDAYS_9_TO_17)
    host_site.embed(chat.url, lang=lang)
    await page.goto(f"{host_site.origin}/")
    await shadow(page).locator(".launch").click()
    form = shadow(page).locator("form")
    await expect(form.locator(".back")).to_have_text(text)
    violations = await run_axe(page, axe_source)
    assert violations == [], describe(violations)


@pytest.mark.browser
async def test_an_admin_sets_the_hours_in_the_console(
        chat: Chat, new_context: Any, axe_source: str) -> None:
    from tests.test_console import assert_accessible, open_console

    await chat.add_agent(ADMIN, "Aada", "admin")
    console = await open_console(new_context, chat, ADMIN)
    page = console.page
    await page.get_by_role("link", name="Business hours", exact=True).click()
    await expect(page.get_by_role("status").filter(has_text="Open now.")).to_be_visible()
    await assert_accessible(page, axe_source)
    await page.get_by_label("Monday – Opens").fill("09:00")
    await page.get_by_label("Monday – Closes").fill("17:00")
    await page.get_by_role("button", name="Add a date").click()
    await page.get_by_label("Date").fill("2026-12-24")
    await page.get_by_role("button", name="Save the hours").click()
    await expect(page.get_by_text("Saved.").first).to_be_visible()
    assert hours.current(chat.ctx).view() == {
        "weekly": [{"weekday": 0, "opens": "09:00", "closes": "17:00"}],
        "exceptions": [{"date": "2026-12-24", "opens": None, "closes": None}]}
    await assert_accessible(page, axe_source)
    console.check()
