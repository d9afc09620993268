"""Orders and the outbox: the sale insert, queue queries and state changes.

Every function takes a connection and runs inside the caller's transaction
(``with db.write() as conn:``) when it writes, so a sale, its lines, its
outbox row and its stock decrement commit together, and a state change is
never half-applied. Nothing here deletes an order.

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
    NewLine,
    NewOrder,
    OrderLine,
    OrderRecord,
    format_ts,
    parse_ts,
)

__all__ = [
    "UNSENT_STATES",
    "NewLine",
    "NewOrder",
    "OrderLine",
    "OrderRecord",
    "OrderStateError",
    "count_by_state",
    "due_pending",
    "format_ts",
    "get_order",
    "in_flight_orders",
    "insert_sale",
    "list_orders",
    "mark_failed",
    "mark_in_flight",
    "mark_pending",
    "mark_synced",
    "oldest_pending_at",
    "parse_ts",
    "retry_order",
    "unsent_quantities",
    "void_order",
]

# Orders whose units the till has taken off its own stock but WooCommerce
# has not (yet, or not knowingly): their stock must stay subtracted from
# whatever the store reports. ``in_flight`` counts: its fate is unknown.
UNSENT_STATES: tuple[str, ...] = ("pending_sync", "in_flight", "failed")


class OrderStateError(ValueError):
    """An action that the order's state does not allow (says which and why)."""


