"""Reading stock back from WooCommerce: the store wins, minus the till's unsent sales.

``refresh_stock`` asks only for the stock fields of the given items, with
comma ``include`` lists (``include[]=`` breaks OAuth signatures) and
``_fields`` (a 100-product page shrinks from ~200 KB to ~10 KB). Variations
are not in ``/products`` listings: they come from the global ``/variations``
(WooCommerce 10.3+) or from their parent's ``/products/{id}/variations``.
A variation whose stock is managed by its parent (``manage_stock:
"parent"``) sells from the parent, so the parent is read too.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable
from typing import Any

from onetill.store import Database
from onetill.store.catalog import stock_holder
from onetill.store.catalog_problems import note_problem
from onetill.store.catalog_rows import MAX_ID, MAX_STOCK
from onetill.store.discrepancies import log_discrepancy
from onetill.store.orders import unsent_quantities
from onetill.store.own_sales import explained, in_flight_units
from onetill.woo import WooClient
from onetill.woo.errors import NoRouteError
from onetill.woo.store_clock import StoreClock

__all__ = ["STOCK_FIELDS", "apply_stock", "order_item_ids", "refresh_stock"]

log = logging.getLogger("onetill.sync")

STOCK_FIELDS = "id,parent_id,type,manage_stock,stock_quantity,stock_status,date_modified_gmt"
_CHUNK = 100  # per_page maximum, so one request per 100 ids


async def refresh_stock(
    client: WooClient,
    db: Database,
    item_ids: Iterable[int],
    cause: str,
    *,
    global_variations: bool = True,
) -> dict[int, int | None]:
    """Take WooCommerce's stock for ``item_ids``; returns id -> local stock now shown.

    Every local value the store overrides is logged with ``cause``.
    """
    wanted = sorted({int(i) for i in item_ids if int(i) > 0})
    if not wanted:
        return {}
    with db.lock:
        known = {
            r[0]: (r[1], r[2], r[3])
            for r in db.conn.execute(
                "SELECT id, type, parent_id, manage_stock FROM products"
                " WHERE id IN (SELECT value FROM json_each(?))",
                (_json_list(wanted),),
            )
        }
    products: set[int] = set()
    variations: dict[int, set[int]] = {}  # parent -> variation ids
    for iid in wanted:
        row = known.get(iid)
        if row is None or row[0] != "variation":
            products.add(iid)  # unknown ids are asked for as products
            continue
        variations.setdefault(row[1], set()).add(iid)
        if row[2] == "parent":
            products.add(row[1])
    objects: list[Any] = []
    clock = StoreClock()
    for chunk in _chunks(sorted(products)):
        objects += await _get_list(client, "products", chunk, clock)
    var_ids = sorted(v for vs in variations.values() for v in vs)
    if var_ids:
        if global_variations:
            try:
                for chunk in _chunks(var_ids):
                    objects += await _get_list(client, "variations", chunk, clock)
            except NoRouteError:
                global_variations = False
        if not global_variations:
            for parent, vs in sorted(variations.items()):
                for chunk in _chunks(sorted(vs)):
                    path = f"products/{parent}/variations"
                    found = await _get_list(client, path, chunk, clock)
                    objects += [{"parent_id": parent, **o} for o in found if isinstance(o, dict)]
    with db.write() as conn:
        return apply_stock(conn, objects, cause, trusted_until=clock.trusted_until())


def order_item_ids(order: dict[str, Any]) -> list[int]:
    """Product and variation ids on an order's lines (0 and junk dropped): the
    items whose stock an order changed."""
    ids: set[int] = set()
    for line in order.get("line_items") or []:
        if not isinstance(line, dict):
            continue
        for key in ("product_id", "variation_id"):
            value = line.get(key)
            if type(value) is int and 0 < value <= MAX_ID:
                ids.add(value)
    return sorted(ids)


async def _get_list(client: WooClient, path: str, ids: list[int], clock: StoreClock) -> list[Any]:
    params = {"include": _comma(ids), "_fields": STOCK_FIELDS, "per_page": _CHUNK}
    response = await client.get(path, params)
    clock.observe(response.server_time)
    return response.data if isinstance(response.data, list) else []


def apply_stock(
    conn: sqlite3.Connection,
    objects: Iterable[Any],
    cause: str,
    *,
    trusted_until: str | None = None,
) -> dict[int, int | None]:
    """Store the stock fields of ``objects`` (trimmed product/variation JSON); call in a write.

    An answer older than the stored row (by ``date_modified_gmt``) is
    ignored, unless the stored date lies after ``trusted_until`` (a store
    clock that was ahead wrote it); unknown ids are ignored (the delta sync
    brings them whole). An answer with unusable stock fields is named and
    takes its item off sale (``catalog_problems``).
    """
    rows: dict[int, tuple[Any, ...]] = {}
    for obj in objects:
        parsed = _stock_fields(conn, obj, cause)
        if parsed is not None:
            rows[parsed[0]] = parsed
    if not rows:
        return {}
    existing = {
        r[0]: r[1:]
        for r in conn.execute(
            "SELECT id, type, parent_id, stock_quantity, date_modified_gmt, store_stock_quantity"
            " FROM products WHERE id IN (SELECT value FROM json_each(?))",
            (_json_list(rows),),
        )
    }
    holders = [stock_holder(i, existing[i][1], r[1]) for i, r in rows.items() if i in existing]
    unsent = unsent_quantities(conn, holders)
    flying = in_flight_units(conn, holders)
    out: dict[int, int | None] = {}
    parents: list[int] = []
    for iid, (_, manage, store_stock, stock_status, modified) in rows.items():
        old = existing.get(iid)
        if old is None:
            continue
        future = trusted_until is not None and old[3] > trusted_until
        if modified is not None and modified < old[3] and not future:
            continue
        typ, parent, old_local, old_store = old[0], old[1], old[2], old[4]
        holder = stock_holder(iid, parent, manage)
        local = None
        if store_stock is not None and manage != "0":
            local = store_stock - unsent.get(holder, 0)
        # A change the till's own in-flight sales explain is no disagreement.
        own = explained(
            old_local, old_store, store_stock, unsent.get(holder, 0), flying.get(holder)
        )
        if old_local != local and manage != "parent" and not own:
            kind = "variation" if typ == "variation" else "product"
            log_discrepancy(conn, kind, iid, "stock_quantity", old_local, local, cause)
        # The row takes the answer's date too: a whole copy read earlier (a delta
        # page fetched before this sale reached the store) is then older and
        # ignored instead of bringing back stock that is already sold. A copy
        # of the same second or newer is still taken whole.
        conn.execute(
            "UPDATE products SET manage_stock = ?, store_stock_quantity = ?, stock_quantity = ?,"
            " stock_status = ?, date_modified_gmt = MAX(date_modified_gmt, COALESCE(?, ''))"
            " WHERE id = ?",
            (manage, store_stock if manage != "0" else None, local, stock_status, modified, iid),
        )
        out[iid] = local
        if typ == "variable":
            parents.append(iid)
    if parents:
        # Variations selling from the parent's stock show the parent's numbers.
        conn.execute(
            "UPDATE products SET stock_quantity = p.stock_quantity,"
            " store_stock_quantity = p.store_stock_quantity, stock_status = p.stock_status"
            " FROM products AS p WHERE products.parent_id = p.id"
            " AND products.manage_stock = 'parent' AND p.id IN (SELECT value FROM json_each(?))",
            (_json_list(parents),),
        )
    return out


def _stock_fields(
    conn: sqlite3.Connection, obj: Any, cause: str
) -> tuple[int, str, int | None, str, str | None] | None:
    """The stock fields of one trimmed object, or None (named) when they are malformed."""
    iid = obj.get("id") if isinstance(obj, dict) else None
    if type(iid) is not int or not 0 < iid <= MAX_ID:
        log.error("stock answer without a usable id (%.60r); skipped", obj)
        return None
    manage, stock = obj.get("manage_stock"), obj.get("stock_quantity")
    status, modified = obj.get("stock_status"), obj.get("date_modified_gmt")
    manage_text = "1" if manage is True else "0" if manage is False else None
    if manage == "parent":
        manage_text = "parent"
    problem = None
    if manage_text is None:
        problem = ("manage_stock", manage)
    elif stock is not None and (type(stock) is not int or abs(stock) > MAX_STOCK):
        problem = ("stock_quantity", stock)
    elif type(status) is not str:
        problem = ("stock_status", status)
    if problem is not None:
        field, value = problem
        text = repr(value) if not isinstance(value, int) or abs(value) < 10**40 else "(huge)"
        kind = "variation" if obj.get("type") == "variation" else "product"
        note_problem(conn, kind, iid, field, text[:40], f"has an unusable value {text[:40]}",
                     cause)  # fmt: skip
        return None
    assert manage_text is not None
    return iid, manage_text, stock, str(status), modified if type(modified) is str else None


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]


def _comma(ids: Iterable[int]) -> str:
    return ",".join(str(i) for i in ids)


def _json_list(ids: Iterable[int]) -> str:
    return "[" + _comma(ids) + "]"
