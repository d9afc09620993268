"""Orders: the sale insert and the reads (one order, lists, counts, unsent units).

Every function takes a connection and runs inside the caller's transaction
(``with db.write() as conn:``) when it writes, so a sale, its lines, its
outbox row and its stock decrement commit together. Nothing here deletes an
order. The outbox's state changes and queue queries are in ``outbox.py``.

States (see ``schema_orders``): ``pending_sync`` -> ``in_flight`` ->
``synced`` | ``synced_with_discrepancy`` | ``failed``; ``failed`` ->
``pending_sync`` (retry) or ``voided`` (void, stock put back).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from onetill.store.order_records import (
    DUE_NOW,
    NewLine,
    NewOrder,
    OrderLine,
    OrderRecord,
    OrderStateError,
    format_ts,
    parse_ts,
)

__all__ = [
    "DUE_NOW",
    "UNSENT_STATES",
    "NewLine",
    "NewOrder",
    "OrderLine",
    "OrderRecord",
    "OrderStateError",
    "count_by_state",
    "format_ts",
    "get_order",
    "insert_sale",
    "list_orders",
    "oldest_pending_at",
    "parse_ts",
    "unsent_quantities",
]

# Orders whose units the till has taken off its own stock but WooCommerce
# has not (yet, or not knowingly): their stock must stay subtracted from
# whatever the store reports. ``in_flight`` counts: its fate is unknown.
UNSENT_STATES: tuple[str, ...] = ("pending_sync", "in_flight", "failed")



_SELECT = (
    "SELECT o.uuid, o.seq, o.state, o.created_at, o.till_id, o.currency, o.payment_method,"
    " o.payment_title, o.transaction_id, o.card_brand, o.card_last4, o.subtotal, o.total_tax,"
    " o.total, o.tendered, o.change, o.remote_id, o.remote_number, o.void_reason,"
    " o.discrepancy, o.tax_lines, x.attempts, x.next_attempt_at, x.in_flight_since,"
    " x.first_sent_at, x.server_offset_s, x.last_error, o.charge_id, o.store_copies,"
    " x.plugin_sends"
    " FROM orders o JOIN outbox x ON x.order_uuid = o.uuid"
)


def _record(conn: sqlite3.Connection, row: Sequence[Any], with_lines: bool) -> OrderRecord:
    rec = OrderRecord(*tuple(row))
    if with_lines:
        rec.lines.extend(_lines(conn, rec.uuid))
    return rec


def _lines(conn: sqlite3.Connection, uuid: str) -> list[OrderLine]:
    rows = conn.execute(
        "SELECT line_no, product_id, variation_id, stock_item_id, sku, name, quantity,"
        " unit_price, subtotal, total, tax, tax_class, stock_decremented"
        " FROM order_lines WHERE order_uuid = ? ORDER BY line_no",
        (uuid,),
    ).fetchall()
    return [
        OrderLine(
            line_no=int(r[0]), product_id=int(r[1]), variation_id=int(r[2]),
            stock_item_id=int(r[3]), sku=str(r[4]), name=str(r[5]), quantity=int(r[6]),
            unit_price=str(r[7]), subtotal=str(r[8]), total=str(r[9]), tax=str(r[10]),
            tax_class=str(r[11]), stock_decremented=bool(r[12]),
        )
        for r in rows
    ]  # fmt: skip


def insert_sale(conn: sqlite3.Connection, order: NewOrder, lines: Sequence[NewLine]) -> int:
    """Insert a sale: the order, its lines, its outbox row and the stock decrement.

    Call inside ``db.write()``: all of it commits together or not at all.
    Returns the order's FIFO sequence number.
    """
    if not lines:
        raise ValueError("a sale needs at least one line")
    seq = int(conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM orders").fetchone()[0])
    created = format_ts(order.created_at)
    conn.execute(
        "INSERT INTO orders (uuid, seq, state, created_at, till_id, currency, payment_method,"
        " payment_title, transaction_id, card_brand, card_last4, subtotal, total_tax, total,"
        " tendered, change, tax_lines, charge_id)"
        " VALUES (?, ?, 'pending_sync', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            order.uuid, seq, created, order.till_id, order.currency, order.payment_method,
            order.payment_title, order.transaction_id, order.card_brand, order.card_last4,
            order.subtotal, order.total_tax, order.total, order.tendered, order.change,
            order.tax_lines, order.charge_id,
        ),
    )  # fmt: skip
    for no, line in enumerate(lines, start=1):
        conn.execute(
            "INSERT INTO order_lines (order_uuid, line_no, product_id, variation_id,"
            " stock_item_id, sku, name, quantity, unit_price, subtotal, total, tax, tax_class,"
            " stock_decremented) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                order.uuid, no, line.product_id, line.variation_id, line.stock_item_id,
                line.sku, line.name, line.quantity, line.unit_price, line.subtotal, line.total,
                line.tax, line.tax_class, int(line.decrement_stock),
            ),
        )  # fmt: skip
        if line.decrement_stock:
            conn.execute(
                "UPDATE products SET stock_quantity = COALESCE(stock_quantity, 0) - ? WHERE id = ?",
                (line.quantity, line.stock_item_id),
            )
    conn.execute(
        "INSERT INTO outbox (order_uuid, status, created_at, attempts, next_attempt_at)"
        " VALUES (?, 'pending_sync', ?, 0, ?)",
        (order.uuid, created, DUE_NOW),
    )
    return seq


def get_order(conn: sqlite3.Connection, uuid: str, *, with_lines: bool = True) -> OrderRecord:
    """The order with this UUID (a unique prefix of at least 8 characters works too)."""
    row = conn.execute(_SELECT + " WHERE o.uuid = ?", (uuid,)).fetchone()
    if row is None and len(uuid) >= 8:
        rows = conn.execute(_SELECT + " WHERE o.uuid LIKE ? LIMIT 2", (uuid + "%",)).fetchall()
        if len(rows) > 1:
            raise KeyError(f"{uuid!r} matches several orders; give more of the UUID")
        row = rows[0] if rows else None
    if row is None:
        raise KeyError(f"no order {uuid!r} on this till; `onetill orders --all` lists them")
    return _record(conn, row, with_lines)


def list_orders(
    conn: sqlite3.Connection, states: Iterable[str] | None = None, *, limit: int | None = None
) -> list[OrderRecord]:
    """Orders in FIFO order, optionally only those in ``states``."""
    sql = _SELECT
    params: list[Any] = []
    wanted = list(states) if states is not None else None
    if wanted is not None:
        sql += f" WHERE o.state IN ({','.join('?' * len(wanted))})"
        params.extend(wanted)
    sql += " ORDER BY o.seq"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return [_record(conn, r, False) for r in conn.execute(sql, params).fetchall()]


def count_by_state(conn: sqlite3.Connection) -> dict[str, int]:
    """How many orders are in each state."""
    return {
        str(state): int(n)
        for state, n in conn.execute("SELECT state, COUNT(*) FROM orders GROUP BY state")
    }


def oldest_pending_at(conn: sqlite3.Connection) -> datetime | None:
    """Sale time of the oldest order not yet in the store (pending or in flight)."""
    row = conn.execute(
        "SELECT MIN(created_at) FROM orders WHERE state IN ('pending_sync', 'in_flight')"
    ).fetchone()
    return None if row is None or row[0] is None else parse_ts(str(row[0]))


def unsent_quantities(
    conn: sqlite3.Connection,
    stock_item_ids: Iterable[int],
    states: Sequence[str] = UNSENT_STATES,
) -> dict[int, int]:
    """Units sold on the till but not yet in WooCommerce, per stock item.

    Keyed by the item holding the stock (the parent for a variation whose
    stock is managed by its parent). Items with nothing unsent are absent.
    ``states=("in_flight",)`` counts only the units whose upload may have
    reached the store already.
    """
    ids = sorted({int(i) for i in stock_item_ids})
    out: dict[int, int] = {}
    marks_states = ",".join("?" * len(states))
    # SQLite limits bound parameters; chunk well below the limit.
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        rows = conn.execute(
            f"SELECT l.stock_item_id, SUM(l.quantity) FROM order_lines l"
            f" JOIN orders o ON o.uuid = l.order_uuid"
            f" WHERE o.state IN ({marks_states}) AND l.stock_decremented = 1"
            f" AND l.stock_item_id IN ({marks}) GROUP BY l.stock_item_id",
            (*states, *chunk),
        ).fetchall()
        for item_id, qty in rows:
            if qty:
                out[int(item_id)] = int(qty)
    return out
