"""Reading the operator's FAQ file (TOML) for the assistant; the format is in docs/bot.md.

    [[entry]]
    id = "delivery_time"

    [entry.fi]
    questions = ["Kuinka kauan toimitus kestää?", "Milloin paketti tulee?"]
    keywords = ["toimitusaika"]
    answer = "Toimitamme 1–3 arkipäivässä. Lue lisää: https://shop.example.fi/toimitus"

Every problem is reported as a `FaqError` (a ConfigError, so start-up stops) that names the
file, the line and the entry.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chatserver.errors import Localised as L
from chatserver.i18n import gettext_noop as _
from chatserver.settings import LANGUAGES, ConfigError

MAX_ANSWER_CHARS = 2000
MAX_TITLE_CHARS = 80
MAX_TEXTS = 200
RESERVED_PREFIX = "privacy."
_ID = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
_ENTRY_HEADER = re.compile(r"^\s*\[\[\s*entry\s*\]\]")
_TAG = re.compile(r"<\s*/?\s*[a-zA-Z!]")
_SCHEME = re.compile(r"(?i)(?<![a-z0-9+.-])([a-z][a-z0-9+.-]*):")
SAFE_SCHEMES = frozenset({"http", "https", "mailto"})


class FaqError(ConfigError):
    """A malformed FAQ file; the message names the file, the line and the entry."""


@dataclass(frozen=True)
class Answerable:
    questions: tuple[str, ...]
    keywords: tuple[str, ...]
    answer: str  # empty for the built-in privacy entries, whose answers are generated
    title: str = ""  # the short label of a choice ("Did you mean…?"); see `label`

    @property
    def label(self) -> str:
        """The entry's title, or its first example question when it has none."""
        return self.title or (self.questions[0] if self.questions else self.keywords[0])


@dataclass(frozen=True)
class Entry:
    id: str
    line: int
    languages: dict[str, Answerable] = field(default_factory=dict)
    disabled: bool = False  # kept in the FAQ but never matched (the console's "disable")


class FaqFieldError(FaqError):
    """A problem of an FAQ given as data (the console's editor): the entry's position (from
    0), the field (`id`, `disabled`, `fi`, `fi.answer`, ...) and the problem, in English."""

    def __init__(self, position: int, field_name: str, problem: L | str) -> None:
        super().__init__(f"entry {position + 1}: {field_name}: {problem}")
        self.position, self.field, self.problem = position, field_name, problem


