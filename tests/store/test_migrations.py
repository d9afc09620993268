"""A till database made before issue 9 (at 0004_stripe_payments) migrates to the
same schema as a fresh one."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from onetill.store import open_database
from onetill.store.migrations import MIGRATIONS


def _schema(path: Path) -> list[tuple[str, str]]:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name"
        ).fetchall()
    finally:
        conn.close()
    return [(str(n), str(s)) for n, s in rows]


def test_names_are_unique_and_numbered_in_order() -> None:
    names = [name for name, _ in MIGRATIONS]
    assert names[:4] == ["0001_catalog", "0002_orders", "0003_engine", "0004_stripe_payments"]
    assert [n[:4] for n in names] == [f"{i:04d}" for i in range(1, len(names) + 1)]


def test_a_database_at_0004_migrates_to_the_fresh_schema(tmp_path: Path) -> None:
    """An existing till at 0004_stripe_payments gets orders.store_copies and
    catalog_problems on its next open, and ends with the schema a new till has."""
    old = tmp_path / "old"
    old.mkdir()
    conn = sqlite3.connect(old / "onetill.db", isolation_level=None)
    conn.execute(
        "CREATE TABLE schema_migrations ("
        " name TEXT PRIMARY KEY, applied_at TEXT NOT NULL DEFAULT (datetime('now')))"
    )
    for name, statements in MIGRATIONS[:4]:
        for statement in statements:
            conn.execute(statement)
        conn.execute("INSERT INTO schema_migrations (name) VALUES (?)", (name,))
    conn.close()
    open_database(old).close()
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    open_database(fresh).close()
    assert _schema(old / "onetill.db") == _schema(fresh / "onetill.db")
    conn = sqlite3.connect(old / "onetill.db")
    try:
        applied = [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY name")]
        columns = [r[1] for r in conn.execute("PRAGMA table_info(orders)")]
    finally:
        conn.close()
    assert applied == [name for name, _ in MIGRATIONS]
    assert "store_copies" in columns and "charge_id" in columns
