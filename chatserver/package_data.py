"""Files shipped inside the package, found through importlib.resources so that an installed
wheel serves the same product from any working directory (docs/deployment.md): the Babel
catalogs (locales/), the built widget and console (static/), the example FAQ and the privacy
questions (faq/), and the migrations (db/migrations/)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def data_path(*parts: str) -> Path:
    """The path of a file or folder inside the installed package."""
    return Path(str(files("chatserver").joinpath(*parts)))
