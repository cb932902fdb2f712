"""The shape between files (docs/architecture.md, "Layers"): no import cycle inside chatserver/,
and every dependency points down the layers.

    http, realtime, cli, app   (handlers and wiring)
      ↓
    services.assistant, services.email, services.privacy   (optional or cross-cutting layers)
      ↓
    services/*.py   (the chat core: conversations, routing, queue, presence, agents, ...)
      ↓
    db, settings, errors, i18n, validation

Imports only for type checking (under `if TYPE_CHECKING:`) are not dependencies at run time
and are left out. A local import counts like any other: it hides a cycle, it does not break it.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "chatserver"
UPPER_SERVICES = ("chatserver.services.assistant", "chatserver.services.email",
                  "chatserver.services.privacy")
HANDLERS = ("chatserver.http", "chatserver.realtime", "chatserver.cli", "chatserver.app",
            "chatserver.keys", "chatserver.__main__")
BOTTOM = ("chatserver.db", "chatserver.settings", "chatserver.errors", "chatserver.i18n",
          "chatserver.validation", "chatserver.package_data")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts}


def imports(path: Path, known: set[str]) -> set[str]:
    """The chatserver modules `path` imports at run time (type-checking imports left out)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for child in ast.walk(node))
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            submodules = [f"{node.module}.{alias.name}" for alias in node.names]
            # `from package import module` depends on the module; the package's __init__ only
            # counts when a name of its own is imported.
            names = submodules if all(n in known for n in submodules) else \
                [node.module, *submodules]
        else:
            continue
        found.update(name for name in names if name in known)
    return found


@functools.cache
def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: imports(path, known) - {name} for name, path in found.items()}


def cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the modules along it, or None."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                return [*path[path.index(target):], target]
            if target not in state and (found := visit(target)) is not None:
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state and (found := visit(start)) is not None:
            return found
    return None


def test_there_is_no_import_cycle_inside_chatserver() -> None:
    found = cycle(graph())
    assert found is None, "import cycle: " + " → ".join(found or [])


def test_the_cycle_check_finds_a_cycle() -> None:
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set()}) is None


def layer(module: str) -> int:
    if module.startswith(BOTTOM) or module == "chatserver":
        return 0
    if module.startswith(UPPER_SERVICES):
        return 2
    if module.startswith("chatserver.services"):
        return 1
    return 3  # handlers, wiring, and the rest of the package's top level


@pytest.mark.parametrize("module", sorted(modules()))
def test_dependencies_point_down_the_layers(module: str) -> None:
    upward = sorted(target for target in graph()[module] if layer(target) > layer(module))
    assert upward == [], f"{module} (layer {layer(module)}) imports a higher layer: {upward}"


def test_the_chat_core_does_not_import_the_assistant_or_email() -> None:
    edges = graph()
    core = [m for m in edges if layer(m) == 1]
    assert "chatserver.services.conversations" in core and "chatserver.services.routing" in core
    for module in core:
        assert not [t for t in edges[module] if t.startswith(UPPER_SERVICES)], module


def test_no_private_name_is_imported_from_another_module() -> None:
    for path in modules().values():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("chatserver"):
                private = [a.name for a in node.names if a.name.startswith("_")
                           and not a.name.startswith("__")]
                assert not private, f"{path.name} imports {private} from {node.module}"
