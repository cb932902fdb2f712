"""Reading the reports (issue 22, `GET /api/v1/reports`): the figures of a date range and
language from the anonymous counters that reports.py keeps (day and month sums where they
cover the range, hours for the heatmap), percentiles read from the histograms as Prometheus'
`histogram_quantile` does, and an agent's own figures."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from chatserver.db.models import (
    REPORT_COUNTERS,
    REPORT_HISTOGRAMS,
    REPORT_VALUES,
    Agent,
    report_day,
    report_hour,
    report_month,
)
from chatserver.errors import Code, ServiceError
from chatserver.i18n import gettext_noop as _
from chatserver.services.context import Context
from chatserver.services.reports import ALL_AGENTS, BOUNDS, MAX_DAYS


def quantile(q: float, counts: Sequence[int], bounds: Sequence[int]) -> float | None:
    """The q-quantile of a histogram (counts per bucket, the last one unbounded), interpolated
    linearly inside its bucket like Prometheus' histogram_quantile; None when empty."""
    total = sum(counts)
    if not total:
        return None
    rank = q * total
    seen = 0
    for index, count in enumerate(counts):
        if count and seen + count >= rank:
            if index == len(bounds):  # the unbounded bucket: its lower bound
                return float(bounds[-1])
            lower = bounds[index - 1] if index else 0
            return lower + (bounds[index] - lower) * (rank - seen) / count
        seen += count
    return float(bounds[-1])


@dataclass(frozen=True)
class Query:
    start: date
    end: date
    language: str | None = None
    agent_id: int | None = None  # an agent sees only their own figures


def _summary(values: dict[str, int]) -> dict[str, Any]:
    out: dict[str, Any] = {name: int(values.get(name, 0)) for name in REPORT_COUNTERS
                           if not name.startswith("rating_")}
    out["messages"] = {kind: out.pop(f"messages_{kind}")
                       for kind in ("visitor", "agent", "bot", "system")}
    for name, columns in REPORT_HISTOGRAMS.items():
        counts = [int(values.get(c, 0)) for c in columns]
        out[name] = {"count": sum(counts), "p50": quantile(0.5, counts, BOUNDS[name]),
                     "p90": quantile(0.9, counts, BOUNDS[name]), "buckets": counts}
    ratings = {str(score): int(values.get(f"rating_{score}", 0)) for score in range(1, 6)}
    rated = sum(ratings.values())
    out["ratings"] = ratings
    out["rating_average"] = (round(sum(int(s) * n for s, n in ratings.items()) / rated, 2)
                             if rated else None)
    return out


def _sums(table: Any) -> list[Any]:
    return [func.sum(table.c[name]).label(name) for name in REPORT_VALUES]


def _values(row: Any) -> dict[str, int]:
    return {name: int(getattr(row, name) or 0) for name in REPORT_VALUES}


def _whole_months(start: date, end: date) -> tuple[date, date] | None:
    """The first and last day of the whole months inside [start, end], or None."""
    first = start if start.day == 1 else (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    after = end + timedelta(days=1)
    last = end if after.day == 1 else end.replace(day=1) - timedelta(days=1)
    return (first, last) if first <= last else None


async def _per_agent(session: AsyncSession, query: Query) -> dict[int, dict[str, int]]:
    """Each agent's sums over the range: whole months from report_month, the days at either
    edge from report_day (a few thousand rows for two years of twenty agents)."""
    def who(table: Any) -> list[Any]:
        chosen = [table.c.agent_id > 0 if query.agent_id is None
                  else table.c.agent_id == query.agent_id]
        return chosen + ([table.c.language == query.language] if query.language else [])

    spans = [(query.start, query.end)]
    reads = []
    months = _whole_months(query.start, query.end)
    if months is not None:
        first, last = months
        reads.append(select(report_month.c.agent_id, *_sums(report_month))
                     .where(report_month.c.month >= first.isoformat()[:7])
                     .where(report_month.c.month <= last.isoformat()[:7]).where(*who(report_month))
                     .group_by(report_month.c.agent_id))
        spans = [(query.start, first - timedelta(days=1)), (last + timedelta(days=1), query.end)]
    for low, high in spans:
        if low <= high:
            reads.append(select(report_day.c.agent_id, *_sums(report_day))
                         .where(report_day.c.day >= low.isoformat())
                         .where(report_day.c.day <= high.isoformat()).where(*who(report_day))
                         .group_by(report_day.c.agent_id))
    out: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(REPORT_VALUES, 0))
    for read in reads:
        for row in (await session.exec(read)).all():  # type: ignore[call-overload]
            target = out[int(row.agent_id)]
            for name, n in _values(row).items():
                target[name] += n
    return out


async def report(ctx: Context, viewer: Agent, query: Query) -> dict[str, Any]:
    """The figures for the console's reports page: per day, a weekday × hour heatmap of new
    conversations, per agent and in total, read from the day and month sums (and the hourly
    rows' index for the heatmap)."""
    if query.end < query.start or (query.end - query.start).days > MAX_DAYS:
        raise ServiceError(Code.INVALID_INPUT, _("The range is too long."))
    if viewer.role != "admin":
        query = Query(query.start, query.end, query.language, viewer.id)
    language = [report_day.c.language == query.language] if query.language else []
    async with ctx.read() as session:
        by_day = (await session.exec(  # type: ignore[call-overload]
            select(report_day.c.day, *_sums(report_day))
            .where(report_day.c.day >= query.start.isoformat())
            .where(report_day.c.day <= query.end.isoformat())
            .where(report_day.c.agent_id == (ALL_AGENTS if query.agent_id is None
                                             else query.agent_id), *language)
            .group_by(report_day.c.day).order_by(report_day.c.day))).all()
        by_hour = [] if query.agent_id is not None else (await session.exec(  # type: ignore[call-overload]
            # Starts have no agent: only the site-wide rows, read from their index.
            select(report_hour.c.day, report_hour.c.hour,
                   func.sum(report_hour.c.started).label("started"))
            .where(report_hour.c.agent_id == 0)
            .where(report_hour.c.day >= query.start.isoformat())
            .where(report_hour.c.day <= query.end.isoformat())
            .where(*([report_hour.c.language == query.language] if query.language else []))
            .group_by(report_hour.c.day, report_hour.c.hour))).all()
        by_agent = await _per_agent(session, query)
        names = {a.id: a.display_name for a in (await session.exec(select(Agent))).scalars()}  # type: ignore
    heatmap = [[0] * 24 for _ in range(7)]
    for day, hour, started in by_hour:
        heatmap[date.fromisoformat(day).weekday()][hour] += int(started)
    total: dict[str, int] = dict.fromkeys(REPORT_VALUES, 0)
    days = []
    for row in by_day:
        values = _values(row)
        for name, n in values.items():
            total[name] += n
        days.append({"day": row.day, **_summary(values)})
    agents = sorted(({"agent_id": agent_id, "name": names.get(agent_id, f"#{agent_id}"),
                      **_summary(values)} for agent_id, values in by_agent.items()),
                    key=lambda a: a["name"])
    return {
        "from": query.start.isoformat(), "to": query.end.isoformat(),
        "language": query.language, "agent_id": query.agent_id,
        "time_zone": ctx.settings.time_zone,
        "bounds": {name: list(bounds) for name, bounds in BOUNDS.items()},
        "total": _summary(total), "days": days, "heatmap": heatmap, "agents": agents,
    }
