"""Finding the copies of a sale that happen anyway (a held POST landing after a resend).

The outbox never resends before a lookup and a minimum age, yet an
overloaded host can still create an order later than any wait: the store
then holds one sale twice and stock was reduced twice. Two ways notice it:

* the ``order.created`` webhook (``note_created_order``): an order carrying
  this till's UUID meta whose id is not the one the till recorded;
* a periodic scan (``scan_for_copies``) of the orders the store created
  recently with ``created_via=onetill``, read with a few fields only, from a
  cursor in the store's time (less an overlap), grouped by the UUID meta.

Either way the sale is flagged for attention with every copy's number and
a discrepancy entry (``store.outbox.record_store_copies``); a copy of a sale
the till voided or saw refused is flagged too. Nothing is ever cancelled:
which copy goes, and the stock it took, is the merchant's call. Cancelled,
refunded, failed and trashed copies no longer count.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from onetill.store.db import Database
from onetill.store.orders import get_order
from onetill.store.outbox import clear_store_copies, flagged_orders, record_store_copies
from onetill.store.sync_state import get_state, set_state
from onetill.sync.outbox_payload import CREATED_VIA, META_UUID, meta_value
from onetill.woo import WooClient, format_gmt_cursor, parse_gmt

__all__ = ["SCAN_CURSOR", "note_created_order", "scan_for_copies"]

log = logging.getLogger("onetill.outbox")

# sync_state key: store time (naive UTC) from which the next scan reads.
SCAN_CURSOR = "orders.copies_scanned_at"
# Re-read this much before the cursor: the order list's `after` is strict and
# a copy created while the last scan ran must not fall between two scans.
OVERLAP = timedelta(minutes=10)
# A till that never scanned looks this far back.
FIRST_WINDOW = timedelta(days=1)
_GONE = frozenset({"cancelled", "refunded", "failed", "trash"})
_FIELDS = ("id", "number", "status", "meta_data")


def _clear_dealt_with(conn: Any, copies: dict[str, dict[int, str]], gone: set[int]) -> set[str]:
    """Flagged sales whose extra copies all show up gone now: cleared (returns their UUIDs)."""
    cleared: set[str] = set()
    for rec in flagged_orders(conn):
        expected = {rec.remote_id} if rec.remote_id and rec.state != "voided" else set()
        extra = set(rec.copies) - expected
        live = set(copies.get(rec.uuid, {})) - expected
        if extra and extra <= gone and not live:
            clear_store_copies(conn, rec.uuid)
            cleared.add(rec.uuid)
    return cleared


def _live(order: dict[str, Any]) -> bool:
    return isinstance(order.get("id"), int) and order.get("status") not in _GONE


def _flag(
    db: Database, copies: dict[str, dict[int, str]], cause: str, gone: set[int] | None = None
) -> list[str]:
    """Flag each known sale whose copies in the store are not what the till expects.

    A sale flagged before whose extra copies all show up cancelled, refunded
    or trashed (``gone``) is cleared: the merchant dealt with it.
    """
    flagged: list[str] = []
    with db.write() as conn:
        cleared = _clear_dealt_with(conn, copies, gone) if gone is not None else set()
        for uuid in [u for u in copies if u not in cleared]:
            found = copies[uuid]
            try:
                rec = get_order(conn, uuid, with_lines=False)
            except KeyError:
                continue  # not this till's sale (another till sharing the store)
            every = dict(found)
            if rec.remote_id is not None:  # the copy the till recorded, maybe outside the window
                every.setdefault(rec.remote_id, rec.remote_number or str(rec.remote_id))
            # Pending or in flight with one copy: the outbox's own lookup settles
            # it. Two copies at once are certain; any copy of a voided sale too.
            settled_absent = rec.state in ("voided", "failed")
            unexpected = bool(found) if settled_absent else len(every) > 1
            if unexpected and record_store_copies(conn, uuid, sorted(every.items()), cause):
                flagged.append(uuid)
    for uuid in flagged:
        log.error("the store holds sale %s where it should not: %s", uuid, sorted(copies[uuid]))
    return flagged


def note_created_order(db: Database, order: dict[str, Any]) -> list[str]:
    """An ``order.created`` delivery: flag it if it is a second copy of a known sale."""
    copies: dict[str, dict[int, str]] = {}
    _collect([order], copies)
    return _flag(db, copies, "webhook order.created") if copies else []


async def scan_for_copies(client: WooClient, db: Database) -> list[str]:
    """Read the till's recent orders in the store; flag sales held where they should not be.

    Returns the UUIDs flagged now. The cursor only moves once the whole scan
    was read (store time of its first answer), so a failure re-reads it.
    """
    with db.lock:
        cursor = get_state(db.conn, SCAN_CURSOR)
    params: dict[str, Any] = {"created_via": CREATED_VIA, "dates_are_gmt": "true",
                              "orderby": "date", "order": "asc"}  # fmt: skip
    started: datetime | None = None
    if cursor is not None:
        params["after"] = format_gmt_cursor(parse_gmt(cursor) - OVERLAP)
    elif (now := client.server_now()) is not None:
        params["after"] = format_gmt_cursor(now - FIRST_WINDOW)
    copies: dict[str, dict[int, str]] = {}
    gone: set[int] = set()
    async for page in client.paginate("orders", params, per_page=100, fields=_FIELDS):
        started = started or page.server_time
        _collect(page.items, copies, gone)
    for trashed in await _pages(client, {**params, "status": "trash"}):
        _collect(trashed, {}, gone)
    flagged = _flag(db, copies, "order scan", gone)
    if started is not None:
        with db.write() as conn:
            set_state(conn, SCAN_CURSOR, format_gmt_cursor(started))
    return flagged


def _collect(
    items: Iterable[Any], copies: dict[str, dict[int, str]], gone: set[int] | None = None
) -> None:
    for order in items:
        if not isinstance(order, dict) or not isinstance(order.get("id"), int):
            continue
        uuid = meta_value(order, META_UUID)
        if not isinstance(uuid, str):
            continue
        if not _live(order):
            if gone is not None:
                gone.add(order["id"])
            continue
        copies.setdefault(uuid, {})[order["id"]] = str(order.get("number") or order["id"])


async def _pages(client: WooClient, params: dict[str, Any]) -> list[list[Any]]:
    return [p.items async for p in client.paginate("orders", params, per_page=100, fields=_FIELDS)]
