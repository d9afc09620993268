"""Optional SQLite persistence: the sandbox store survives its own restart.

Write-through: every saved record is written at once (one small transaction),
so a killed sandbox process restarts with exactly what it had answered.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import msgspec

from .records import Item

__all__ = ["StateFile"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    kind TEXT NOT NULL, id INTEGER NOT NULL, created INTEGER NOT NULL,
    modified INTEGER NOT NULL, data TEXT NOT NULL, meta TEXT NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE TABLE IF NOT EXISTS blobs (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def _enc(value: Any) -> str:
    return msgspec.json.encode(value).decode()


class StateFile:
    """One SQLite file holding every record and a few named JSON blobs."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        for stmt in _SCHEMA.strip().split(";"):
            if stmt.strip():
                self._conn.execute(stmt)

    def is_empty(self) -> bool:
        return self._conn.execute("SELECT 1 FROM blobs LIMIT 1").fetchone() is None

    def load_items(self) -> list[Item]:
        rows = self._conn.execute(
            "SELECT kind, id, created, modified, data, meta FROM items ORDER BY kind, id"
        )
        dec = msgspec.json.decode  # several times faster than json for 100,000 rows
        return [Item(k, i, dec(d), c, m, dec(mt)) for k, i, c, m, d, mt in rows]

    def load_blob(self, name: str) -> Any:
        row = self._conn.execute("SELECT value FROM blobs WHERE name = ?", (name,)).fetchone()
        return None if row is None else msgspec.json.decode(row[0])

    def save_items(self, items: Iterable[Item]) -> None:
        rows = [
            (it.kind, it.id, it.created, it.modified, _enc(it.data), _enc(it.meta)) for it in items
        ]
        with self._conn:
            self._conn.execute("BEGIN")
            self._conn.executemany("INSERT OR REPLACE INTO items VALUES (?, ?, ?, ?, ?, ?)", rows)

    def save_item(self, item: Item) -> None:
        self.save_items([item])

    def delete_item(self, kind: str, item_id: int) -> None:
        self._conn.execute("DELETE FROM items WHERE kind = ? AND id = ?", (kind, item_id))

    def save_blob(self, name: str, value: Any) -> None:
        self._conn.execute("INSERT OR REPLACE INTO blobs VALUES (?, ?)", (name, _enc(value)))

    def close(self) -> None:
        self._conn.close()
