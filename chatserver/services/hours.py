"""Business hours (issue 22): a weekly schedule in `time_zone` with exception dates (holidays,
an early closing), edited by admins (`GET/PUT /api/v1/business-hours`, the console's "Business
hours" page). With no schedule the team is always open, as before.

Outside the hours the chat counts as unavailable even when an agent is online
(presence.is_online), so the widget offers the offline form and says when the team is back,
and a hand-off goes to the offline form. Each node keeps the schedule in memory (`ctx.hours`),
reads it again from the database every RELOAD_SECONDS and at once on the node that saved it,
and its timer (`running`) wakes at each opening and closing to announce the change
(presence.publish_availability, which reads the schedule afresh first, so that no node
announces an older one); the announcement is made once for all nodes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_skeleton, format_time

from chatserver.db.models import BusinessHours
from chatserver.errors import Code, ServiceError
from chatserver.i18n import gettext_noop as _
from chatserver.services import audit
from chatserver.services.background import background
from chatserver.services.context import Context
from chatserver.settings import LANGUAGES

log = logging.getLogger(__name__)
RELOAD_SECONDS = 30.0
LOOKAHEAD_DAYS = 400
CLOCK = re.compile(r"([01]\d|2[0-3]):[0-5]\d|24:00")
Interval = tuple[str, str]  # ("09:00", "17:00"); "24:00" closes at midnight


@dataclass(frozen=True)
class Schedule:
    weekly: tuple[tuple[int, str, str], ...] = ()
    exceptions: dict[str, tuple[Interval, ...]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.weekly and not self.exceptions

    def intervals(self, day: date) -> tuple[Interval, ...]:
        if day.isoformat() in self.exceptions:
            return self.exceptions[day.isoformat()]
        return tuple((opens, closes) for weekday, opens, closes in self.weekly
                     if weekday == day.weekday())

    def view(self) -> dict[str, Any]:
        return {
            "weekly": [{"weekday": w, "opens": o, "closes": c} for w, o, c in self.weekly],
            "exceptions": [{"date": d, "opens": i[0][0] if i else None,
                            "closes": i[0][1] if i else None}
                           for d, i in sorted(self.exceptions.items())],
        }


def _at(day: date, clock: str, zone: ZoneInfo) -> datetime:
    if clock == "24:00":
        return datetime.combine(day + timedelta(days=1), time(0), zone)
    hour, minute = (int(part) for part in clock.split(":"))
    return datetime.combine(day, time(hour, minute), zone)


def _spans(schedule: Schedule, day: date, zone: ZoneInfo) -> list[tuple[datetime, datetime]]:
    """The day's opening spans; one that closes at or before it opens runs past midnight
    (22:00–02:00), and one that closes when it opens lasts 24 hours."""
    spans = []
    for opens, closes in schedule.intervals(day):
        start, end = _at(day, opens, zone), _at(day, closes, zone)
        if end <= start:
            end = _at(day + timedelta(days=1), closes, zone)
        spans.append((start, end))
    return spans


def is_open(schedule: Schedule, now: datetime, zone: ZoneInfo) -> bool:
    if schedule.empty:
        return True
    today = now.astimezone(zone).date()
    return any(start <= now < end for day in (today - timedelta(days=1), today)
               for start, end in _spans(schedule, day, zone))


def next_change(schedule: Schedule, now: datetime, zone: ZoneInfo) -> datetime | None:
    """The next opening or closing after `now`, or None (no schedule, or none within a year)."""
    if schedule.empty:
        return None
    today = now.astimezone(zone).date()
    for offset in range(-1, LOOKAHEAD_DAYS):
        moments = sorted(m for span in _spans(schedule, today + timedelta(days=offset), zone)
                         for m in span if m > now)
        if moments:
            return moments[0]
    return None


def next_opening(schedule: Schedule, now: datetime, zone: ZoneInfo) -> datetime | None:
    today = now.astimezone(zone).date()
    for offset in range(LOOKAHEAD_DAYS):
        starts = [start for start, _end in _spans(schedule, today + timedelta(days=offset), zone)
                  if start > now]
        if starts:
            return min(starts)
    return None


def zone_of(ctx: Context) -> ZoneInfo:
    return ZoneInfo(ctx.settings.time_zone)


def current(ctx: Context) -> Schedule:
    """This node's copy of the schedule (empty until loaded: always open)."""
    return ctx.hours if isinstance(ctx.hours, Schedule) else Schedule()


def open_now(ctx: Context) -> bool:
    return is_open(current(ctx), ctx.clock(), zone_of(ctx))


