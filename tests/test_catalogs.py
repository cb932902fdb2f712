"""The .po catalogs are the translations' source of truth (issue 16): the template holds every
marked string of the code as it is now, and `make i18n` keeps what translators wrote. Each
catalog translating every message is checked in tests/test_privacy.py."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
PYBABEL = Path(sys.executable).parent / "pybabel"


def test_the_template_holds_every_marked_string_of_the_code() -> None:
    extracted = {message for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT / "chatserver"), method_map=[("**.py", "python")], keywords={"_": None})}
    with (ROOT / "chatserver" / "locales" / "messages.pot").open("rb") as fh:
        template = {m.id for m in read_po(fh) if m.id}
    assert extracted - template == set(), "strings missing from the template: make i18n"
    assert template - extracted == set(), "strings no longer in the code: make i18n"


def test_updating_the_catalogs_keeps_a_translators_correction(tmp_path: Path) -> None:
    locales = tmp_path / "locales"
    shutil.copytree(ROOT / "chatserver" / "locales", locales)
    finnish = locales / "fi" / "LC_MESSAGES" / "messages.po"
    text = finnish.read_text(encoding="utf-8")
    original = 'msgstr "Haluan puhua ihmisen kanssa"'
    assert original in text
    finnish.write_text(text.replace(original, 'msgstr "Puhu ihmisen kanssa"'), encoding="utf-8")
    subprocess.run([str(PYBABEL), "update", "-i", str(locales / "messages.pot"), "-d",
                    str(locales), "-D", "messages", "--no-fuzzy-matching", "--ignore-obsolete",
                    "-w", "100"], check=True, capture_output=True)
    with finnish.open("rb") as fh:
        catalog = read_po(fh, locale="fi")
    assert catalog["Talk to a person"].string == "Puhu ihmisen kanssa"
