"""Refunds of recorded sales (table ``refunds``, see ``schema_payments``).

A refund's Stripe part comes first (``stripe_pending`` -> ``pending_sync``;
a cash sale starts at ``pending_sync``), then its WooCommerce refund goes
through the outbox after the sale's order is in the store: ``pending_sync``
-> ``in_flight`` -> ``synced`` | ``failed``. ``in_flight`` means the POST
may have reached the store: the refund is looked up (by its UUID in the
refund's ``meta_data``) before it is ever sent again. Nothing is deleted.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from typing import Any

from onetill.store.order_records import DUE_NOW, format_ts

__all__ = [
    "RefundRecord",
    "due_refunds",
    "get_refund",
    "insert_refund",
    "refunded_total",
    "refunds_of",
    "update_refund",
]


@dataclass(frozen=True)
class RefundRecord:
    uuid: str
    seq: int
    order_uuid: str
    state: str
    amount: str
    reason: str
    lines: str  # JSON [{"line_no": n, "quantity": q}]
    stripe_key: str | None
    stripe_refund_id: str | None
    remote_id: int | None
    attempts: int
    next_attempt_at: str
    in_flight_since: str | None
    last_error: str | None
    created_at: str
    synced_at: str | None

    @property
    def returned(self) -> list[dict[str, int]]:
        return [dict(x) for x in json.loads(self.lines)]

    def as_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["lines"] = self.returned
        return out


_COLUMNS = ", ".join(f.name for f in fields(RefundRecord))
_WRITABLE = frozenset(f.name for f in fields(RefundRecord)) - {"uuid", "seq", "created_at"}


def insert_refund(
    conn: sqlite3.Connection,
    *,
    uuid: str,
    order_uuid: str,
    state: str,
    amount: Decimal,
    reason: str,
    lines: list[dict[str, int]],
    stripe_key: str | None,
    now: datetime,
) -> RefundRecord:
    seq = int(conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM refunds").fetchone()[0])
    at = format_ts(now)
    conn.execute(  # due now, whatever any clock says (the drain runs on the store's)
        "INSERT INTO refunds (uuid, seq, order_uuid, state, amount, reason, lines, stripe_key,"
        " next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (uuid, seq, order_uuid, state, str(amount), reason, json.dumps(lines), stripe_key, DUE_NOW,
         at),
    )
    return get_refund(conn, uuid)


def get_refund(conn: sqlite3.Connection, uuid: str) -> RefundRecord:
    row = conn.execute(f"SELECT {_COLUMNS} FROM refunds WHERE uuid = ?", (uuid,)).fetchone()
    if row is None:
        raise KeyError(f"no refund {uuid!r}")
    return RefundRecord(*tuple(row))


def refunds_of(conn: sqlite3.Connection, order_uuid: str) -> list[RefundRecord]:
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM refunds WHERE order_uuid = ? ORDER BY seq", (order_uuid,)
    ).fetchall()
    return [RefundRecord(*tuple(r)) for r in rows]


def refunded_total(conn: sqlite3.Connection, order_uuid: str) -> Decimal:
    """Money given back (or on its way back) for this sale: every refund not failed."""
    total = Decimal(0)
    for r in refunds_of(conn, order_uuid):
        if r.state != "failed":
            total += Decimal(r.amount)
    return total


def update_refund(
    conn: sqlite3.Connection, uuid: str, **changes: Any
) -> RefundRecord:
    unknown = set(changes) - _WRITABLE
    if unknown:
        raise ValueError(f"refunds has no writable column(s) {sorted(unknown)}")
    assignments = ", ".join(f"{k} = ?" for k in changes)
    conn.execute(f"UPDATE refunds SET {assignments} WHERE uuid = ?", (*changes.values(), uuid))
    return get_refund(conn, uuid)


def due_refunds(
    conn: sqlite3.Connection, now: datetime, limit: int = 20, *, horizon: datetime | None = None
) -> list[RefundRecord]:
    """Refunds whose store part is due, FIFO, only for sales already in the store.

    A due time after ``horizon`` counts as due: it was written under a clock
    that has since been corrected.
    """
    far = format_ts(horizon) if horizon is not None else None
    rows = conn.execute(
        f"SELECT {', '.join('r.' + c for c in _COLUMNS.split(', '))} FROM refunds r"
        " JOIN orders o ON o.uuid = r.order_uuid"
        " WHERE r.state IN ('pending_sync', 'in_flight')"
        " AND (r.next_attempt_at <= ? OR (? IS NOT NULL AND r.next_attempt_at > ?))"
        " AND o.remote_id IS NOT NULL ORDER BY r.seq LIMIT ?",
        (format_ts(now), far, far, limit),
    ).fetchall()
    return [RefundRecord(*tuple(r)) for r in rows]
