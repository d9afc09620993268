"""Whether a web-shop sale shows in the products listing, and so when a poll reads orders.

WooCommerce facts (checked on the real store by ``tests/real/test_poll_shape_real.py``):

* An order that reduces stock saves the product holding it
  (``wc_update_product_stock`` -> ``$product->save()``, and a save always
  stamps ``post_modified``), a variation's parent with it; only then does the
  line get its ``_reduced_stock`` meta, which the REST line's ``meta_data``
  shows. On WooCommerce 11 a web-shop sale therefore reaches the till through
  the products listing alone.
* Older versions did not always stamp the product (#17841; the regression
  #40060, reported on 8.0, is still open), and WOOCOMMERCE.md says not to rely
  on the stamp alone.

So the orders window (orders modified since the cursor; the items they sold
get their stock read back) is read on every poll until this store has shown
the stamp on ``PROOF_ORDERS`` orders: every line with ``_reduced_stock`` has
its stock holder modified, in the till's copy, at or after the order was
created. From then on it is read as a backstop every ``BACKSTOP_S`` of store
time, over everything since the last read. A *settled* order (modified at
least ``COMMIT_LAG_S + 1`` before the poll's snapshot, so its stock change,
made in the same request after the order's save, was committed before the
products were listed) whose reduced line's holder was not stamped withdraws
the proof, and that holder's stock is read back.

State: ``sync_state['catalog.sale_signal']`` = ``{"proof": [order ids],
"checked_at": store time of the last orders window}``.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from onetill.store.catalog import get_item
from onetill.store.sync_state import get_json, set_json
from onetill.sync.poll_window import COMMIT_LAG_S
from onetill.woo import format_gmt_cursor, parse_gmt

__all__ = [
    "BACKSTOP_S",
    "ORDER_FIELDS",
    "PROOF_ORDERS",
    "SIGNAL_KEY",
    "Verdict",
    "judge",
    "orders_since",
    "proven",
    "record",
]

log = logging.getLogger("onetill.sync")

SIGNAL_KEY = "catalog.sale_signal"
PROOF_ORDERS = 2
BACKSTOP_S = 600.0
ORDER_FIELDS = ["id", "date_created_gmt", "date_modified_gmt", "line_items"]


@dataclass
class Verdict:
    """What one orders window says about the stamp."""

    stamped: list[int] = field(default_factory=list)  # orders whose reduced lines were stamped
    unstamped: list[int] = field(default_factory=list)  # settled orders with a line that was not
    stale: set[int] = field(default_factory=set)  # items whose stock must be read back


def _state(conn: sqlite3.Connection) -> dict[str, Any]:
    value = get_json(conn, SIGNAL_KEY, None)
    return value if isinstance(value, dict) else {}


def proven(conn: sqlite3.Connection) -> bool:
    proof = _state(conn).get("proof")
    return isinstance(proof, list) and len(proof) >= PROOF_ORDERS


def orders_since(
    conn: sqlite3.Connection, products_since: datetime, now: datetime, overlap_s: float
) -> datetime | None:
    """Where this poll's orders window starts, or None when it is not read this time.

    ``now`` is the store time of the last poll (the cursor)."""
    state = _state(conn)
    checked: datetime | None = None
    if isinstance(state.get("checked_at"), str):
        try:
            checked = parse_gmt(state["checked_at"])
        except ValueError:
            checked = None
    if proven(conn) and checked is not None and now - checked < timedelta(seconds=BACKSTOP_S):
        return None
    if checked is None:
        return products_since
    return min(products_since, checked - timedelta(seconds=overlap_s))


def judge(conn: sqlite3.Connection, orders: list[Any], snapshot: datetime | None) -> Verdict:
    """Compare the orders' reduced lines with the till's copy of the items (call after the
    poll's products were applied)."""
    verdict = Verdict()
    settled_by = (
        format_gmt_cursor(snapshot - timedelta(seconds=COMMIT_LAG_S + 1))
        if snapshot is not None
        else None
    )
    for order in orders:
        if not isinstance(order, dict) or not isinstance(order.get("id"), int):
            continue
        created, modified = order.get("date_created_gmt"), order.get("date_modified_gmt")
        if not isinstance(created, str) or not isinstance(modified, str):
            continue
        holders = _reduced_holders(conn, order)
        if holders is None or not holders:
            continue  # nothing reduced, or an item the till does not know yet
        late = {h for h, (stamp, _items) in holders.items() if stamp < created}
        if not late:
            verdict.stamped.append(order["id"])
        elif settled_by is not None and modified <= settled_by:
            verdict.unstamped.append(order["id"])
            for holder in late:
                verdict.stale.add(holder)
                verdict.stale.update(holders[holder][1])
    return verdict


def _reduced_holders(
    conn: sqlite3.Connection, order: dict[str, Any]
) -> dict[int, tuple[str, set[int]]] | None:
    """Stock holder id -> (its local ``date_modified_gmt``, the sold items) for the lines
    that reduced stock; None when one of them is not in the till's catalog."""
    out: dict[int, tuple[str, set[int]]] = {}
    for line in order.get("line_items") or []:
        if not isinstance(line, dict) or not _reduced(line):
            continue
        sold = line.get("variation_id") or line.get("product_id")
        if not isinstance(sold, int) or sold <= 0:
            continue
        item = get_item(conn, sold)
        holder = get_item(conn, item.stock_item_id) if item is not None else None
        if item is None or holder is None:
            return None
        out.setdefault(holder.id, (holder.date_modified_gmt, set()))[1].add(sold)
    return out


def _reduced(line: dict[str, Any]) -> bool:
    return any(
        isinstance(m, dict) and m.get("key") == "_reduced_stock"
        for m in line.get("meta_data") or []
    )


def record(conn: sqlite3.Connection, verdict: Verdict, checked_at: datetime | None) -> None:
    """Keep what this orders window showed (call inside a write)."""
    state = _state(conn)
    proof = [i for i in state.get("proof") or [] if isinstance(i, int)]
    was = len(proof) >= PROOF_ORDERS
    if verdict.unstamped:
        if was or proof:
            log.warning(
                "order(s) %s reduced stock without marking the products changed: reading "
                "orders on every poll again", ", ".join(f"#{i}" for i in verdict.unstamped),
            )  # fmt: skip
        proof = []
    else:
        for order_id in verdict.stamped:
            if order_id not in proof:
                proof.append(order_id)
        proof = proof[-PROOF_ORDERS:]
        if not was and len(proof) >= PROOF_ORDERS:
            log.info(
                "web-shop sales mark their products changed on this store (orders %s): "
                "orders are read every %.0f s instead of every poll",
                ", ".join(f"#{i}" for i in proof), BACKSTOP_S,
            )  # fmt: skip
    state["proof"] = proof
    if checked_at is not None:
        state["checked_at"] = format_gmt_cursor(checked_at)
    set_json(conn, SIGNAL_KEY, state)
