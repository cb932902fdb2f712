"""The FAQ as the console edits it (docs/bot.md, "The FAQ editor"): versions in the database,
the live one on every node, trying a question, the labelled questions, and the review list's
actions.

Where the assistant's FAQ comes from, in order: the file of `bot.faq_file` when it is set (the
editor is read-only then); else the newest `faq_version` row; else the shipped example FAQ.
Each save is a new row, audited without its texts; every node polls the newest id every
`bot.reload_seconds` (one indexed `max(id)`), and the saving node takes it at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func
from sqlmodel import col, select

from chatserver.db.models import Agent, FaqVersion
from chatserver.errors import Code, Localised, ServiceError
from chatserver.i18n import gettext_noop as _
from chatserver.package_data import data_path
from chatserver.services import audit
from chatserver.services.assistant import bot, faq
from chatserver.services.assistant.evaluation import read as read_labelled_file
from chatserver.services.background import background
from chatserver.services.context import Context
from chatserver.services.views import iso
from chatserver.settings import LANGUAGES, Settings

log = logging.getLogger(__name__)
KEEP_VERSIONS = 20
MAX_LABELLED = 5000
MAX_QUESTION = 500
EXAMPLE_LABELLED = data_path("faq", "example_shop_eval.tsv")

FROM_FILE = _("The FAQ comes from the file set in bot.faq_file on the server, so it is "
              "read-only here. Edit that file, or empty the setting to edit the FAQ here "
              "(chatserver bot import moves the file into the database).")
FILE_BROKEN = _("The FAQ file cannot be read ({problem}); the assistant keeps using the last "
                "version that could.")
INVALID_FIELD = _("Entry {number}, “{field}”: {problem}")
INVALID_LABELLED = _("Labelled question {number}, “{field}”: {problem}")
SAVED_MEANWHILE = _("Someone else saved the FAQ meanwhile (version {version}). Reload it "
                    "and make your change again.")
SCORE_LOWER = _("With this change {after} of the labelled questions get the right result, "
                "{before} before. Save again with confirmation to keep it anyway.")


@dataclass(frozen=True)
class Labelled:
    language: str
    question: str
    expected: str  # an entry id, or "none" (the assistant should hand off)

    def data(self) -> dict[str, str]:
        return {"language": self.language, "question": self.question,
                "expected": self.expected}


class LiveFaq:
    """This node's FAQ (`ctx.faq`): the knowledge the assistant matches against, kept up to
    date by `refresh`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.version: int | None = None
        self.entries: list[faq.Entry] | None = None
        self.labelled: list[Labelled] = []
        self._known: bot.Knowledge | None = None
        self._draft: tuple[str, bot.Knowledge] | None = None  # the last draft tried
        # The labelled questions' score on the live FAQ, by (knowledge, questions): an editing
        # session measures its drafts against the same live version again and again.
        self._live_score: tuple[tuple[int, str], dict[str, Any]] | None = None

    @property
    def from_file(self) -> bool:
        return bool(self.settings.bot.faq_file)

    def knowledge(self) -> bot.Knowledge:
        if self.from_file or self._known is None:
            return bot.knowledge(self.settings)
        return self._known

    def draft(self, entries: list[faq.Entry]) -> bot.Knowledge:
        """The knowledge of a draft; the last one is kept, as the try box asks again."""
        key = hashlib.sha256(json.dumps(faq.to_data(entries), sort_keys=True)
                             .encode()).hexdigest()
        if self._draft is None or self._draft[0] != key:
            self._draft = (key, bot.build(entries, self.settings.bot.privacy_answers))
        return self._draft[1]

    def live_score(self, labelled: list[Labelled]) -> dict[str, Any]:
        known = self.knowledge()
        key = (id(known), hashlib.sha256(json.dumps([q.data() for q in labelled])
                                         .encode()).hexdigest())
        if self._live_score is None or self._live_score[0] != key:
            self._live_score = (key, score(self.settings, known, labelled))
        return self._live_score[1]

    async def refresh(self, ctx: Context) -> bool:
        """Take the newest saved version if it is not the one in use; True when it changed."""
        if self.from_file:
            return False
        async with ctx.read() as session:
            newest = (await session.exec(select(func.max(FaqVersion.id)))).one()
            if newest is None or newest == self.version:
                return False
            row = await session.get(FaqVersion, newest)
        if row is None:
            return False
        try:
            entries = faq.from_data(json.loads(row.entries))
        except (faq.FaqError, ValueError):
            # Saved by a version of chatserver whose checks were looser: keep what is in use
            # (the editor shows the row's problem when it is saved again).
            log.exception("bot: FAQ version %s cannot be used; keeping the one in use", newest)
            self.version = newest
            return False
        self._known = bot.build(entries, self.settings.bot.privacy_answers)
        self.entries, self.version = entries, newest
        self.labelled = [Labelled(**item) for item in json.loads(row.labelled)]
        log.info("bot: FAQ version %s is live on this node", newest)
        return True


