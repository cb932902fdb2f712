"""Reports (issue 22): a scripted day of chats with an injected clock gives exactly the expected
counters and percentiles; ratings are stored with the conversation, shown, exported and erased
with it; erasing and purging the conversations, or rebuilding the counters, leaves the reports
as they were; an agent sees only their own figures."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from chatserver.db.models import ConversationRating, Message, report_hour
from chatserver.keys import AGENTS
from chatserver.services import presence, report_figures, reports
from chatserver.services.privacy import retention
from tests.helpers import Chat, Client

DAY = date(2026, 3, 2)  # a Monday; Helsinki is UTC+2 then


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def at(self, hour: int, minute: int, second: int = 0) -> None:
        self.now = datetime(2026, 3, 2, hour, minute, second, tzinfo=UTC)


async def _report(chat: Chat, http: Any, **query: str) -> dict[str, Any]:
    params = {"from": DAY.isoformat(), "to": DAY.isoformat(), **query}
    async with http.get(f"{chat.url}/api/v1/reports", params=params) as response:
        body = await response.json()
        assert response.status == 200, body
    return dict(body["report"])


async def _heartbeat(chat: Chat) -> None:
    await presence.heartbeat(chat.ctx, chat.app[AGENTS].sids())


async def _scripted_day(chat: Chat, clock: Clock, agent: Client) -> dict[str, Client]:
    """A: the assistant alone (fi); B: handed off, claimed after 40 s, answered 70 s after the
    hand-off, rated 5 with a comment (sv); C: a hand-off straight away, claimed after 20 s,
    answered after 50 s, closed by the agent, rated 3 (en); D: the offline form (fi)."""
    clock.at(8, 0)
    a = await chat.visitor("fi")
    assert (await a.call("message", {"client_id": "a1", "text": "Mitkä ovat aukioloajat?"}))["ok"]
    clock.at(8, 5)
    assert (await a.call("close", {}))["ok"]

    clock.at(9, 0)
    b = await chat.visitor("sv")
    b_id = (await b.call("message", {"client_id": "b1", "text": "Hej"}))["message"][
        "conversation_id"]
    clock.at(9, 1)
    await _heartbeat(chat)  # the agent is online at the injected time
    assert (await b.call("handoff", {}))["ok"]
    clock.at(9, 1, 40)
    assert (await agent.call("claim", {"conversation_id": b_id}))["ok"]
    clock.at(9, 2, 10)
    assert (await agent.call("message", {"conversation_id": b_id, "client_id": "x1",
                                         "text": "Hej, hur kan jag hjälpa?"}))["ok"]
    clock.at(9, 10)
    assert (await b.call("close", {}))["ok"]
    clock.at(9, 11)
    assert (await b.call("rate", {"score": 5, "comment": "Snabb hjälp, tack!"}))["ok"]
    again = await b.call("rate", {"score": 1})
    assert again["ok"] is False and again["error"]["code"] == "conflict"

    clock.at(9, 30)
    await _heartbeat(chat)
    c = await chat.visitor("en")
    c_id = (await c.call("handoff", {}))["conversation"]["id"]
    clock.at(9, 30, 20)
    assert (await agent.call("claim", {"conversation_id": c_id}))["ok"]
    clock.at(9, 30, 50)
    assert (await agent.call("message", {"conversation_id": c_id, "client_id": "x2",
                                         "text": "Hello!"}))["ok"]
    clock.at(9, 40)
    assert (await agent.call("close", {"conversation_id": c_id}))["ok"]
    assert (await c.call("rate", {"score": 3}))["ok"]

    clock.at(12, 0)
    d = await chat.visitor("fi")
    assert (await d.call("offline_message", {"name": "Maija", "email": "maija@example.fi",
                                             "text": "Soittakaa"}))["ok"]
    return {"a": a, "b": b, "c": c}


async def _stored_messages(chat: Chat) -> dict[str, int]:
    async with chat.ctx.db() as session:
        rows = (await session.exec(select(Message.author_kind, func.count())  # type: ignore
                                   .group_by(Message.author_kind))).all()
    return {kind: int(n) for kind, n in rows}


async def test_a_scripted_day_gives_exact_counters_and_percentiles_that_outlive_the_chats(
        chat_factory: Any, database: dict[str, str]) -> None:
    clock = Clock()
    chat = await chat_factory(clock=clock, bot={"enabled": True}, rating={"enabled": True},
                              reports={"interval_seconds": 3600}, **database)
    await chat.add_agent("admin@example.fi", "Admin", "admin")
    admin = await chat.login("admin@example.fi")
    agent = await chat.agent("anna@example.fi", "Anna")
    visitors = await _scripted_day(chat, clock, agent)
    stored = await _stored_messages(chat)

    assert await reports.fold(chat.ctx) == 3
    assert await reports.fold(chat.ctx) == 0  # counted once
    report = await _report(chat, admin)
    total = report["total"]
    assert {k: total[k] for k in ("started", "handed_off", "claimed", "assistant_solved",
                                  "closed", "offline_messages")} == {
        "started": 3, "handed_off": 2, "claimed": 2, "assistant_solved": 1, "closed": 3,
        "offline_messages": 1}
    assert total["messages"] == {kind: stored.get(kind, 0)
                                 for kind in ("visitor", "agent", "bot", "system")}
    assert total["messages"]["visitor"] == 2 and total["messages"]["agent"] == 2
    # Waits 40 s and 20 s: one in (10, 30], one in (30, 60] -> p50 30, p90 54 (linear).
    assert total["wait"] == {"count": 2, "p50": 30.0, "p90": 54.0,
                             "buckets": [0, 1, 1, 0, 0, 0, 0, 0]}
    # First answers 70 s and 50 s after the hand-off.
    assert (total["first_response"]["p50"], total["first_response"]["p90"]) == (60.0, 108.0)
    # Durations 300 s, 600 s, 600 s.
    assert (total["duration"]["p50"], total["duration"]["p90"]) == (375.0, 555.0)
    assert total["ratings"] == {"1": 0, "2": 0, "3": 1, "4": 0, "5": 1}
    assert total["rating_average"] == 4.0
    assert [d["day"] for d in report["days"]] == ["2026-03-02"]
    monday = report["heatmap"][0]
    assert (monday[10], monday[11], sum(map(sum, report["heatmap"]))) == (1, 2, 3)
    assert [(a["name"], a["claimed"], a["messages"]["agent"], a["rating_average"])
            for a in report["agents"]] == [("Anna", 2, 2, 4.0)]
    swedish = await _report(chat, admin, language="sv")
    assert (swedish["total"]["started"], swedish["total"]["ratings"]["5"]) == (1, 1)

    # An agent sees their own figures only.
    own = await _report(chat, agent.http)  # type: ignore[attr-defined]
    assert own["agent_id"] is not None and own["total"]["started"] == 0
    assert own["total"]["claimed"] == 2 and len(own["agents"]) == 1

    # The comment is shown to agents and exported with the conversation.
    b = visitors["b"]
    exported = (await b.call("export", {}))["data"]["conversations"][0]
    assert exported["rating"]["comment"] == "Snabb hjälp, tack!"
    async with admin.get(f"{chat.url}/api/v1/conversations/{exported['id']}") as response:
        shown = (await response.json())["conversation"]
    assert shown["rating"] == {"score": 5, "comment": "Snabb hjälp, tack!",
                               "rated_at": "2026-03-02T09:11:00+00:00"}

    # Rebuilding from what is stored gives the same figures.
    assert (await reports.rebuild(chat.ctx))["conversations"] == 3
    assert await _report(chat, admin) == report

    # Erasing (the rating goes with the conversation) and purging change no figure.
    assert (await b.call("erase", {}))["ok"]
    async with chat.ctx.db() as session:
        assert (await session.get(ConversationRating, exported["id"])) is None
    assert await _report(chat, admin) == report
    clock.now += timedelta(days=61)
    counts = await retention.purge(chat.ctx)
    assert counts.conversations == 2 and counts.offline_messages == 1
    again = await report_figures.report(chat.ctx, shown_admin(chat),
                                        report_figures.Query(DAY, DAY))
    assert again == report
    # The counters themselves go after privacy.retention.reports days.
    clock.now += timedelta(days=731)
    await retention.purge(chat.ctx)
    async with chat.ctx.db() as session:
        assert (await session.exec(select(func.count()).select_from(report_hour))).one()[0] == 0  # type: ignore


def shown_admin(chat: Chat) -> Any:
    from chatserver.db.models import Agent

    return Agent(id=0, email="x@example.fi", display_name="x", password_hash="", role="admin")


async def test_a_conversation_erased_before_it_was_counted_is_counted_by_the_erasure(
        chat_factory: Any) -> None:
    clock = Clock()
    chat = await chat_factory(clock=clock, reports={"interval_seconds": 3600})
    visitor = await chat.visitor("fi")
    await visitor.call("message", {"client_id": "1", "text": "Hei"})
    assert (await visitor.call("erase", {}))["ok"]
    assert await reports.fold(chat.ctx) == 0
    figures = await report_figures.report(chat.ctx, shown_admin(chat),
                                          report_figures.Query(DAY, DAY))
    assert figures["total"]["started"] == 1 and figures["total"]["messages"]["visitor"] == 1
    assert figures["total"]["closed"] == 0


async def test_rating_is_refused_while_switched_off_or_before_the_end(chat_factory: Any) -> None:
    chat = await chat_factory(rating={"enabled": True})
    visitor = await chat.visitor()
    assert (await visitor.call("rate", {"score": 4}))["error"]["code"] == "not_found"
    await visitor.call("message", {"client_id": "1", "text": "Hei"})
    assert (await visitor.call("rate", {"score": 4}))["error"]["code"] == "conflict"
    bad = await visitor.call("rate", {"score": 6})
    assert bad["error"]["code"] == "invalid_input"
    long = await visitor.call("rate", {"comment": "x" * 501})
    assert long["error"]["code"] in ("invalid_input", "too_large")
    off = await chat_factory(rating={"enabled": False})
    other = await off.visitor()
    await other.call("message", {"client_id": "1", "text": "Hei"})
    await other.call("close", {})
    assert (await other.call("rate", {"score": 4}))["error"]["code"] == "forbidden"


async def test_the_agent_who_had_the_chat_sees_its_rating(chat_factory: Any) -> None:
    """Issue 21's details pane: the `rating` event to the agent, and `rating` in `history`."""
    chat = await chat_factory(rating={"enabled": True})
    agent = await chat.agent("anna@example.fi", "Anna")
    visitor = await chat.visitor("fi")
    opened = await visitor.call("message", {"client_id": "1", "text": "Hei"})
    conversation_id = opened["conversation"]["id"]
    assert (await agent.call("claim", {"conversation_id": conversation_id}))["ok"]
    before = await agent.call("history", {"conversation_id": conversation_id})
    assert before["rating"] is None
    assert (await agent.call("close", {"conversation_id": conversation_id}))["ok"]
    assert (await visitor.call("rate", {"score": 4, "comment": "Nopeaa apua"}))["ok"]
    got = await agent.next("rating")
    assert (got["conversation_id"], got["score"], got["comment"]) == (
        conversation_id, 4, "Nopeaa apua")
    after = await agent.call("history", {"conversation_id": conversation_id})
    assert after["rating"]["score"] == 4


