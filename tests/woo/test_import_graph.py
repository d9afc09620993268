"""The client's modules import one way: no circle, not even a type-only one."""

from __future__ import annotations

import ast
from pathlib import Path

import onetill.woo

WOO = Path(onetill.woo.__file__).parent


def _imports(path: Path) -> set[str]:
    """Every ``onetill.woo.X`` module ``path`` imports, wherever the import sits
    (top level, ``if TYPE_CHECKING:`` or inside a function)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[:2] == ["onetill", "woo"] and len(parts) > 2 and (
                WOO / f"{parts[2]}.py"
            ).exists():
                found.add(parts[2])
    return found


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


def test_no_module_of_the_client_imports_one_that_imports_it_back() -> None:
    graph = {p.stem: _imports(p) - {p.stem} for p in WOO.glob("*.py") if p.stem != "__init__"}
    assert "batch" in graph["client"] and "pagination" in graph["client"]  # the test sees them
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])
