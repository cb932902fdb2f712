"""docs/privacy.md lists every stored column; a new column without an entry fails the build."""

from __future__ import annotations

import re
from pathlib import Path

from sqlmodel import SQLModel

import chatserver.db.models  # noqa: F401  (registers the tables)

INVENTORY = Path(__file__).resolve().parent.parent / "docs" / "privacy.md"
ROW = re.compile(r"^\| `([a-z_]+)\.([a-z0-9_]+)` \|(.+)\|\s*$")


def inventory() -> dict[str, list[str]]:
    rows: dict[str, list[str]] = {}
    for line in INVENTORY.read_text(encoding="utf-8").splitlines():
        match = ROW.match(line)
        if match:
            key = f"{match[1]}.{match[2]}"
            assert key not in rows, f"{key} is listed twice in docs/privacy.md"
            rows[key] = [cell.strip() for cell in match[3].split("|")]
    return rows


def test_every_column_of_every_table_has_an_inventory_entry() -> None:
    columns = {f"{table.name}.{column.name}"
               for table in SQLModel.metadata.sorted_tables for column in table.columns}
    listed = inventory()
    missing = sorted(columns - set(listed))
    assert not missing, f"add these columns to the data inventory in docs/privacy.md: {missing}"
    stale = sorted(set(listed) - columns)
    assert not stale, f"docs/privacy.md lists columns that no longer exist: {stale}"


def test_every_entry_says_what_why_how_long_and_who() -> None:
    for key, cells in inventory().items():
        assert len(cells) == 4 and all(cells), f"{key}: fill in what, why, how long, who sees it"
