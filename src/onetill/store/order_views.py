"""Orders as screens list them: newest first, from a moment on, by state.

Read-only companions of ``store.orders`` (which keeps the queue's FIFO
queries and every state change).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from onetill.store.order_records import OrderRecord, format_ts
from onetill.store.orders import _SELECT, _record

__all__ = ["count_since", "recent_orders"]


def recent_orders(
    conn: sqlite3.Connection,
    *,
    states: Iterable[str] | None = None,
    since: datetime | None = None,
    limit: int = 200,
) -> list[OrderRecord]:
    """Orders newest first, optionally only in ``states`` and sold at or after ``since``."""
    where: list[str] = []
    params: list[Any] = []
    wanted = list(states) if states is not None else None
    if wanted is not None:
        where.append(f"o.state IN ({','.join('?' * len(wanted))})")
        params.extend(wanted)
    if since is not None:
        where.append("o.created_at >= ?")
        params.append(format_ts(since))
    sql = _SELECT + (" WHERE " + " AND ".join(where) if where else "")
    sql += " ORDER BY o.seq DESC LIMIT ?"
    params.append(limit)
    return [_record(conn, row, False) for row in conn.execute(sql, params).fetchall()]


def count_since(conn: sqlite3.Connection, since: datetime | None = None) -> dict[str, int]:
    """How many orders in each state (sold at or after ``since``, when given)."""
    sql = "SELECT state, COUNT(*) FROM orders"
    params: list[Any] = []
    if since is not None:
        sql += " WHERE created_at >= ?"
        params.append(format_ts(since))
    return {str(s): int(n) for s, n in conn.execute(sql + " GROUP BY state", params)}