_SELECT = (
    "SELECT o.uuid, o.seq, o.state, o.created_at, o.till_id, o.currency, o.payment_method,"
    " o.payment_title, o.transaction_id, o.card_brand, o.card_last4, o.subtotal, o.total_tax,"
    " o.total, o.tendered, o.change, o.remote_id, o.remote_number, o.void_reason,"
    " o.discrepancy, o.tax_lines, x.attempts, x.next_attempt_at, x.in_flight_since,"
    " x.first_sent_at, x.server_offset_s, x.last_error, o.charge_id, x.plugin_sends"
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
        (order.uuid, created, created),
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


def in_flight_orders(conn: sqlite3.Connection) -> list[OrderRecord]:
    """Orders whose upload may have reached the store (they need a lookup)."""
    rows = conn.execute(_SELECT + " WHERE o.state = 'in_flight' ORDER BY o.seq").fetchall()
    return [_record(conn, r, True) for r in rows]


def due_pending(conn: sqlite3.Connection, now: datetime, limit: int) -> list[OrderRecord]:
    """The head of the queue, if it is due: up to ``limit`` pending orders in FIFO order.

    FIFO is kept under backoff: while the oldest pending order waits for its
    retry time, nothing behind it is sent. Orders behind the head are taken
    only while they are due too.
    """
    rows = conn.execute(
        _SELECT + " WHERE o.state = 'pending_sync' ORDER BY o.seq LIMIT ?", (limit,)
    ).fetchall()
    stamp = format_ts(now)
    out: list[OrderRecord] = []
    for row in rows:
        rec = _record(conn, row, False)
        if rec.next_attempt_at > stamp:
            break  # before reading its lines: the drain asks this every round
        rec.lines.extend(_lines(conn, rec.uuid))
        out.append(rec)
    return out


def _set_state(conn: sqlite3.Connection, uuid: str, state: str) -> None:
    conn.execute("UPDATE orders SET state = ? WHERE uuid = ?", (state, uuid))
    conn.execute("UPDATE outbox SET status = ? WHERE order_uuid = ?", (state, uuid))


def mark_in_flight(
    conn: sqlite3.Connection,
    uuids: Sequence[str],
    now: datetime,
    server_offset_s: float | None,
    *,
    lookup_after: datetime | None = None,
    via_plugin: bool = False,
) -> None:
    """Record, before sending, that these orders may reach the store from now on.

    ``lookup_after``: if this process dies with the request out, the next
    drainer looks the orders up no earlier than this, giving a store that
    is still finishing the request time to commit it. ``via_plugin``: the
    send is the companion plugin's idempotent POST (counted in ``plugin_sends``).
    """
    stamp = format_ts(now)
    due = format_ts(lookup_after or now)
    for uuid in uuids:
        _set_state(conn, uuid, "in_flight")
        first, offset = _earliest_send(conn, uuid, now, server_offset_s)
        conn.execute(
            "UPDATE outbox SET attempts = attempts + 1, in_flight_since = ?,"
            " first_sent_at = ?, next_attempt_at = ?, server_offset_s = ?,"
            " plugin_sends = plugin_sends + ? WHERE order_uuid = ?",
            (stamp, first, due, offset, int(via_plugin), uuid),
        )


def _earliest_send(
    conn: sqlite3.Connection, uuid: str, now: datetime, offset_s: float | None
) -> tuple[str, float | None]:
    """The (till time, store-minus-till offset) pair of the order's earliest send.

    A lookup searches the store from ``first_sent_at + server_offset_s``. Both
    halves of a pair come from the same moment, so a till clock corrected
    between two sends cannot move the window past the first send: mixing the
    first send's till time with a later offset could.
    """
    row = conn.execute(
        "SELECT first_sent_at, server_offset_s FROM outbox WHERE order_uuid = ?", (uuid,)
    ).fetchone()
    if row is None or row[0] is None:
        return format_ts(now), offset_s
    first, old_offset = str(row[0]), row[1]
    if old_offset is None or offset_s is None:
        # The earlier send's store time is unknown (the lookup then widens its
        # window) or this one's is: keep the earlier send.
        return first, old_offset
    if now.timestamp() + offset_s < parse_ts(first).timestamp() + float(old_offset):
        return format_ts(now), offset_s
    return first, float(old_offset)


def mark_pending(
    conn: sqlite3.Connection,
    uuid: str,
    next_attempt_at: datetime,
    error: str | None,
    *,
    in_flight: bool = False,
) -> None:
    """Back to the queue, not before ``next_attempt_at``.

    ``in_flight=True`` keeps the order in flight: its fate is unknown, so the
    next attempt is a lookup, not a send.
    """
    _set_state(conn, uuid, "in_flight" if in_flight else "pending_sync")
    conn.execute(
        "UPDATE outbox SET next_attempt_at = ?, last_error = ? WHERE order_uuid = ?",
        (format_ts(next_attempt_at), error, uuid),
    )


def mark_synced(
    conn: sqlite3.Connection,
    uuid: str,
    remote_id: int,
    number: str,
    now: datetime,
    *,
    discrepancy: str | None = None,
    raw_response: str | None = None,
) -> None:
    """The store has the order (``synced_with_discrepancy`` when it differs)."""
    _set_state(conn, uuid, "synced" if discrepancy is None else "synced_with_discrepancy")
    conn.execute(
        "UPDATE orders SET remote_id = ?, remote_number = ?, discrepancy = ?, synced_at = ?,"
        " raw_response = ? WHERE uuid = ?",
        (remote_id, number, discrepancy, format_ts(now), raw_response, uuid),
    )
    conn.execute("UPDATE outbox SET last_error = NULL WHERE order_uuid = ?", (uuid,))


def mark_failed(conn: sqlite3.Connection, uuid: str, error: str) -> None:
    """The store refused the order for good; it stays, visible, until retried or voided."""
    _set_state(conn, uuid, "failed")
    conn.execute("UPDATE outbox SET last_error = ? WHERE order_uuid = ?", (error, uuid))


def retry_order(conn: sqlite3.Connection, uuid: str, now: datetime) -> OrderRecord:
    """Put a failed order back at its place in the queue, due now."""
    rec = get_order(conn, uuid, with_lines=False)
    if rec.state not in ("failed", "pending_sync"):
        raise OrderStateError(
            f"order {rec.uuid} is {rec.state}; only a failed or pending order can be retried"
        )
    _set_state(conn, rec.uuid, "pending_sync")
    conn.execute(
        "UPDATE outbox SET next_attempt_at = ? WHERE order_uuid = ?", (format_ts(now), rec.uuid)
    )
    return get_order(conn, rec.uuid, with_lines=False)


def void_order(conn: sqlite3.Connection, uuid: str, reason: str) -> OrderRecord:
    """Void a failed order: never uploaded, kept forever, local stock restored."""
    if not reason.strip():
        raise OrderStateError("a void needs a reason: --reason TEXT")
    rec = get_order(conn, uuid, with_lines=True)
    if rec.state != "failed":
        hint = {
            "synced": "it is in WooCommerce; refund or cancel it there",
            "synced_with_discrepancy": "it is in WooCommerce; fix or refund it there",
            "voided": "it is already voided",
        }.get(rec.state, "only a failed order can be voided; wait for the upload or its failure")
        raise OrderStateError(f"order {rec.uuid} is {rec.state}: {hint}")
    for line in rec.lines:
        if line.stock_decremented:
            conn.execute(
                "UPDATE products SET stock_quantity = COALESCE(stock_quantity, 0) + ? WHERE id = ?",
                (line.quantity, line.stock_item_id),
            )
    conn.execute("UPDATE order_lines SET stock_decremented = 0 WHERE order_uuid = ?", (rec.uuid,))
    _set_state(conn, rec.uuid, "voided")
    conn.execute("UPDATE orders SET void_reason = ? WHERE uuid = ?", (reason.strip(), rec.uuid))
    return get_order(conn, rec.uuid, with_lines=False)


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


def unsent_quantities(conn: sqlite3.Connection, stock_item_ids: Iterable[int]) -> dict[int, int]:
    """Units sold on the till but not yet in WooCommerce, per stock item.

    Keyed by the item holding the stock (the parent for a variation whose
    stock is managed by its parent). Items with nothing unsent are absent.
    """
    ids = sorted({int(i) for i in stock_item_ids})
    out: dict[int, int] = {}
    states = ",".join("?" * len(UNSENT_STATES))
    # SQLite limits bound parameters; chunk well below the limit.
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        rows = conn.execute(
            f"SELECT l.stock_item_id, SUM(l.quantity) FROM order_lines l"
            f" JOIN orders o ON o.uuid = l.order_uuid"
            f" WHERE o.state IN ({states}) AND l.stock_decremented = 1"
            f" AND l.stock_item_id IN ({marks}) GROUP BY l.stock_item_id",
            (*UNSENT_STATES, *chunk),
        ).fetchall()
        for item_id, qty in rows:
            if qty:
                out[int(item_id)] = int(qty)
    return out