def load(path: Path, *, answers: bool = True) -> list[Entry]:
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FaqError(f"bot.faq_file: {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FaqError(f"bot.faq_file: {path} cannot be read as UTF-8 text ({exc})") from None
    return parse(raw, str(path), answers=answers)


def parse(raw: str, name: str, *, answers: bool = True) -> list[Entry]:
    try:
        data = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        raise FaqError(f"FAQ {name}: not valid TOML{_around(raw, exc)}: {exc}") from None
    lines = raw.splitlines()
    for key in data:
        if key != "entry":
            raise FaqError(f"FAQ {name}: line {_find(lines, 0, len(lines), key)}: unknown key "
                           f"{key!r}; write each entry as an [[entry]] table")
    items = data.get("entry", [])
    if not isinstance(items, list) or not items:
        raise FaqError(f"FAQ {name}: no entries; write each entry as an [[entry]] table")
    starts = [n for n, text in enumerate(lines) if _ENTRY_HEADER.match(text)]
    entries: list[Entry] = []
    seen: dict[str, int] = {}
    for position, item in enumerate(items):
        start = starts[position] if position < len(starts) else 0
        end = starts[position + 1] if position + 1 < len(starts) else len(lines)
        entry = _entry(item, position, lines, start, end, name, answers)
        if entry.id in seen:
            raise FaqError(f"FAQ {name}: line {entry.line}: entry {entry.id!r}: the id is "
                           f"already used by the entry on line {seen[entry.id]}")
        seen[entry.id] = entry.line
        entries.append(entry)
    return entries


def _around(raw: str, exc: tomllib.TOMLDecodeError) -> str:
    """ " in entry 'x'" for a syntax error after that entry's [[entry]] header, else ""."""
    found = re.search(r"at line (\d+)", str(exc))
    if found is None:
        return ""
    entry_id = None
    for text in raw.splitlines()[:int(found.group(1))]:
        if _ENTRY_HEADER.match(text):
            entry_id = "?"
        elif entry_id == "?" and (named := re.match(r'^\s*id\s*=\s*"([^"]*)"', text)):
            entry_id = named.group(1)
    if entry_id is None:
        return ""
    return f" in entry {entry_id!r}" if entry_id != "?" else " in an entry without an id yet"


def _find(lines: list[str], start: int, end: int, key: str) -> int:
    """1-based line of `key = ...` (or of a [..key] header) within lines[start:end]."""
    pattern = re.compile(rf"^\s*(\[+[^\]]*\.)?\"?{re.escape(key)}\"?\s*(=|\])")
    for number in range(start, end):
        if pattern.match(lines[number]):
            return number + 1
    return start + 1


def _entry(item: Any, position: int, lines: list[str], start: int, end: int, name: str,
           answers: bool) -> Entry:
    line = start + 1
    if not isinstance(item, dict):
        raise FaqError(f"FAQ {name}: line {line}: entry number {position + 1} is not a table")
    entry_id = item.get("id")
    label = f"entry {entry_id!r}" if isinstance(entry_id, str) else f"entry number {position + 1}"

    def fail(key: str, problem: L, section: str | None = None) -> FaqError:
        begin = start
        if section is not None:  # look after the [entry.LANG] header (or `LANG =` line)
            begin = _find(lines, start, end, section) - 1
        return FaqError(f"FAQ {name}: line {_find(lines, begin, end, key)}: {label}: {problem}")

    return _checked(item, line, answers, fail)


Fail = Callable[..., FaqError]  # fail(key, problem, section=None): the error to raise


def _checked(item: dict[str, Any], line: int, answers: bool, fail: Fail) -> Entry:
    """The checks of one entry, the same for the file and the console's editor."""
    entry_id = item.get("id")
    if not isinstance(entry_id, str) or not _ID.fullmatch(entry_id):
        raise fail("id", L(_("`id` must be a short name of lower-case letters, digits and _ . - "
                             "(such as \"delivery_time\")")))
    if answers and entry_id.startswith(RESERVED_PREFIX):
        raise fail("id", L(_("ids starting with 'privacy.' are reserved for the built-in "
                             "privacy answers")))
    for key in item:
        if key not in ("id", "disabled") and key not in LANGUAGES:
            raise fail(key, L(_("unknown key '{key}'; expected id, disabled and the languages "
                                "{languages}"), key=key, languages=", ".join(LANGUAGES)))
    disabled = item.get("disabled", False)
    if not isinstance(disabled, bool):
        raise fail("disabled", L(_("`disabled` must be true or false")))
    languages: dict[str, Answerable] = {}
    for language in LANGUAGES:
        table = item.get(language)
        if table is None:
            continue
        if not isinstance(table, dict):
            raise fail(language, L(_("`{language}` must be a table with questions, keywords "
                                     "and answer"), language=language))
        languages[language] = _language(
            table, language, answers,
            lambda key, problem, lang=language: fail(key, problem, lang))
    if not languages:
        raise fail("id", L(_("no language: add an [entry.fi], [entry.sv] or [entry.en] table")))
    titled = [language for language, part in languages.items() if part.title]
    untitled = [language for language in languages if language not in titled]
    if titled and untitled:
        raise fail(untitled[0], L(_("{language}: title is missing; give every language of the "
                                    "entry a title (as {titled} has) or none"),
                                  language=untitled[0], titled=titled[0]), untitled[0])
    return Entry(entry_id, line, languages, disabled)


def _language(table: dict[str, Any], language: str, answers: bool, fail: Any) -> Answerable:
    allowed = ("title", "questions", "keywords", "answer") if answers else (
        "title", "questions", "keywords")
    for key in table:
        if key not in allowed:
            raise fail(key, L(_("{language}: unknown key '{key}'; expected {allowed}"),
                              language=language, key=key, allowed=", ".join(allowed)))
    texts: dict[str, tuple[str, ...]] = {}
    for key in ("questions", "keywords"):
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip()
                                                   for v in value):
            raise fail(key, L(_("{language}.{key} must be a list of non-empty strings"),
                              language=language, key=key))
        if len(value) > MAX_TEXTS:
            raise fail(key, L(_("{language}.{key} has more than {limit} items"),
                              language=language, key=key, limit=MAX_TEXTS))
        texts[key] = tuple(v.strip() for v in value)
    if not texts["questions"] and not texts["keywords"]:
        raise fail(language, L(_("{language}: give at least one of questions or keywords"),
                               language=language))
    title = table.get("title", "")
    if not isinstance(title, str) or ("title" in table and not title.strip()) \
            or len(title) > MAX_TITLE_CHARS or any(ord(ch) < 32 for ch in title):
        raise fail("title", L(_("{language}.title must be one line of text, at most {limit} "
                                "characters (or leave it out: the first question is shown)"),
                              language=language, limit=MAX_TITLE_CHARS))
    answer = ""
    if answers:
        value = table.get("answer")
        if not isinstance(value, str) or not value.strip():
            raise fail("answer" if "answer" in table else language,
                       L(_("{language}.answer is missing or empty"), language=language))
        answer = value.strip()
        problem = unsafe(answer)
        if problem:
            raise fail("answer", L(_("{language}.answer {problem}"), language=language,
                                   problem=problem))
    return Answerable(texts["questions"], texts["keywords"], answer, title.strip())


