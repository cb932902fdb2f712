"""Docs cannot drift: every setting is in the README's reference, every event in protocol.md."""

from __future__ import annotations

from pathlib import Path

from chatserver import config_reference
from tests.helpers import namespace_events

ROOT = Path(__file__).resolve().parent.parent


def test_readme_configuration_reference_is_current() -> None:
    readme = (ROOT / "README.md").read_text()
    assert config_reference.render() in readme, "run `make docs` to regenerate the reference"
    for key, _info in config_reference.all_keys():
        assert f"`{key}`" in readme


def test_every_socket_event_is_documented() -> None:
    protocol = (ROOT / "docs" / "protocol.md").read_text()
    events = namespace_events()
    assert {"message", "erase"} <= events["visitor"] and {"claim", "transfer"} <= events["agent"]
    for event in events["visitor"] | events["agent"]:
        assert f"| `{event}` |" in protocol, f"docs/protocol.md does not describe `{event}`"


def test_every_security_pointer_names_a_real_test() -> None:
    """docs/security.md points at the test behind each mitigation as tests/file.py::test_name."""
    import ast
    import re

    text = (ROOT / "docs" / "security.md").read_text()
    pointers = set(re.findall(r"tests/(\w+\.py)::(\w+)", text))
    assert len(pointers) > 20
    missing = []
    for filename, name in sorted(pointers):
        path = ROOT / "tests" / filename
        tree = ast.parse(path.read_text()) if path.exists() else None
        defined = {node.name for node in ast.walk(tree) if isinstance(
            node, ast.FunctionDef | ast.AsyncFunctionDef)} if tree else set()
        if name not in defined:
            missing.append(f"tests/{filename}::{name}")
    assert missing == []