def store_of(ctx: Context) -> LiveFaq:
    store = ctx.faq
    if not isinstance(store, LiveFaq):  # the CLI: a store of its own for this command
        store = ctx.faq = LiveFaq(ctx.settings)
    return store


@contextlib.asynccontextmanager
async def running(ctx: Context) -> AsyncIterator[None]:
    """Load the newest version before serving, then poll for newer ones (app.cleanup_ctx)."""
    store = store_of(ctx)
    await store.refresh(ctx)

    async def poll() -> None:
        failing = False
        while True:
            await asyncio.sleep(ctx.settings.bot.reload_seconds)
            try:
                await store.refresh(ctx)
                failing = False
            except Exception:
                if not failing:  # once per outage, not every second of it
                    log.exception("bot: reading the newest FAQ version failed; the assistant "
                                  "keeps the version it has")
                failing = True

    async with background(poll(), "faq-reload"):
        yield


# ------------------------------------------------------------------ reading and checking


def refusal(code: Code, message: str, target: str, **params: Any) -> ServiceError:
    """A ServiceError that names the editor's field it is about (`error.field`)."""
    error = ServiceError(code, message, **params)
    error.target = target
    return error


def entries_of(data: Any) -> list[faq.Entry]:
    try:
        return faq.from_data(data)
    except faq.FaqFieldError as exc:
        raise refusal(Code.INVALID_INPUT, INVALID_FIELD, f"entries.{exc.position}.{exc.field}",
                      number=exc.position + 1, field=exc.field, problem=exc.problem) from None


def labelled_of(data: Any) -> list[Labelled]:
    if not isinstance(data, list) or len(data) > MAX_LABELLED:
        raise ServiceError(Code.INVALID_INPUT, INVALID_LABELLED, number=1, field="labelled",
                           problem=Localised(_("a list of at most {limit} questions"),
                                             limit=MAX_LABELLED))
    found: list[Labelled] = []
    for number, item in enumerate(data, start=1):
        def bad(field: str, problem: Localised, number: int = number) -> ServiceError:
            return refusal(Code.INVALID_INPUT, INVALID_LABELLED,
                           f"labelled.{number - 1}.{field}", number=number, field=field,
                           problem=problem)
        if not isinstance(item, dict) or set(item) != {"language", "question", "expected"}:
            raise bad("labelled", Localised(_("an object with language, question and expected")))
        if item["language"] not in LANGUAGES:
            raise bad("language", Localised(_("one of {languages}"),
                                            languages=", ".join(LANGUAGES)))
        question = item["question"]
        if not isinstance(question, str) or not question.strip() \
                or len(question) > MAX_QUESTION or any(ord(c) < 32 for c in question):
            raise bad("question", Localised(_("one line of 1 to {limit} characters"),
                                            limit=MAX_QUESTION))
        expected = item["expected"]
        if not isinstance(expected, str) or not (expected == "none"
                                                 or faq.valid_id(expected, reserved=True)):
            raise bad("expected", Localised(_("an entry id, or none")))
        found.append(Labelled(item["language"], question.strip(), expected))
    return found


