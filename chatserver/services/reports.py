"""Reports (issue 22): anonymous counters that outlive the conversations they count.

`report_hour` (db/models.py) holds, per local day and hour (`time_zone`), language and agent
(0 when no agent is involved), counters and fixed-bucket histograms: no text, no address, no
conversation id (docs/privacy.md, "Reports"). They are filled three ways, each exactly once:

- a closed conversation is counted by this module's worker (`fold`), in the transaction that
  sets its `reported_at`; so a crash before the commit leaves it to the next run, and one after
  leaves nothing to do. The chat's hot paths (messages, opening, claiming, closing) gain no
  statement at all (tests/test_query_counts.py);
- a conversation erased or purged before the worker saw it is counted in the transaction that
  deletes it (`fold_before_delete`), so erasing never changes a report;
- a rating and an offline-form message are counted in the transaction that stores them.

Each event lands in the hour it happened: a start at `created_at`, a hand-off at `queued_at`,
a claim and its wait at `claimed_at`, a first agent answer at that message, the close, the
assistant-solved count and the duration at `closed_at`. Percentiles are read from the
histograms as Prometheus' `histogram_quantile` does (linear within a bucket).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from chatserver.db.models import (
    DURATION_BOUNDS,
    REPORT_KEYS,
    REPORT_VALUES,
    WAIT_BOUNDS,
    Conversation,
    ConversationRating,
    Message,
    OfflineMessage,
    report_day,
    report_hour,
    report_month,
)
from chatserver.errors import Code, ServiceError
from chatserver.i18n import gettext_noop as _
from chatserver.services.background import background
from chatserver.services.context import Context

log = logging.getLogger(__name__)
Key = tuple[str, int, str, int]  # (day, hour, language, agent_id)
BOUNDS = {"wait": WAIT_BOUNDS, "first_response": WAIT_BOUNDS, "duration": DURATION_BOUNDS}
MAX_DAYS = 3700
ALL_AGENTS = -1  # report_day's row of all agents together (agent 0 included)
DAY_KEYS = ("day", "language", "agent_id")
MONTH_KEYS = ("month", "language", "agent_id")


class Tally:
    """Counts to add, by key; `add` names a counter or a histogram with its observation."""

    def __init__(self, ctx: Context) -> None:
        self.zone = ZoneInfo(ctx.settings.time_zone)
        self.rows: dict[Key, dict[str, int]] = defaultdict(lambda: dict.fromkeys(REPORT_VALUES, 0))

    def key(self, moment: datetime, language: str, agent_id: int | None) -> Key:
        local = moment.astimezone(self.zone)
        return local.date().isoformat(), local.hour, language, agent_id or 0

    def add(self, moment: datetime, language: str, agent_id: int | None, counter: str,
            n: int = 1) -> None:
        self.rows[self.key(moment, language, agent_id)][counter] += n

    def observe(self, moment: datetime, language: str, agent_id: int | None, histogram: str,
                seconds: float) -> None:
        bounds = BOUNDS[histogram]
        column = next((f"{histogram}_{b}" for b in bounds if seconds <= b), f"{histogram}_inf")
        self.add(moment, language, agent_id, column)

    def conversation(self, c: Conversation, messages: Sequence[Message]) -> None:
        """Everything a conversation contributes, but its rating (counted when given)."""
        lang = c.language
        self.add(c.created_at, lang, None, "started")
        if c.queued_at is not None:
            self.add(c.queued_at, lang, None, "handed_off")
        if c.claimed_at is not None:
            self.add(c.claimed_at, lang, c.agent_id, "claimed")
            if c.queued_at is not None:
                self.observe(c.claimed_at, lang, c.agent_id, "wait",
                             (c.claimed_at - c.queued_at).total_seconds())
        asked = c.queued_at or c.claimed_at
        first = next((m for m in messages if m.author_kind == "agent"), None)
        if first is not None and asked is not None:
            self.observe(first.created_at, lang, first.author_agent_id, "first_response",
                         max(0.0, (first.created_at - asked).total_seconds()))
        for m in messages:
            self.add(m.created_at, lang, m.author_agent_id if m.author_kind == "agent" else None,
                     f"messages_{m.author_kind}")
        if c.closed_at is not None:
            self.add(c.closed_at, lang, c.agent_id, "closed")
            self.observe(c.closed_at, lang, c.agent_id, "duration",
                         (c.closed_at - c.created_at).total_seconds())
            if (c.queued_at is None and c.claimed_at is None and first is None
                    and any(m.author_kind == "bot" for m in messages)):
                self.add(c.closed_at, lang, None, "assistant_solved")

    def rating(self, rating: ConversationRating, language: str, agent_id: int | None) -> None:
        if rating.score is not None:
            self.add(rating.rated_at, language, agent_id, f"rating_{rating.score}")


def _upsert(session: AsyncSession, table: Any, keys: Sequence[str]) -> Any:
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table)
    return statement.on_conflict_do_update(
        index_elements=list(keys),
        set_={name: table.c[name] + statement.excluded[name] for name in REPORT_VALUES})


def _summed(rows: dict[Key, dict[str, int]], key: Any) -> dict[tuple[Any, ...], dict[str, int]]:
    out: dict[tuple[Any, ...], dict[str, int]] = defaultdict(
        lambda: dict.fromkeys(REPORT_VALUES, 0))
    for old, values in rows.items():
        for new in key(old):
            target = out[new]
            for name, n in values.items():
                target[name] += n
    return out


async def save(session: AsyncSession, tally: Tally) -> None:
    """Add the tally to report_hour and its day and month sums: three upserts (several rows
    each) in the caller's transaction, so the counts commit or roll back with what they
    count."""
    if not tally.rows:
        return
    days = _summed(tally.rows, lambda k: [(k[0], k[2], k[3]), (k[0], k[2], ALL_AGENTS)])
    months = _summed(tally.rows, lambda k: [(k[0][:7], k[2], k[3])] if k[3] else [])
    tables: list[tuple[Any, Sequence[str], dict[Any, dict[str, int]]]] = [
        (report_hour, REPORT_KEYS, dict(tally.rows)), (report_day, DAY_KEYS, days),
        (report_month, MONTH_KEYS, months)]
    for table, keys, rows in tables:
        if rows:
            await session.exec(_upsert(session, table, keys),
                               params=[{**dict(zip(keys, key, strict=True)), **values}
                                       for key, values in sorted(rows.items())])


async def _messages_of(session: AsyncSession, ids: Sequence[str]) -> dict[str, list[Message]]:
    found: dict[str, list[Message]] = defaultdict(list)
    if ids:
        for m in (await session.exec(
                select(Message).where(col(Message.conversation_id).in_(ids))  # type: ignore
                .order_by(col(Message.conversation_id), col(Message.seq)))).scalars():
            found[m.conversation_id].append(m)
    return found


async def _fold(ctx: Context, session: AsyncSession, conversations: Sequence[Conversation]
                ) -> int:
    if not conversations:
        return 0
    ids = [c.id for c in conversations]
    messages = await _messages_of(session, ids)
    tally = Tally(ctx)
    for c in conversations:
        tally.conversation(c, messages.get(c.id, []))
    await save(session, tally)
    await session.exec(update(Conversation).where(col(Conversation.id).in_(ids))
                       .values(reported_at=ctx.clock()))
    return len(ids)


async def fold(ctx: Context) -> int:
    """Count the closed conversations not counted yet, a batch per transaction; how many."""
    counted = 0
    while True:
        async with ctx.db.begin() as session:
            batch = list((await session.exec(
                select(Conversation)  # type: ignore[call-overload]
                .where(col(Conversation.reported_at).is_(None))
                .where(col(Conversation.closed_at).is_not(None))
                .order_by(col(Conversation.closed_at))
                .limit(ctx.settings.reports.batch_size).with_for_update(skip_locked=True)
            )).scalars())
            done = await _fold(ctx, session, batch)
        counted += done
        if done < ctx.settings.reports.batch_size:
            return counted
        await asyncio.sleep(0)


async def fold_before_delete(ctx: Context, session: AsyncSession, ids: Sequence[str]) -> None:
    """Count the conversations about to be deleted (erased or purged) that the worker has not
    counted yet, in the deleting transaction: erasing or purging leaves the reports as they
    would have been."""
    if not ids:
        return
    pending = list((await session.exec(
        select(Conversation).where(col(Conversation.id).in_(ids))  # type: ignore
        .where(col(Conversation.reported_at).is_(None)))).scalars())
    await _fold(ctx, session, pending)


async def count_offline(ctx: Context, session: AsyncSession, row: OfflineMessage) -> None:
    tally = Tally(ctx)
    tally.add(row.created_at, row.language, None, "offline_messages")
    await save(session, tally)


async def rate(ctx: Context, conversation_id: str, score: int | None, comment: str | None
               ) -> None:
    """Store the visitor's rating of their ended chat, once, and count its score in the same
    transaction."""
    if not ctx.settings.rating.enabled:
        raise ServiceError(Code.FORBIDDEN, _("Ratings are not in use."))
    async with ctx.db.begin() as session:
        conversation = await session.get(Conversation, conversation_id)
        if conversation is None:
            raise ServiceError(Code.NOT_FOUND, _("The conversation was not found."))
        if conversation.state != "closed":
            raise ServiceError(Code.CONFLICT, _("A chat can be rated once it has ended."))
        if await session.get(ConversationRating, conversation_id) is not None:
            raise ServiceError(Code.CONFLICT, _("You have already rated this chat."))
        rating = ConversationRating(conversation_id=conversation_id, score=score,
                                    comment=comment or None, rated_at=ctx.clock())
        session.add(rating)
        await session.flush()
        tally = Tally(ctx)
        tally.rating(rating, conversation.language, conversation.agent_id)
        await save(session, tally)
        view = rating_view(rating)
    # The agent who had the chat sees it in the console's details (the `rating` event).
    if conversation.agent_id is not None:
        await ctx.bus.to_agent(conversation.agent_id, "rating",
                               {"conversation_id": conversation_id, **view})


async def rating_of(session: AsyncSession, conversation_id: str) -> dict[str, Any] | None:
    rating = await session.get(ConversationRating, conversation_id)
    return None if rating is None else rating_view(rating)


def rating_view(rating: ConversationRating) -> dict[str, Any]:
    return {"score": rating.score, "comment": rating.comment,
            "rated_at": rating.rated_at.isoformat()}


async def purge(ctx: Context, now: datetime) -> int:
    """Delete counters older than `privacy.retention.reports` days (a month's sums once the
    whole month is older)."""
    cutoff = (now.astimezone(ZoneInfo(ctx.settings.time_zone)).date()
              - timedelta(days=ctx.settings.privacy.retention.reports)).isoformat()
    deleted = 0
    async with ctx.db.begin() as session:
        for table, condition in ((report_hour, report_hour.c.day < cutoff),
                                 (report_day, report_day.c.day < cutoff),
                                 (report_month, report_month.c.month < cutoff[:7])):
            result = await session.exec(delete(table).where(condition))
            deleted += int(result.rowcount)
    return deleted


async def resum(session: AsyncSession, since: str) -> None:
    """Recompute the day and month sums from report_hour, from the month of `since` on."""
    first = since[:7] + "-01"
    await session.exec(delete(report_day).where(report_day.c.day >= first))
    await session.exec(delete(report_month).where(report_month.c.month >= since[:7]))
    sums = [func.sum(report_hour.c[name]) for name in REPORT_VALUES]
    recent = report_hour.c.day >= first
    by_agent = select(report_hour.c.day, report_hour.c.language, report_hour.c.agent_id, *sums
                      ).where(recent).group_by(report_hour.c.day, report_hour.c.language,
                                               report_hour.c.agent_id)
    together = select(report_hour.c.day, report_hour.c.language, literal(ALL_AGENTS), *sums
                      ).where(recent).group_by(report_hour.c.day, report_hour.c.language)
    for query in (by_agent, together):
        await session.exec(report_day.insert().from_select([*DAY_KEYS, *REPORT_VALUES], query))
    period = func.substr(report_day.c.day, 1, 7)
    await session.exec(report_month.insert().from_select(
        [*MONTH_KEYS, *REPORT_VALUES],
        select(period, report_day.c.language, report_day.c.agent_id,
               *[func.sum(report_day.c[name]) for name in REPORT_VALUES])
        .where(report_day.c.day >= first).where(report_day.c.agent_id > 0)
        .group_by(period, report_day.c.language, report_day.c.agent_id)))


async def rebuild(ctx: Context) -> dict[str, Any]:
    """Recompute the counters from the conversations, ratings and offline messages still
    stored: the rows from the oldest stored one's day on are replaced (older rows, whose
    conversations are purged, are kept). One transaction."""
    tally = Tally(ctx)
    async with ctx.db.begin() as session:
        oldest = [moment for moment in (
            (await session.exec(select(func.min(Conversation.created_at)))).scalar(),  # type: ignore[call-overload]
            (await session.exec(select(func.min(OfflineMessage.created_at)))).scalar(),  # type: ignore[call-overload]
        ) if moment is not None]
        if not oldest:
            return {"since": None, "conversations": 0}
        since = tally.key(min(oldest), "", 0)[0]
        await session.exec(delete(report_hour)
                           .where(report_hour.c.day >= since))
        await session.exec(update(Conversation).values(reported_at=None))
        closed = list((await session.exec(
            select(Conversation).where(col(Conversation.closed_at).is_not(None))  # type: ignore
        )).scalars())
        counted = 0
        for start in range(0, len(closed), 500):
            counted += await _fold(ctx, session, closed[start:start + 500])
        conversations = {c.id: c for c in closed}
        for rating in (await session.exec(select(ConversationRating))).scalars():  # type: ignore
            c = conversations.get(rating.conversation_id) or await session.get(
                Conversation, rating.conversation_id)
            if c is not None:
                tally.rating(rating, c.language, c.agent_id)
        for row in (await session.exec(select(OfflineMessage))).scalars():  # type: ignore
            tally.add(row.created_at, row.language, None, "offline_messages")
        await save(session, tally)
        await resum(session, since)
    return {"since": since, "conversations": counted}


@contextlib.asynccontextmanager
async def running(ctx: Context) -> AsyncIterator[None]:
    """The counting worker: every `reports.interval_seconds`, on every node (each batch is
    taken with SKIP LOCKED on PostgreSQL, and SQLite has one writer)."""

    async def loop() -> None:
        while True:
            try:
                await fold(ctx)
            except Exception:
                log.exception("counting conversations into the reports failed")
            await asyncio.sleep(ctx.settings.reports.interval_seconds)

    async with background(loop(), "reports"):
        yield
