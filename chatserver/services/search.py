"""Full-text search of stored messages and notes (issue 21, `GET /api/v1/search`).

One service over two engines (the index itself is made by migration 0004):
- SQLite: FTS5 tables `message_search` and `note_search` (porter stemmer over unicode61), kept
  by triggers; after an erase or a purge `compact` merges the index so the deleted words leave
  its pages (secure_delete then zeroes them), which FTS5 of SQLite 3.40 does not do by itself.
- PostgreSQL: GIN indexes on `to_tsvector(config, text)` for finnish, swedish and english; a
  search asks the configuration of its language filter, or all three.

Admins search every stored conversation; an agent the conversations assigned to them. Each
search is audited with its filters and the number of results, without the words searched for:
those are often a name, an email address or an order number (docs/privacy.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Table,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal_column,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.dialects.postgresql import REGCONFIG
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import BindParameter, ColumnElement

from chatserver.db.models import Agent, Conversation, Message, Note
from chatserver.errors import Code, ServiceError
from chatserver.i18n import gettext_noop as _
from chatserver.services import audit
from chatserver.services.context import Context
from chatserver.services.views import iso

LANGUAGE_CONFIGS = {"fi": "finnish", "sv": "swedish", "en": "english"}
MAX_RESULTS = 50
# The highlight marks around a matching word; control characters, which stored text never
# holds (validation.CleanText refuses them).
START, STOP = "\x01", "\x02"
SNIPPET_CHARS = 240
# The letters and digits a search word is made of: the Latin letters of fi, sv and en (Latin-1
# and Latin Extended-A and -B, without × and ÷). The OpenAPI document's pattern for `q` says the
# same (WORD_CHARS).
WORD_CHARS = "0-9A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f"
WORD = re.compile(f"[{WORD_CHARS}]+")

message_table: Table = Message.__table__  # type: ignore[attr-defined]
note_table: Table = Note.__table__  # type: ignore[attr-defined]
conversation_table: Table = Conversation.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Filters:
    words: str
    since: datetime | None = None
    until: datetime | None = None
    language: str | None = None


def terms(query: str) -> list[str]:
    """The words searched for; punctuation and operators of the engines mean nothing here."""
    return WORD.findall(query)[:20]


async def search(ctx: Context, reader: Agent, filters: Filters) -> dict[str, Any]:
    words = terms(filters.words)
    if not words:
        raise ServiceError(Code.INVALID_INPUT, _("Type at least one word to search for."))
    if filters.language is not None and filters.language not in LANGUAGE_CONFIGS:
        raise ServiceError(Code.INVALID_INPUT, _("Unknown language “{language}”."),
                           language=filters.language[:10])
    own = None if reader.role == "admin" else reader.id
    async with ctx.db.begin() as session:
        connection = await session.connection()
        if ctx.engine.dialect.name == "sqlite":
            rows = (await connection.execute(_sqlite_query(words, filters, own))).all()
        else:
            rows = await _postgres_rows(connection, words, filters, own, ctx.clock())
        audit.record(ctx, session, "conversation.search", actor_kind="agent",
                     actor_id=reader.id, language=filters.language, since=iso(filters.since),
                     until=iso(filters.until), results=len(rows))
    return {"results": [_result(row) for row in rows], "limit": MAX_RESULTS}


# PostgreSQL: the newest 50 matches of a word in many messages would make it read every match
# to sort them by time, and an ordered scan by time is ruinous for a word in none (it reads
# every message). So the search reads the matches of the last day, then the last week, month,
# and all time, until it has 50: each step only bitmap scans (the word's GIN index ANDed with
# the time index; forced, as the planner's guess for an unknown word is not to be trusted),
# which read only the matches inside the step's window (docs/performance.md).
WINDOWS = (timedelta(days=1), timedelta(days=7), timedelta(days=31), None)


async def _postgres_rows(connection: AsyncConnection, words: list[str], filters: Filters,
                         own: int | None, now: datetime) -> list[Any]:
    await connection.execute(text("SET LOCAL enable_seqscan = off"))
    await connection.execute(text("SET LOCAL enable_indexscan = off"))
    rows: list[Any] = []
    for window in WINDOWS:
        since = filters.since
        if window is not None and (since is None or since < now - window):
            since = now - window
        rows = list((await connection.execute(_postgres_query(
            words, replace(filters, since=since), own))).all())
        if len(rows) >= MAX_RESULTS or since == filters.since:
            break
    return rows


def _conditions(source: Table, filters: Filters, own: int | None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.language:
        conditions.append(conversation_table.c.language == filters.language)
    if filters.since is not None:
        conditions.append(source.c.created_at >= filters.since)
    if filters.until is not None:
        conditions.append(source.c.created_at < filters.until)
    if own is not None:
        conditions.append(conversation_table.c.agent_id == own)
    return conditions


def _columns(source: Table, kind: str, marked: Any) -> list[Any]:
    seq = source.c.seq if kind == "message" else source.c.after_seq
    author = source.c.author_kind if kind == "message" else literal_column("'agent'")
    return [literal_column(f"'{kind}'").label("kind"), source.c.id, source.c.conversation_id,
            seq.label("seq"), author.label("author_kind"), source.c.author_name,
            source.c.created_at, conversation_table.c.language, marked.label("marked")]


def _sqlite_query(words: list[str], filters: Filters, own: int | None) -> Any:
    # Each word quoted: a plain AND of terms, whatever the engine's query syntax would say.
    match = " ".join('"' + word.replace('"', "") + '"' for word in words)
    parts = []
    for kind, source in (("message", message_table), ("note", note_table)):
        index = f"{kind}_search"
        marked = func.highlight(literal_column(index), 0, START, STOP)
        part = (
            select(*_columns(source, kind, marked), literal_column(f"{index}.rowid").label("at"))
            .select_from(text(index))
            .join(source, literal_column(f"{kind}.rowid") == literal_column(f"{index}.rowid"))
            .join(conversation_table, conversation_table.c.id == source.c.conversation_id)
            .where(text(f"{index} MATCH :match"), *_conditions(source, filters, own))
            .order_by(literal_column(f"{index}.rowid").desc()).limit(MAX_RESULTS)
        )
        parts.append(part.subquery().select())
    combined = union_all(*parts).subquery()
    return (select(combined).order_by(combined.c.created_at.desc()).limit(MAX_RESULTS)
            .params(match=match))


def _postgres_query(words: list[str], filters: Filters, own: int | None) -> Any:
    configs = ([LANGUAGE_CONFIGS[filters.language]] if filters.language
               else list(LANGUAGE_CONFIGS.values()))
    words_param: BindParameter[str] = bindparam("words", " ".join(words))
    parts = []
    for kind, source in (("message", message_table), ("note", note_table)):
        # Any configuration matching finds the row (the expressions use the GIN indexes).
        found = or_(*[
            func.to_tsvector(literal_column(f"'{config}'"), source.c.text).op("@@")(
                func.plainto_tsquery(literal_column(f"'{config}'"), words_param))
            for config in configs])
        # The highlight in the conversation's own language.
        config = cast(func.coalesce(_config_of(conversation_table.c.language), "simple"),
                      REGCONFIG)
        marked = func.ts_headline(config, source.c.text, func.plainto_tsquery(config, words_param),
                                  f"StartSel={START}, StopSel={STOP}, HighlightAll=true")
        parts.append(
            select(*_columns(source, kind, marked))
            .select_from(source.join(conversation_table,
                                     conversation_table.c.id == source.c.conversation_id))
            .where(and_(found, *_conditions(source, filters, own)))
            .order_by(source.c.created_at.desc()).limit(MAX_RESULTS)
            .subquery().select())
    combined = union_all(*parts).subquery()
    return select(combined).order_by(combined.c.created_at.desc()).limit(MAX_RESULTS)


def _config_of(language: Any) -> Any:
    return case(*[(language == code, config) for code, config in LANGUAGE_CONFIGS.items()])


def _result(row: Any) -> dict[str, Any]:
    author: dict[str, Any] = {"kind": row.author_kind}
    if row.author_name:
        author["name"] = row.author_name
    created = row.created_at
    if isinstance(created, str):  # the union's column loses SQLite's type on the way out
        created = datetime.fromisoformat(created)
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return {
        "kind": row.kind,
        "id": row.id,
        "conversation_id": row.conversation_id,
        "seq": row.seq,
        "author": author,
        "language": row.language,
        "created_at": iso(created),
        "snippet": snippet(row.marked or ""),
    }


def snippet(marked: str) -> list[dict[str, Any]]:
    """The matching line of a marked text, as pieces [{text, match}], at most SNIPPET_CHARS
    around the first match (the console marks the matches; no HTML crosses the wire)."""
    lines = marked.split("\n")
    line = next((one for one in lines if START in one), lines[0] if lines else "")
    first = line.find(START)
    if len(line) > SNIPPET_CHARS and first > SNIPPET_CHARS // 3:
        cut = first - SNIPPET_CHARS // 3
        line = "…" + line[cut:]
    if len(line) > SNIPPET_CHARS:
        line = line[:SNIPPET_CHARS] + "…"
        if line.count(START) > line.count(STOP):
            line += STOP
    pieces: list[dict[str, Any]] = []
    for index, part in enumerate(re.split(f"[{START}{STOP}]", line)):
        if part:
            pieces.append({"text": part, "match": index % 2 == 1})
    return pieces


async def compact(ctx: Context) -> None:
    """SQLite: merge the FTS5 index into one segment, so the words of deleted rows (kept in
    older segments behind delete markers) leave the database's pages; run after an erase or
    a purge, before the WAL checkpoint. PostgreSQL's GIN index drops them at VACUUM."""
    if ctx.engine.dialect.name != "sqlite":
        return
    async with ctx.engine.begin() as connection:
        await connection.execute(text(
            "INSERT INTO message_search(message_search) VALUES ('optimize')"))
        await connection.execute(text("INSERT INTO note_search(note_search) VALUES ('optimize')"))
