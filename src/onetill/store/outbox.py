"""The outbox: queue queries and every state change of an order's upload.

Call the writers inside ``with db.write() as conn:``. Times here are the
*store's* clock as the drainer measures it (its last ``Date`` header advanced
by a monotonic clock), so a step of the till's clock never stalls the queue
nor makes a wait look over: ``next_attempt_at``, ``in_flight_since`` and
``first_sent_at`` (with ``server_offset_s`` 0) are store times. Rows written
before that rule (till times, ``server_offset_s`` the measured difference)
read the same way, and any due time further ahead than the caller's
``horizon`` counts as due now: nothing this code schedules waits that long,
so such a time can only come from a clock that was wrong when it was written.

``DUE_NOW`` marks a row that may go whatever any clock says (a new sale, a
retry asked for by a person).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime

from onetill.store.discrepancies import log_discrepancy
from onetill.store.orders import (
    _SELECT,
    DUE_NOW,
    OrderRecord,
    OrderStateError,
    _lines,
    _record,
    format_ts,
    get_order,
    parse_ts,
)
from onetill.store.sync_state import get_json, set_json

__all__ = [
    "DUE_NOW",
    "HEAD_KEY",
    "QueueHead",
    "clear_store_copies",
    "count_store_copies",
    "due_pending",
    "flagged_orders",
    "in_flight_orders",
    "mark_failed",
    "mark_in_flight",
    "mark_pending",
    "mark_synced",
    "next_due_times",
    "note_error",
    "note_queue_head",
    "queue_head",
    "record_store_copies",
    "retry_order",
    "void_order",
    "waiting_orders",
]

# sync_state key: the order at the head of the queue and since when (store time).
HEAD_KEY = "outbox.head"


def _is_due(stamp: str, now: str, horizon: str | None) -> bool:
    # Fixed-width UTC text: string order is time order.
    return stamp <= now or (horizon is not None and stamp > horizon)


def due_pending(
    conn: sqlite3.Connection, now: datetime, limit: int, *, horizon: datetime | None = None
) -> list[OrderRecord]:
    """The head of the queue, if it is due: up to ``limit`` pending orders in FIFO order.

    FIFO is kept under backoff: while the oldest pending order waits for its
    retry time, nothing behind it is sent. Orders behind the head are taken
    only while they are due too. A time after ``horizon`` counts as due.
    """
    rows = conn.execute(
        _SELECT + " WHERE o.state = 'pending_sync' ORDER BY o.seq LIMIT ?", (limit,)
    ).fetchall()
    stamp, far = format_ts(now), (format_ts(horizon) if horizon is not None else None)
    out: list[OrderRecord] = []
    for row in rows:
        rec = _record(conn, row, False)
        if not _is_due(rec.next_attempt_at, stamp, far):
            break  # before reading its lines: the drain asks this every round
        rec.lines.extend(_lines(conn, rec.uuid))
        out.append(rec)
    return out


def in_flight_orders(conn: sqlite3.Connection) -> list[OrderRecord]:
    """Orders whose upload may have reached the store (they need a lookup)."""
    rows = conn.execute(_SELECT + " WHERE o.state = 'in_flight' ORDER BY o.seq").fetchall()
    return [_record(conn, r, True) for r in rows]


def next_due_times(conn: sqlite3.Connection) -> list[datetime]:
    """When the outbox has work: the lookup times of orders in flight (which hold the
    queue), else the FIFO head's retry time. Empty when nothing waits."""
    flying = conn.execute(
        "SELECT next_attempt_at FROM outbox WHERE status = 'in_flight'"
    ).fetchall()
    if flying:
        return [parse_ts(str(r[0])) for r in flying]
    head = conn.execute(
        "SELECT x.next_attempt_at FROM orders o JOIN outbox x ON x.order_uuid = o.uuid"
        " WHERE o.state = 'pending_sync' ORDER BY o.seq LIMIT 1"
    ).fetchone()
    return [] if head is None else [parse_ts(str(head[0]))]


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

    ``now`` is the store's time with ``server_offset_s=0`` (or the till's
    time and the store-minus-till difference, or None when unknown).
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
    """The (time, store-minus-that-clock offset) pair of the order's earliest send.

    A lookup searches the store from ``first_sent_at + server_offset_s``. Both
    halves of a pair come from the same moment, so a clock corrected between
    two sends cannot move the window past the first send: mixing the first
    send's time with a later offset could.
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
    next_attempt_at: datetime | str,
    error: str | None,
    *,
    in_flight: bool = False,
    in_flight_since: datetime | None = None,
) -> None:
    """Back to the queue, not before ``next_attempt_at`` (a time, or ``DUE_NOW``).

    ``in_flight=True`` keeps the order in flight: its fate is unknown, so the
    next attempt is a lookup, not a send. ``in_flight_since`` moves the
    latest send's time (only ever later: see the drainer's minimum age).
    """
    _set_state(conn, uuid, "in_flight" if in_flight else "pending_sync")
    due = next_attempt_at if isinstance(next_attempt_at, str) else format_ts(next_attempt_at)
    conn.execute(
        "UPDATE outbox SET next_attempt_at = ?, last_error = ? WHERE order_uuid = ?",
        (due, error, uuid),
    )
    if in_flight_since is not None:
        conn.execute(
            "UPDATE outbox SET in_flight_since = ? WHERE order_uuid = ?",
            (format_ts(in_flight_since), uuid),
        )


def note_error(conn: sqlite3.Connection, uuids: Sequence[str], error: str) -> None:
    """Why these orders did not move, leaving their state and times as they are."""
    for uuid in uuids:
        conn.execute("UPDATE outbox SET last_error = ? WHERE order_uuid = ?", (error, uuid))


def mark_synced(
    conn: sqlite3.Connection,
    uuid: str,
    remote_id: int,
    number: str,
    now: datetime,
    *,
    discrepancy: str | None = None,
) -> None:
    """The store has the order (``synced_with_discrepancy`` when it differs)."""
    _set_state(conn, uuid, "synced" if discrepancy is None else "synced_with_discrepancy")
    conn.execute(
        "UPDATE orders SET remote_id = ?, remote_number = ?, discrepancy = ?, synced_at = ?"
        " WHERE uuid = ?",
        (remote_id, number, discrepancy, format_ts(now), uuid),
    )
    conn.execute("UPDATE outbox SET last_error = NULL WHERE order_uuid = ?", (uuid,))


def mark_failed(conn: sqlite3.Connection, uuid: str, error: str) -> None:
    """The store refused the order for good; it stays, visible, until retried or voided."""
    _set_state(conn, uuid, "failed")
    conn.execute("UPDATE outbox SET last_error = ? WHERE order_uuid = ?", (error, uuid))


def retry_order(conn: sqlite3.Connection, uuid: str) -> OrderRecord:
    """Move an order that waits to the front of its wait: due now, whatever its timers say.

    A failed (or pending) order goes back to its place in the queue. An
    order in flight stays in flight: its last send may have reached the
    store, so the next step is a lookup by UUID (now), never a blind resend.
    """
    rec = get_order(conn, uuid, with_lines=False)
    if rec.state not in ("failed", "pending_sync", "in_flight"):
        raise OrderStateError(
            f"order {rec.uuid} is {rec.state}; only a failed, pending or in-flight order "
            "can be retried"
        )
    if rec.state != "in_flight":
        _set_state(conn, rec.uuid, "pending_sync")
    conn.execute("UPDATE outbox SET next_attempt_at = ? WHERE order_uuid = ?", (DUE_NOW, rec.uuid))
    return get_order(conn, rec.uuid, with_lines=False)


def void_order(
    conn: sqlite3.Connection, uuid: str, reason: str, *, absent_from_store: bool = False
) -> OrderRecord:
    """Void an order that never reached the store: kept forever, local stock restored.

    A failed order can be voided. One in flight (or queued again after a
    lookup) only with ``absent_from_store=True``: the caller looked it up,
    under the drain lock, and the store does not have it, and its last send
    is old enough that it cannot still land.
    """
    if not reason.strip():
        raise OrderStateError("a void needs a reason: --reason TEXT")
    rec = get_order(conn, uuid, with_lines=True)
    unsent = rec.state in ("in_flight", "pending_sync")
    allowed = rec.state == "failed" or (unsent and absent_from_store)
    if not allowed:
        hint = {
            "synced": "it is in WooCommerce; refund or cancel it there",
            "synced_with_discrepancy": "it is in WooCommerce; fix or refund it there",
            "voided": "it is already voided",
            "in_flight": "its upload may have reached the store; it must be looked up first",
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


# -- what waits, and since when ------------------------------------------------


def waiting_orders(conn: sqlite3.Connection, limit: int = 20) -> list[OrderRecord]:
    """Orders not yet in the store (pending or in flight), oldest first."""
    rows = conn.execute(
        _SELECT + " WHERE o.state IN ('pending_sync', 'in_flight') ORDER BY o.seq LIMIT ?",
        (limit,),
    ).fetchall()
    return [_record(conn, r, False) for r in rows]


class QueueHead:
    """The oldest order not yet in the store, and since when it has been the oldest."""

    def __init__(self, order: OrderRecord, since: str | None) -> None:
        self.order = order
        self.since = since  # store time (format_ts text), None when never seen by a drain


def note_queue_head(conn: sqlite3.Connection, now: datetime) -> None:
    """Remember which order heads the queue; a new head starts its clock at ``now``."""
    head = waiting_orders(conn, 1)
    seen = get_json(conn, HEAD_KEY) or {}
    uuid = head[0].uuid if head else None
    if uuid is None:
        if seen:
            conn.execute("DELETE FROM sync_state WHERE key = ?", (HEAD_KEY,))
        return
    if seen.get("uuid") != uuid:
        set_json(conn, HEAD_KEY, {"uuid": uuid, "since": format_ts(now)})


def queue_head(conn: sqlite3.Connection) -> QueueHead | None:
    """The head of the queue, with the time a drain first saw it there (if one did)."""
    head = waiting_orders(conn, 1)
    if not head:
        return None
    seen = get_json(conn, HEAD_KEY) or {}
    since = seen.get("since") if seen.get("uuid") == head[0].uuid else None
    return QueueHead(head[0], str(since) if since else None)


# -- copies of a sale the store should not hold ----------------------------------


def record_store_copies(
    conn: sqlite3.Connection, uuid: str, copies: Sequence[tuple[int, str]], cause: str
) -> bool:
    """The store holds this sale as ``copies`` ((id, number) each) where it should not.

    Two or more live copies of one sale, or any copy of a sale the till
    voided or saw refused. The order is flagged for attention (state
    ``synced_with_discrepancy`` once it is synced; the ids in
    ``store_copies``) and a discrepancy names every copy; nothing is
    cancelled. Returns True when this is news (logged now).
    """
    rec = get_order(conn, uuid, with_lines=False)
    ids = sorted({int(i) for i, _ in copies})
    if rec.copies == ids:
        return False
    names = ", ".join(f"#{number or i}" for i, number in sorted(copies))
    text = (
        f"the store holds this sale {len(ids)} times (orders {names}); cancel or refund "
        "the extra copies in WooCommerce (stock was reduced for each)"
        if rec.state not in ("voided", "failed")
        else f"the store holds this {rec.state} sale as order {names}; check it in WooCommerce"
    )
    conn.execute("UPDATE orders SET store_copies = ? WHERE uuid = ?", (json.dumps(ids), uuid))
    if rec.state in ("synced", "synced_with_discrepancy"):
        old = rec.discrepancy
        joined = text if not old or old.startswith("the store holds") else f"{text}; {old}"
        _set_state(conn, uuid, "synced_with_discrepancy")
        conn.execute("UPDATE orders SET discrepancy = ? WHERE uuid = ?", (joined, uuid))
    expected = "0 store orders" if rec.state in ("voided", "failed") else "1 store order"
    log_discrepancy(conn, "order", uuid, "duplicate", expected, names, f"{cause}: {text}")
    return True


def clear_store_copies(conn: sqlite3.Connection, uuid: str) -> None:
    """The extra copies are gone (cancelled, refunded, trashed): no longer counted."""
    conn.execute("UPDATE orders SET store_copies = NULL WHERE uuid = ?", (uuid,))


def flagged_orders(conn: sqlite3.Connection) -> list[OrderRecord]:
    """Sales flagged because the store holds them where it should not."""
    rows = conn.execute(_SELECT + " WHERE o.store_copies IS NOT NULL ORDER BY o.seq").fetchall()
    return [_record(conn, r, False) for r in rows]


def count_store_copies(conn: sqlite3.Connection) -> int:
    """How many sales the store holds where it should not (duplicates and the like)."""
    row = conn.execute("SELECT COUNT(*) FROM orders WHERE store_copies IS NOT NULL").fetchone()
    return int(row[0])