def back_at(ctx: Context, language: str) -> str | None:
    """"We are back on Monday at 9.00" in `language` while closed by the schedule, else None."""
    schedule, now, zone = current(ctx), ctx.clock(), zone_of(ctx)
    if is_open(schedule, now, zone):
        return None
    opening = next_opening(schedule, now, zone)
    if opening is None:
        return None
    local, today = opening.astimezone(zone), now.astimezone(zone).date()
    clock = format_time(local, "short", locale=language)
    days = (local.date() - today).days
    gettext = ctx.translator.gettext
    if days == 0:
        return gettext(language, _("We are back today at {time}.")).format(time=clock)
    if days == 1:
        return gettext(language, _("We are back tomorrow at {time}.")).format(time=clock)
    if days < 7:
        return gettext(language, _("We are back on {day} at {time}.")).format(
            day=format_date(local, "EEEE", locale=language), time=clock)
    return gettext(language, _("We are back on {date} at {time}.")).format(
        date=format_skeleton("MMMMd", local, locale=language), time=clock)


def back_at_all(ctx: Context) -> dict[str, str] | None:
    texts = {language: back_at(ctx, language) for language in LANGUAGES}
    return {k: v for k, v in texts.items() if v} or None


# Storing and validating.

def _clock(value: Any, name: str) -> str:
    if not isinstance(value, str) or CLOCK.fullmatch(value) is None:
        raise ServiceError(Code.INVALID_INPUT, _("“{field}” must be a time such as 09:00."),
                           field=name)
    return value


def _interval(opens: Any, closes: Any) -> Interval:
    return _clock(opens, "opens"), _clock(closes, "closes")


def parse(weekly: Sequence[dict[str, Any]], exceptions: Sequence[dict[str, Any]]) -> Schedule:
    rows = []
    for item in weekly:
        weekday = item.get("weekday")
        if not isinstance(weekday, int) or isinstance(weekday, bool) or not 0 <= weekday <= 6:
            raise ServiceError(Code.INVALID_INPUT, _("“{field}” must be a whole number from "
                                                     "{low} to {high}."),
                               field="weekday", low=0, high=6)
        rows.append((weekday, *_interval(item.get("opens"), item.get("closes"))))
    closed: dict[str, tuple[Interval, ...]] = {}
    for item in exceptions:
        raw = item.get("date")
        try:
            day = date.fromisoformat(raw) if isinstance(raw, str) and len(raw) == 10 else None
        except ValueError:
            day = None
        if day is None:
            raise ServiceError(Code.INVALID_INPUT,
                               _("“{field}” must be a date such as 2026-11-22."), field="date")
        if item.get("opens") is None or item.get("closes") is None:
            closed[day.isoformat()] = ()  # closed all day
        else:
            closed[day.isoformat()] = (_interval(item.get("opens"), item.get("closes")),)
    return Schedule(tuple(sorted(rows)), closed)


async def load(ctx: Context) -> Schedule:
    async with ctx.read() as session:
        row = await session.get(BusinessHours, 1)
    schedule = Schedule() if row is None else parse(json.loads(row.weekly),
                                                    json.loads(row.exceptions))
    ctx.hours = schedule
    return schedule


async def save(ctx: Context, actor_id: int | None, schedule: Schedule) -> None:
    view = schedule.view()
    weekly = json.dumps(view["weekly"])
    async with ctx.db.begin() as session:
        row = await session.get(BusinessHours, 1) or BusinessHours(id=1)
        row.weekly, row.exceptions = weekly, json.dumps(view["exceptions"])
        row.updated_at = ctx.clock()
        session.add(row)
        audit.record(ctx, session, "business_hours.update", actor_kind="agent",
                     actor_id=actor_id, weekly=len(schedule.weekly),
                     exceptions=len(schedule.exceptions))
    ctx.hours = schedule
    if (wake := ctx.wakeups.get("hours")) is not None:
        wake.set()


@contextlib.asynccontextmanager
async def running(ctx: Context, on_change: Callable[[Context], Awaitable[None]]
                  ) -> AsyncIterator[None]:
    """The timer: wakes at the next opening or closing (or after RELOAD_SECONDS, or when this
    node saved a new schedule), reloads the schedule and lets `on_change` announce any
    change."""
    wake = ctx.wakeups.setdefault("hours", asyncio.Event())

    async def loop() -> None:
        first = True  # loaded at start-up already, and nothing to announce yet
        while True:
            try:
                schedule = await load(ctx)
                if not first:
                    await on_change(ctx)
                first = False
                now = ctx.clock()
                change = next_change(schedule, now, zone_of(ctx))
                delay = RELOAD_SECONDS if change is None else min(
                    RELOAD_SECONDS, max(0.0, (change - now).total_seconds()) + 0.05)
            except Exception:
                log.exception("business hours: reading the schedule failed")
                delay = RELOAD_SECONDS
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a
            # cancellation that lands as the event fires, and the loop would run on at shutdown.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await wake.wait()
            wake.clear()

    async with background(loop(), "business-hours"):
        yield
