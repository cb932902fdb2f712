"""Create or update locales/{fi,sv,en}/LC_MESSAGES/messages.po from the template, filling in the
translations from tools/translations_*.py. English msgstrs stay empty (msgid is the English)."""

import importlib
import pkgutil
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))


def tables() -> dict[str, dict[str, str]]:
    merged: dict[str, dict[str, str]] = {"fi": {}, "sv": {}}
    for module in sorted(m.name for m in pkgutil.iter_modules([str(ROOT / "tools")])):
        if module.startswith("translations_"):
            mod = importlib.import_module(module)
            merged["fi"].update(getattr(mod, "FI", {}))
            merged["sv"].update(getattr(mod, "SV", {}))
    return merged


def main() -> None:
    with open(ROOT / "locales" / "messages.pot", "rb") as fh:
        template = read_po(fh)
    known = tables()
    for language in ("fi", "sv", "en"):
        path = ROOT / "locales" / language / "LC_MESSAGES" / "messages.po"
        path.parent.mkdir(parents=True, exist_ok=True)
        existing: Catalog | None = None
        if path.exists():
            with path.open("rb") as fh:
                existing = read_po(fh, locale=language)
        catalog = Catalog(locale=language, project="chatserver", fuzzy=False)
        for message in template:
            if not message.id:
                continue
            text = ""
            if language != "en":
                text = known[language].get(message.id, "")
                if not text and existing is not None and message.id in existing:
                    text = existing[message.id].string or ""
            catalog.add(message.id, text, auto_comments=message.auto_comments)
        with path.open("wb") as fh:
            write_po(fh, catalog, width=100, omit_header=False, no_location=True)
        missing = [m.id for m in catalog if m.id and language != "en" and not m.string]
        print(f"{language}: {len(catalog)} messages, {len(missing)} untranslated")
        for msgid in missing:
            print(f"  untranslated ({language}): {msgid!r}")


if __name__ == "__main__":
    main()
