"""The discrepancy log: every value WooCommerce overrode on the till, and why.

WooCommerce wins every disagreement; the till takes the store's value and
writes a row here (when, which object and field, the local and the store
value, the cause) so a person can see what happened.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import msgspec

__all__ = ["Discrepancy", "count_discrepancies", "list_discrepancies", "log_discrepancy"]


class Discrepancy(msgspec.Struct, frozen=True):
    """One logged disagreement between the till and the store."""

    id: int
    at: str
    object_type: str
    object_id: str
    field: str
    local_value: str | None
    store_value: str | None
    cause: str


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def log_discrepancy(
    conn: sqlite3.Connection,
    object_type: str,
    object_id: int | str,
    field: str,
    local: Any,
    store: Any,
    cause: str,
) -> None:
    """Record that the store's ``store`` value replaced the till's ``local`` one."""
    conn.execute(
        "INSERT INTO discrepancies (object_type, object_id, field, local_value, store_value, cause)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (object_type, str(object_id), field, _text(local), _text(store), cause),
    )


def list_discrepancies(
    conn: sqlite3.Connection, *, limit: int | None = None, object_id: int | str | None = None
) -> list[Discrepancy]:
    """Logged discrepancies, newest first."""
    sql = (
        "SELECT id, at, object_type, object_id, field, local_value, store_value, cause"
        " FROM discrepancies"
    )
    params: list[Any] = []
    if object_id is not None:
        sql += " WHERE object_id = ?"
        params.append(str(object_id))
    sql += " ORDER BY id DESC"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return [Discrepancy(*tuple(row)) for row in conn.execute(sql, params)]


def count_discrepancies(conn: sqlite3.Connection) -> int:
    """How many discrepancies are logged."""
    return int(conn.execute("SELECT COUNT(*) FROM discrepancies").fetchone()[0])
