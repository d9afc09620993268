"""Which stock changes the till's own sales explain (and so are not discrepancies).

The till shows the store's stock minus its unsent units. While an order is
in flight its units count as unsent, yet the store may already have taken
them: after a crash a read-back can show local 206 / store 202 (the store
has the order, the till still subtracts it), and once the lookup finds the
order, 202 / 206 back again. Neither is the store disagreeing with the
till, so neither is logged.

A change is explained when the store's number did not move (the till's
moved only because an order of its own changed state), or when it is what
the till expects less the units of some of its in-flight orders (each
lands whole or not at all).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

__all__ = ["explained", "in_flight_units"]

# Subset sums grow as 2**n; a till rarely has more than a few orders in flight
# per item, and beyond this a change is simply logged.
_MAX_ORDERS = 16


def in_flight_units(
    conn: sqlite3.Connection, stock_item_ids: Iterable[int]
) -> dict[int, list[int]]:
    """Per stock item, the units of each in-flight order that sold it (one entry per order)."""
    ids = sorted({int(i) for i in stock_item_ids})
    out: dict[int, list[int]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = conn.execute(
            "SELECT l.stock_item_id, SUM(l.quantity) FROM order_lines l"
            " JOIN orders o ON o.uuid = l.order_uuid"
            " WHERE o.state = 'in_flight' AND l.stock_decremented = 1"
            f" AND l.stock_item_id IN ({','.join('?' * len(chunk))})"
            " GROUP BY l.stock_item_id, l.order_uuid",
            chunk,
        ).fetchall()
        for item_id, qty in rows:
            out.setdefault(int(item_id), []).append(int(qty))
    return out


def explained(
    old_local: int | None,
    old_store: int | None,
    new_store: int | None,
    unsent: int,
    in_flight: list[int] | None,
) -> bool:
    """Whether the till's stock moving off ``old_local`` is the till's own doing.

    Either the store's number did not move (the till's changed only because
    its own orders changed state), or it is what the till expects, the old
    local stock plus every unsent unit, less the units of some in-flight
    orders that reached the store (each lands whole or not at all).
    """
    if old_store is not None and new_store == old_store:
        return True
    if old_local is None or new_store is None:
        return False
    drop = old_local + unsent - new_store
    orders = (in_flight or [])[:_MAX_ORDERS]
    if drop < 0 or drop > sum(orders):
        return False
    sums = {0}
    for units in orders:
        sums |= {s + units for s in sums}
    return drop in sums