def unsafe(answer: str) -> L | None:
    """Why an answer is not plain text with safe links, or None when it is."""
    if len(answer) > MAX_ANSWER_CHARS:
        return L(_("is longer than {limit} characters"), limit=MAX_ANSWER_CHARS)
    if _TAG.search(answer):
        return L(_("contains HTML; answers are plain text (links are written as https://… "
                   "addresses)"))
    for match in _SCHEME.finditer(answer):
        scheme = match.group(1).lower()
        rest = answer[match.end():match.end() + 2]
        if scheme in ("javascript", "data", "vbscript", "file") or (
                rest == "//" and scheme not in SAFE_SCHEMES):
            return L(_("contains a {scheme}: link; only https://, http:// and mailto: links "
                       "are allowed"), scheme=scheme)
    if any(ord(ch) < 32 and ch not in "\n\t" for ch in answer):
        return L(_("contains control characters"))
    return None


# ------------------------------------------------------------ the FAQ as data (the console)

MAX_ENTRIES = 1000


def valid_id(text: str, *, reserved: bool = False) -> bool:
    """Whether `text` can be an entry's id (`reserved`: a built-in privacy entry's too)."""
    return bool(_ID.fullmatch(text)) and (reserved or not text.startswith(RESERVED_PREFIX))


def from_data(items: Any) -> list[Entry]:
    """Check an FAQ given as data, in the file's shape (`[{"id", "disabled"?, "fi": {"title"?,
    "questions", "keywords", "answer"}, ...}]`), with the file's checks; a problem raises
    FaqFieldError naming the entry's position and the field."""
    if not isinstance(items, list) or not items:
        raise FaqFieldError(0, "entries", L(_("must be a list of at least one entry")))
    if len(items) > MAX_ENTRIES:
        raise FaqFieldError(MAX_ENTRIES, "entries", L(_("at most {limit} entries"),
                                                      limit=MAX_ENTRIES))
    entries: list[Entry] = []
    seen: dict[str, int] = {}
    for position, item in enumerate(items):
        if not isinstance(item, dict):
            raise FaqFieldError(position, "entry", L(_("must be an object")))

        def fail(key: str, problem: L, section: str | None = None,
                 position: int = position) -> FaqError:
            where = key if section is None or key == section else f"{section}.{key}"
            return FaqFieldError(position, where, problem)

        entry = _checked(item, position + 1, True, fail)
        if entry.id in seen:
            raise FaqFieldError(position, "id", L(_("the id is already used by entry {number}"),
                                                  number=seen[entry.id] + 1))
        seen[entry.id] = position
        entries.append(entry)
    return entries


def to_data(entries: list[Entry]) -> list[dict[str, Any]]:
    """The entries in the data shape `from_data` reads (empty parts left out)."""
    items: list[dict[str, Any]] = []
    for entry in entries:
        item: dict[str, Any] = {"id": entry.id}
        if entry.disabled:
            item["disabled"] = True
        for language, part in entry.languages.items():
            table: dict[str, Any] = {}
            if part.title:
                table["title"] = part.title
            if part.questions:
                table["questions"] = list(part.questions)
            if part.keywords:
                table["keywords"] = list(part.keywords)
            table["answer"] = part.answer
            item[language] = table
        items.append(item)
    return items


def _toml_string(text: str) -> str:
    # JSON's escapes (\" \\ \n \t \uXXXX ...) are all valid in a TOML basic string.
    return json.dumps(text, ensure_ascii=False)


def to_toml(entries: list[Entry]) -> str:
    """The FAQ file of these entries (`chatserver bot export`); `parse` reads it back into
    the same entries, and writing those again gives the same text."""
    blocks: list[str] = []
    for item in to_data(entries):
        lines = ["[[entry]]", f"id = {_toml_string(item['id'])}"]
        if item.get("disabled"):
            lines.append("disabled = true")
        for language in LANGUAGES:
            table = item.get(language)
            if table is None:
                continue
            lines.append("")
            lines.append(f"[entry.{language}]")
            for key in ("title", "questions", "keywords", "answer"):
                if key not in table:
                    continue
                value = table[key]
                if isinstance(value, list):
                    rendered = "[" + ", ".join(_toml_string(v) for v in value) + "]"
                else:
                    rendered = _toml_string(value)
                lines.append(f"{key} = {rendered}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"
