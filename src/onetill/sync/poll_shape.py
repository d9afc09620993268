"""Which product listings a delta poll asks for: one query for every status, or two.

WooCommerce facts (checked on the real store by ``tests/real/test_poll_shape_real.py``):

* The default ``status=any`` leaves trash out (WordPress's ``any`` skips the
  statuses excluded from search), so trashed products needed a second query
  with ``status=trash``.
* Since WooCommerce 9.6 ``/products`` takes ``include_status`` (a comma list,
  taking precedence over ``status``). ``include_status=any,trash`` is
  ``any`` plus trash: WordPress excludes the search-excluded statuses from
  ``any`` only when they are not named too. One query then returns what the
  two returned, in the same order (``orderby=id``). A trashed product stays in
  that listing, so trashing no longer slides items between its pages.
* Older versions ignore an unknown parameter (the answer would silently be
  ``any``, without trash), so support is tested, never assumed: an invalid
  value (``include_status=onetill-probe``) is ``400 rest_invalid_param``
  naming ``include_status`` where it is understood, and a plain ``200`` where
  it is not. The answer is kept in ``sync_state`` and asked again every
  ``RECHECK_S`` of store time (a store moved to an older version must not go
  unnoticed for long), one tiny request an hour.

``read_poll`` makes one poll's listings at once: the products query (or two)
and, when ``sale_signal`` says it is due, the orders window.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from onetill.store import Database
from onetill.store.sync_state import get_json, set_json
from onetill.sync.poll_window import format_window, read_listing
from onetill.sync.sale_signal import ORDER_FIELDS
from onetill.woo import Page, WooClient, format_gmt_cursor, parse_gmt
from onetill.woo.errors import WooAPIError

__all__ = [
    "FOLDED_STATUS",
    "RECHECK_S",
    "SUPPORT_KEY",
    "fold_trash",
    "product_queries",
    "read_poll",
    "read_products",
]

SUPPORT_KEY = "catalog.include_status"
RECHECK_S = 3600.0
FOLDED_STATUS = "any,trash"
_PROBE_VALUE = "onetill-probe"


def product_queries(window: dict[str, str], folded: bool) -> list[dict[str, str]]:
    """The ``/products`` queries of one poll: every status in one, or ``any`` and ``trash``."""
    if folded:
        return [{**window, "include_status": FOLDED_STATUS}]
    return [dict(window), {**window, "status": "trash"}]


async def fold_trash(client: WooClient, db: Database, now: datetime | None) -> bool:
    """Whether this store lists trash with the rest (``include_status``); asks the store
    when it was never asked, or ``RECHECK_S`` ago by the store's clock (``now``)."""
    with db.lock:
        known: Any = get_json(db.conn, SUPPORT_KEY, None)
    usable = isinstance(known, dict) and isinstance(known.get("supported"), bool)
    if usable and (now is None or _younger(known.get("checked_at"), now)):
        return bool(known["supported"])
    supported = await _probe(client)
    with db.write() as conn:
        set_json(conn, SUPPORT_KEY, {
            "supported": supported,
            "checked_at": format_gmt_cursor(now) if now is not None else None,
        })  # fmt: skip
    return supported


def _younger(checked: object, now: datetime) -> bool:
    if not isinstance(checked, str):
        return False
    try:
        return now - parse_gmt(checked) < timedelta(seconds=RECHECK_S)
    except ValueError:
        return False


async def _probe(client: WooClient) -> bool:
    try:
        await client.get(
            "products", {"include_status": _PROBE_VALUE, "per_page": 1, "_fields": "id"}
        )
    except WooAPIError as exc:
        params = exc.data.get("params") if isinstance(exc.data, dict) else None
        if exc.status == 400 and isinstance(params, dict) and "include_status" in params:
            return True
        raise
    return False


async def read_products(
    client: WooClient, window: dict[str, str], folded: bool
) -> tuple[list[Page], list[Page], list[tuple[datetime | None, float | None]]]:
    """The changed products (and, unless ``folded``, the trashed ones separately)."""
    listings = await asyncio.gather(
        *(read_listing(client, "products", q) for q in product_queries(window, folded))
    )
    trashed = listings[1].pages if len(listings) > 1 else []
    return listings[0].pages, trashed, [listing.first for listing in listings]


async def read_poll(
    client: WooClient, start: datetime, folded: bool, orders_from: datetime | None
) -> tuple[list[Page], list[Page], list[Page], list[tuple[datetime | None, float | None]]]:
    """One poll's listings, all at once: products (one query or two) and, when due, orders."""
    window = format_window(start)
    if orders_from is None:
        changed, trashed, firsts = await read_products(client, window, folded)
        return changed, trashed, [], firsts
    orders_window = {**window, "modified_after": format_gmt_cursor(orders_from)}
    (changed, trashed, firsts), orders = await asyncio.gather(
        read_products(client, window, folded),
        read_listing(client, "orders", orders_window, fields=ORDER_FIELDS),
    )
    return changed, trashed, orders.pages, [*firsts, orders.first]