async def test_a_reversed_or_very_long_range_is_read_sensibly(chat: Chat) -> None:
    await chat.add_agent("admin@example.fi", "Admin", "admin")
    http = await chat.login("admin@example.fi")
    for query, expected in (({"from": "2026-03-02", "to": "2026-03-01"},
                             ("2026-03-01", "2026-03-02")),
                            ({"from": "0001-01-01", "to": "2026-03-01"},
                             ((date(2026, 3, 1) - timedelta(days=reports.MAX_DAYS)).isoformat(),
                              "2026-03-01"))):
        async with http.get(f"{chat.url}/api/v1/reports", params=query) as response:
            report = (await response.json())["report"]
        assert (report["from"], report["to"]) == expected


@pytest.mark.parametrize("query", [{"from": "2026-13-01"}, {"to": "yesterday"},
                                   {"language": "de"}, {"from": "2026-3-1"}])
async def test_reports_refuse_bad_filters(chat: Chat, query: dict[str, str]) -> None:
    await chat.add_agent("admin@example.fi", "Admin", "admin")
    http = await chat.login("admin@example.fi")
    async with http.get(f"{chat.url}/api/v1/reports", params=query) as response:
        assert response.status == 400
        assert (await response.json())["error"]["code"] == "invalid_input"



async def test_the_notice_text_and_version_change_with_the_rating_switch(
        chat_factory: Any) -> None:
    versions = {}
    for enabled in (False, True):
        chat = await chat_factory(rating={"enabled": enabled})
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{chat.url}/api/v1/widget/config?lang=en") as response:
                config = await response.json()
            async with http.get(f"{chat.url}/api/v1/privacy-notice?lang=fi") as response:
                finnish = json.dumps(await response.json(), ensure_ascii=False)
        assert config["features"]["rating"] is enabled
        versions[enabled] = config["notice"]["version"]
        assert ("arvio" in finnish) is enabled
        await chat.close()
    assert versions[False] != versions[True]


def test_the_rebuild_and_count_commands_run(settings_factory: Any,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    from chatserver.cli import reports as cli_reports

    settings = settings_factory()
    cli_reports.run(settings, argparse.Namespace(action="rebuild"))
    cli_reports.run(settings, argparse.Namespace(action="count"))
    assert capsys.readouterr().out.splitlines() == ["nothing stored to count",
                                                    "0 conversation(s) counted"]
