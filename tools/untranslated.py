"""Lists the messages of locales/messages.pot that a catalog does not translate yet (`make
i18n` runs it after updating the catalogs). The .po files are the translations' only home:
translators edit them directly, and `make i18n` keeps every translation it finds there."""

import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    missing = 0
    for language in ("fi", "sv"):
        path = ROOT / "chatserver" / "locales" / language / "LC_MESSAGES" / "messages.po"
        with path.open("rb") as fh:
            catalog = read_po(fh, locale=language)
        untranslated = [m.id for m in catalog if m.id and not m.string]
        print(f"{language}: {len(catalog)} messages, {len(untranslated)} untranslated")
        for msgid in untranslated:
            print(f"  untranslated ({language}, {path.relative_to(ROOT)}): {msgid!r}")
        missing += len(untranslated)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
