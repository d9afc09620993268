"""The local catalog: applying WooCommerce pages to the ``products`` table.

Every ``apply_*`` function runs inside the caller's ``db.write()``
transaction, so a page is stored whole or not at all. Upserts are keyed by
id and guarded by ``date_modified_gmt`` (an older copy never overwrites a
newer one; the same copy twice is harmless), which is what makes the delta
sync's overlapping re-reads safe.

Stock: the till shows ``stock_quantity`` = the store's stock minus the units
of sales not yet uploaded (``orders.unsent_quantities``); WooCommerce wins
over everything else, and every stock value it overrides is logged, unless
the till's own in-flight sales explain the change (``own_sales.py``).

The till's lookups (``CatalogItem``, ``get_item``, ``search``, ...) are in
``catalog_lookup.py`` and re-exported here.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from onetill.store.catalog_lookup import (
    CatalogItem,
    find_by_barcode,
    find_by_sku,
    get_item,
    lookup,
    search,
)
from onetill.store.catalog_rows import (
    I_ID,
    I_MANAGE,
    I_MODIFIED,
    I_PARENT,
    I_STATUS,
    I_STORE_STOCK,
    I_TYPE,
    ROW_COLUMNS,
    MalformedItem,
    item_row,
)
from onetill.store.discrepancies import log_discrepancy
from onetill.store.orders import unsent_quantities
from onetill.store.own_sales import explained, in_flight_units
from onetill.store.sync_state import get_json, set_json

__all__ = [
    "FUTURE_IDS",
    "ApplyResult",
    "CatalogItem",
    "all_item_ids",
    "apply_items",
    "count_items",
    "delete_items",
    "find_by_barcode",
    "find_by_sku",
    "get_item",
    "lookup",
    "refresh_variation_sellable",
    "scheduled_ids",
    "search",
    "stock_holder",
]

log = logging.getLogger("onetill.catalog")
# sync_state key: ids of scheduled ("future") products, so that the poll can
# find them without scanning the whole products table (no index on status).
FUTURE_IDS = "catalog.future_ids"

_INSERT = (
    f"INSERT INTO products ({', '.join(ROW_COLUMNS)}, stock_quantity)"
    f" VALUES ({', '.join('?' * (len(ROW_COLUMNS) + 1))})"
    " ON CONFLICT(id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in (*ROW_COLUMNS[1:], "stock_quantity"))
)

# A variation is sellable when its own row says so *and* its parent is
# published: WooCommerce makes a variation unpurchasable when the parent is not.
_VARIATION_SELLABLE = (
    "UPDATE products SET sellable = (purchasable = 1 AND status = 'publish'"
    " AND COALESCE((SELECT p.status FROM products p WHERE p.id = products.parent_id), '')"
    " = 'publish') WHERE type = 'variation' AND ({where})"
)


@dataclass
class ApplyResult:
    """What one ``apply_items`` call did."""

    applied: int = 0
    stale: int = 0  # older than the stored copy: ignored
    skipped: list[MalformedItem] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)  # ids applied
    variable_parents: list[int] = field(default_factory=list)  # variable products applied


def stock_holder(item_id: int, parent_id: int, manage_stock: str) -> int:
    """The id whose stock counts for a row (``manage_stock`` as stored: '1'/'0'/'parent')."""
    return parent_id if manage_stock == "parent" else item_id


def apply_items(
    conn: sqlite3.Connection,
    items: Iterable[Any],
    *,
    kind: str,
    cause: str,
    barcode_meta_key: str | None = None,
    parent_id: int | None = None,
) -> ApplyResult:
    """Upsert WooCommerce product (``kind='product'``) or variation objects.

    Malformed objects are skipped and logged (id and field); the others are
    stored with their raw JSON. Call inside ``db.write()``.
    """
    result = ApplyResult()
    rows: list[tuple[Any, ...]] = []
    children: dict[int, list[int]] = {}  # variable parent -> its variation ids
    for obj in items:
        try:
            rows.append(item_row(obj, kind, barcode_meta_key=barcode_meta_key, parent_id=parent_id))
        except MalformedItem as exc:
            log.error("%s", exc)
            result.skipped.append(exc)
            continue
        listed = obj.get("variations")
        if obj.get("type") == "variable" and type(listed) is list:
            children[obj["id"]] = [v for v in listed if type(v) is int]
    if not rows:
        return result
    # The same id twice in one batch (pages shifting under a listing): keep the newest.
    newest: dict[int, tuple[Any, ...]] = {}
    for row in rows:
        seen = newest.get(row[I_ID])
        if seen is None or row[I_MODIFIED] >= seen[I_MODIFIED]:
            newest[row[I_ID]] = row
        else:
            result.stale += 1
    rows = list(newest.values())
    ids = [r[I_ID] for r in rows]
    marks = ",".join("?" * len(ids))
    existing = {
        r[0]: (r[1], r[2], r[3])
        for r in conn.execute(
            "SELECT id, stock_quantity, date_modified_gmt, store_stock_quantity FROM products"
            f" WHERE id IN ({marks})",
            ids,
        )
    }
    holders = [stock_holder(r[I_ID], r[I_PARENT], r[I_MANAGE]) for r in rows if r[I_MANAGE] != "0"]
    unsent = unsent_quantities(conn, holders) if holders else {}
    flying = in_flight_units(conn, holders) if holders else {}
    final: list[tuple[Any, ...]] = []
    for row in rows:
        old = existing.get(row[I_ID])
        if old is not None and row[I_MODIFIED] < old[1]:
            result.stale += 1
            continue
        store_stock = row[I_STORE_STOCK]
        local = store_stock
        holder = stock_holder(row[I_ID], row[I_PARENT], row[I_MANAGE])
        if store_stock is not None:
            local = store_stock - unsent.get(holder, 0)
        if (
            old is not None
            and old[0] != local
            and row[I_MANAGE] != "parent"
            and not explained(
                old[0], old[2], store_stock, unsent.get(holder, 0), flying.get(holder)
            )
        ):
            log_discrepancy(
                conn, row[I_TYPE] if row[I_TYPE] == "variation" else "product",
                row[I_ID], "stock_quantity", old[0], local, cause,
            )  # fmt: skip
        final.append((*row, local))
        result.ids.append(row[I_ID])
        if row[I_TYPE] == "variable":
            result.variable_parents.append(row[I_ID])
    conn.executemany(_INSERT, final)
    _track_scheduled(conn, final)
    result.applied = len(final)
    variations = [r[I_ID] for r in final if r[I_TYPE] == "variation"]
    refresh_variation_sellable(conn, variation_ids=variations, parent_ids=result.variable_parents)
    if result.variable_parents:
        _propagate_parent_stock(conn, result.variable_parents)
        _unlist_missing_variations(conn, {p: children[p] for p in result.variable_parents
                                          if p in children})  # fmt: skip
    return result


def _unlist_missing_variations(conn: sqlite3.Connection, children: dict[int, list[int]]) -> None:
    # A force-deleted variation leaves no trace in any listing, but its parent
    # is saved with a shorter ``variations`` list (WooCommerce bumps the
    # parent). Stop selling what the list no longer names; the ID audit
    # removes the row. A variation that does exist sells again when it is
    # next applied.
    for parent, listed in children.items():
        conn.execute(
            "UPDATE products SET sellable = 0 WHERE parent_id = ? AND type = 'variation'"
            " AND sellable = 1 AND id NOT IN (SELECT value FROM json_each(?))",
            (parent, msgspec.json.encode(listed).decode()),
        )


def _track_scheduled(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    future = {r[I_ID] for r in rows if r[I_STATUS] == "future"}
    known: list[int] | None = get_json(conn, FUTURE_IDS)
    if known is None:
        return  # not tracked yet: scheduled_ids() starts from a full scan
    now = (set(known) - {r[I_ID] for r in rows}) | future
    if now != set(known):
        set_json(conn, FUTURE_IDS, sorted(now))


def scheduled_ids(conn: sqlite3.Connection, due_by: str) -> list[int]:
    """Scheduled ("future") products whose publish time (``date_created_gmt``) is at or
    before ``due_by`` (naive UTC). Call inside ``db.write()``: it keeps the tracked set."""
    known: list[int] | None = get_json(conn, FUTURE_IDS)
    if known is None:
        # Once per database: afterwards apply_items keeps the set up to date.
        rows = conn.execute("SELECT id FROM products WHERE status = 'future'").fetchall()
        known = [r[0] for r in rows]
    found = conn.execute(
        "SELECT id, json_extract(raw, '$.date_created_gmt') FROM products"
        " WHERE status = 'future' AND id IN (SELECT value FROM json_each(?)) ORDER BY id",
        (msgspec.json.encode(sorted(known)).decode(),),
    ).fetchall()
    if [r[0] for r in found] != sorted(known) or get_json(conn, FUTURE_IDS) is None:
        set_json(conn, FUTURE_IDS, [r[0] for r in found])
    return [r[0] for r in found if isinstance(r[1], str) and r[1] <= due_by]


def refresh_variation_sellable(
    conn: sqlite3.Connection,
    *,
    variation_ids: Sequence[int] = (),
    parent_ids: Sequence[int] = (),
) -> None:
    """Recompute ``sellable`` of the given variations and of all variations of the given parents."""
    if variation_ids:
        conn.execute(
            _VARIATION_SELLABLE.format(where="id IN (SELECT value FROM json_each(?))"),
            (msgspec.json.encode(list(variation_ids)).decode(),),
        )
    if parent_ids:
        conn.execute(
            _VARIATION_SELLABLE.format(where="parent_id IN (SELECT value FROM json_each(?))"),
            (msgspec.json.encode(list(parent_ids)).decode(),),
        )


def _propagate_parent_stock(conn: sqlite3.Connection, parent_ids: Sequence[int]) -> None:
    # A variation with manage_stock "parent" shows (and sells from) the parent's stock.
    conn.execute(
        "UPDATE products SET stock_quantity = p.stock_quantity,"
        " store_stock_quantity = p.store_stock_quantity, stock_status = p.stock_status"
        " FROM products AS p WHERE products.parent_id = p.id AND products.manage_stock = 'parent'"
        " AND p.id IN (SELECT value FROM json_each(?))",
        (msgspec.json.encode(list(parent_ids)).decode(),),
    )


def delete_items(conn: sqlite3.Connection, ids: Iterable[int], cause: str) -> list[int]:
    """Remove rows the store no longer has, logging each; returns the ids removed."""
    removed: list[int] = []
    for iid in ids:
        row = conn.execute("SELECT type, status FROM products WHERE id = ?", (iid,)).fetchone()
        if row is None:
            continue
        kind = "variation" if row[0] == "variation" else "product"
        log_discrepancy(conn, kind, iid, "existence", row[1], "deleted", cause)
        conn.execute("DELETE FROM products WHERE id = ?", (iid,))
        removed.append(iid)
    return removed


def count_items(conn: sqlite3.Connection) -> tuple[int, int]:
    """(products, variations) in the catalog, trash excluded."""
    row = conn.execute(
        "SELECT COALESCE(SUM(type != 'variation'), 0), COALESCE(SUM(type = 'variation'), 0)"
        " FROM products WHERE status != 'trash'"
    ).fetchone()
    return int(row[0]), int(row[1])


def all_item_ids(conn: sqlite3.Connection, *, variations: bool) -> set[int]:
    """Every stored product id (``variations=False``) or variation id."""
    op = "=" if variations else "!="
    return {r[0] for r in conn.execute(f"SELECT id FROM products WHERE type {op} 'variation'")}