def current_entries(ctx: Context) -> tuple[str, list[faq.Entry], list[Labelled]]:
    """(source, entries, labelled questions) of the FAQ in use: "file", "database" or
    "example" (nothing saved yet: the shipped example and its labelled questions)."""
    store = store_of(ctx)
    if store.from_file:
        try:
            return "file", faq.load(ctx.settings.bot.faq_path), []
        except faq.FaqError as exc:  # edited into a broken state while running
            raise ServiceError(Code.UNAVAILABLE, FILE_BROKEN, problem=str(exc)) from None
    if store.entries is not None:
        return "database", store.entries, store.labelled
    rows = read_labelled_file(EXAMPLE_LABELLED)
    return "example", faq.load(ctx.settings.bot.faq_path), [
        Labelled(language, question, expected) for _n, language, question, expected in rows]


async def state(ctx: Context) -> dict[str, Any]:
    """The editor's view: the FAQ in use, where it comes from, and its labelled questions."""
    store = store_of(ctx)
    await store.refresh(ctx)
    source, entries, labelled = current_entries(ctx)
    saved: dict[str, Any] = {"version": store.version if source == "database" else None,
                             "saved_at": None, "saved_by": None}
    if saved["version"] is not None:
        async with ctx.read() as session:
            row = (await session.exec(
                select(FaqVersion.saved_at, Agent.display_name)
                .outerjoin(Agent, col(Agent.id) == col(FaqVersion.saved_by))
                .where(col(FaqVersion.id) == saved["version"]))).first()
        if row is not None:
            saved["saved_at"], saved["saved_by"] = iso(row[0]), row[1]
    return {"source": source, "read_only": source == "file", **saved,
            "entries": faq.to_data(entries), "labelled": [item.data() for item in labelled]}


# ------------------------------------------------------------------ trying and measuring


def _outcome(known: bot.Knowledge, settings: Settings, language: str, question: str
             ) -> dict[str, Any]:
    decision = bot.decide(settings, language, question, known)
    index = known.indexes.get(language)
    candidates = index.match(question).candidates if index is not None else ()
    answer = None
    if decision.kind == "answer" and decision.entry_id is not None:
        answer = known.answers.get((decision.entry_id, language)) or None
    return {"kind": decision.kind, "entry_id": decision.entry_id,
            "title": known.titles.get((decision.entry_id or "", language)),
            "confidence": round(decision.confidence, 3), "answer": answer,
            "candidates": [{"id": c.id, "title": known.titles.get((c.id, language), c.id),
                            "coverage": round(c.coverage, 3)} for c in candidates[:5]]}


def try_question(ctx: Context, draft: Any, language: str, question: str) -> dict[str, Any]:
    """Which entry answers `question`, how sure, and the runners-up: in the draft and live."""
    store = store_of(ctx)
    known = store.draft(entries_of(draft))
    return {"draft": _outcome(known, ctx.settings, language, question),
            "live": _outcome(store.knowledge(), ctx.settings, language, question)}


def score(settings: Settings, known: bot.Knowledge, labelled: list[Labelled]
          ) -> dict[str, Any]:
    """Per language: right, wrong (answered with another entry, or answered when it should
    hand off) and handed off (no direct answer where one was expected); and the total right."""
    per: dict[str, dict[str, int]] = {}
    misses: list[dict[str, Any]] = []
    for number, item in enumerate(labelled):
        counts = per.setdefault(item.language, {"right": 0, "wrong": 0, "handed_off": 0})
        decision = bot.decide(settings, item.language, item.question, known)
        got = decision.entry_id if decision.kind == "answer" else "none"
        if got == item.expected:
            counts["right"] += 1
            continue
        counts["wrong" if got != "none" else "handed_off"] += 1
        misses.append({"index": number, "got": got})
    return {"languages": per, "right": sum(c["right"] for c in per.values()),
            "total": len(labelled), "misses": misses}


