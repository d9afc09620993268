"""Cursors, resume points and sync health, as key -> text in ``sync_state``.

Keys in use (all written inside the transaction whose work they describe,
so a crash never records progress that was not stored):

* ``catalog.cursor``: naive UTC ISO server time the next delta sync reads from.
* ``catalog.last_sync_at``: server time (naive UTC ISO) of the last good sync.
* ``catalog.state``: ``online`` | ``offline`` | ``degraded``; ``catalog.last_error``.
* ``initial.started_at``: server time noted when the unfinished initial sync began.
* ``initial.pages.<resource>``: JSON list of page numbers already applied.
* ``initial.parents_done``: JSON list of variable parents whose variations are stored.
* ``audit.last_at``: server time of the last ID audit.
* ``progress``: JSON list of the latest progress event per resource.
* ``outbox.paused`` (why uploads wait for new keys), ``outbox.head`` (the
  queue's oldest order and since when, store time), ``store.last_contact_at``
  and ``store.clock_skew_s`` (the outbox's last answer from the store),
  ``orders.copies_scanned_at`` (store time the duplicate scan reads from).
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

__all__ = [
    "delete_prefix",
    "get_json",
    "get_state",
    "set_json",
    "set_state",
]


def get_state(conn: sqlite3.Connection, key: str) -> str | None:
    """The value stored under ``key``, or None."""
    row = conn.execute("SELECT value FROM sync_state WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def set_state(conn: sqlite3.Connection, key: str, value: str) -> None:
    """Store ``value`` under ``key`` (call inside ``db.write()``)."""
    conn.execute(
        "INSERT INTO sync_state (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET"
        " value = excluded.value,"
        " updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
        (key, value),
    )


def get_json(conn: sqlite3.Connection, key: str, default: Any = None) -> Any:
    """The JSON value stored under ``key``, or ``default``."""
    raw = get_state(conn, key)
    return default if raw is None else json.loads(raw)


def set_json(conn: sqlite3.Connection, key: str, value: Any) -> None:
    """Store ``value`` as JSON under ``key``."""
    set_state(conn, key, json.dumps(value, separators=(",", ":"), sort_keys=True))


def delete_prefix(conn: sqlite3.Connection, prefix: str) -> int:
    """Remove every key starting with ``prefix``; returns how many."""
    cur = conn.execute("DELETE FROM sync_state WHERE substr(key, 1, ?) = ?", (len(prefix), prefix))
    return cur.rowcount
