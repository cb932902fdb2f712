"""Translations from the Babel catalogs in chatserver/locales/, compiled in memory at start-up.

The .po files are the one source of truth for every visible string: server errors, the
privacy notice, emails, and the widget's and console's UI strings.
"""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from chatserver.package_data import data_path
from chatserver.settings import LANGUAGES

LOCALES_DIR = data_path("locales")


def gettext_noop(message: str) -> str:
    """Marks a string for extraction; it is translated later, when the language is known."""
    return message


class Translator:
    """Holds one compiled catalog per language."""

    def __init__(self, locales_dir: Path | None = None, default_language: str = "en") -> None:
        directory = locales_dir or LOCALES_DIR
        self.default_language = default_language
        self._catalogs: dict[str, Translations] = {}
        for language in LANGUAGES:
            po_path = directory / language / "LC_MESSAGES" / "messages.po"
            if not po_path.exists():
                raise FileNotFoundError(f"missing translation catalog {po_path}")
            with po_path.open("rb") as fh:
                catalog = read_po(fh, locale=language)
            buffer = io.BytesIO()
            write_mo(buffer, catalog)
            buffer.seek(0)
            self._catalogs[language] = Translations(fp=buffer)

    def language(self, requested: str | None) -> str:
        """The supported language closest to `requested` (such as "sv-FI"), else the default."""
        if requested:
            primary = requested.split(",")[0].split(";")[0].strip().lower()[:2]
            if primary in self._catalogs:
                return primary
        return self.default_language

    def gettext(self, language: str, message: str) -> str:
        catalog = self._catalogs.get(language) or self._catalogs[self.default_language]
        return catalog.gettext(message)

    def table(self, language: str, messages: dict[str, str]) -> dict[str, str]:
        """A table of UI strings (key -> msgid) in `language`; English where untranslated."""
        return {key: self.gettext(language, text) for key, text in messages.items()}

    def format_time(self, moment: datetime, language: str, zone: str) -> str:
        return format_datetime(moment, "short", tzinfo=ZoneInfo(zone), locale=language)
