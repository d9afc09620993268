"""The engine's parts import downwards only: no type-level circle between jobs and runtime,
and the outbox's SQL lives in the store room, not in the engine."""

from __future__ import annotations

import ast
from pathlib import Path

import onetill.engine.jobs as jobs_module


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_jobs_does_not_import_runtime_even_for_types() -> None:
    """runtime builds SyncJobs; SyncJobs takes EngineSettings from its own module."""
    assert "onetill.engine.runtime" not in _imports(Path(jobs_module.__file__))


def test_the_engine_runs_no_sql_of_its_own_on_orders() -> None:
    engine = Path(jobs_module.__file__).parent
    for path in engine.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "FROM orders" not in text and "FROM outbox" not in text, path.name