def compare(ctx: Context, draft: Any, labelled_data: Any) -> dict[str, Any]:
    """The labelled questions against the live FAQ (before) and the draft (after)."""
    store = store_of(ctx)
    entries, labelled = entries_of(draft), labelled_of(labelled_data)
    return {"before": store.live_score(labelled),
            "after": score(ctx.settings, store.draft(entries), labelled)}


# ------------------------------------------------------------------ saving


async def save(ctx: Context, actor: Agent | None, draft: Any, labelled_data: Any, *,
               confirm: bool = False, base_version: int | None = None,
               reason: str = "editor", into_database: bool = False) -> dict[str, Any]:
    """Store the draft as the new live version (audited without its texts). Refused when the
    FAQ comes from the file, when someone saved since `base_version`, and, without `confirm`,
    when the labelled questions score lower than with the live version. `into_database`
    (`chatserver bot import`) stores it even while the file is the source."""
    store = store_of(ctx)
    if store.from_file and not into_database:
        raise ServiceError(Code.CONFLICT, FROM_FILE)
    entries, labelled = entries_of(draft), labelled_of(labelled_data)
    await store.refresh(ctx)
    if base_version is not None and store.version is not None \
            and base_version != store.version:
        raise ServiceError(Code.CONFLICT, SAVED_MEANWHILE, version=store.version)
    before = store.live_score(labelled)
    after = score(ctx.settings, store.draft(entries), labelled)
    if after["right"] < before["right"] and not confirm:
        raise refusal(Code.CONFLICT, SCORE_LOWER, "confirm", before=before["right"],
                      after=after["right"])
    async with ctx.db.begin() as session:
        row = FaqVersion(saved_at=ctx.clock(), saved_by=actor.id if actor else None,
                         entries=json.dumps(faq.to_data(entries), ensure_ascii=False),
                         labelled=json.dumps([item.data() for item in labelled],
                                             ensure_ascii=False))
        session.add(row)
        await session.flush()
        audit.record(ctx, session, "faq.save", actor_kind="agent" if actor else "cli",
                     actor_id=actor.id if actor else None, target_kind="faq",
                     target_id=row.id, entries=len(entries), labelled=len(labelled),
                     right_before=before["right"], right_after=after["right"],
                     confirmed=bool(confirm), how=reason)
        keep = select(FaqVersion.id).order_by(col(FaqVersion.id).desc()).limit(KEEP_VERSIONS)
        await session.exec(delete(FaqVersion).where(col(FaqVersion.id).not_in(keep))
                           .execution_options(synchronize_session=False))
        version = row.id
    await store.refresh(ctx)
    return {"version": version, "before": before, "after": after}


# ------------------------------------------------------------------ the command line


def export_toml(ctx: Context) -> str:
    """The FAQ in use as a file (`chatserver bot export`)."""
    return faq.to_toml(current_entries(ctx)[1])


def export_labelled(ctx: Context) -> str:
    return "".join(f"{q.language}\t{q.question}\t{q.expected}\n"
                   for q in current_entries(ctx)[2])


async def import_toml(ctx: Context, raw: str, name: str, labelled_tsv: str | None = None
                      ) -> dict[str, Any]:
    """A file's FAQ (and labelled questions) as a new version (`chatserver bot import`)."""
    store = store_of(ctx)
    await store.refresh(ctx)
    entries = faq.parse(raw, name)
    if labelled_tsv is None:
        labelled = [item.data() for item in current_entries(ctx)[2]]
    else:
        labelled = []
        for number, line in enumerate(labelled_tsv.splitlines(), start=1):
            if not line.strip() or line.startswith("#"):
                continue
            parts = line.split("\t")
            if len(parts) != 3:
                raise faq.FaqError(f"{name}: labelled line {number}: expected "
                                   "LANGUAGE<TAB>QUESTION<TAB>ENTRY_ID or none")
            labelled.append({"language": parts[0], "question": parts[1],
                             "expected": parts[2].strip()})
    return await save(ctx, None, faq.to_data(entries), labelled, confirm=True, reason="import",
                      into_database=True)
