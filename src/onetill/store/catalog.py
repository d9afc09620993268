"""The local catalog: applying WooCommerce pages to the ``products`` table.

Every ``apply_*`` function runs inside the caller's ``db.write()``
transaction. Each item is checked and stored on its own: one the till
cannot take is named and taken off sale (``catalog_problems.py``) while the
rest of the page lands. Upserts are keyed by id and guarded by
``date_modified_gmt`` (an older copy never overwrites a newer one; the same
copy twice is harmless), which is what makes the delta sync's overlapping
re-reads safe; a stored date from a store clock that was ahead does not
guard anything (``trusted_until``), and a full pull takes every copy.

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
from onetill.store.catalog_problems import NOT_BROKEN, clear_problems, note_problem
from onetill.store.catalog_rows import (
    I_ID,
    I_MANAGE,
    I_MODIFIED,
    I_PARENT,
    I_RAW,
    I_STATUS,
    I_STORE_STOCK,
    I_TYPE,
    MAX_ID,
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
    "VARIATION_SELLABLE",
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
# An item whose latest copy was refused is not sold either (catalog_problems).
VARIATION_SELLABLE = (
    "UPDATE products SET sellable = (purchasable = 1 AND status = 'publish'"
    " AND COALESCE((SELECT p.status FROM products p WHERE p.id = products.parent_id), '')"
    f" = 'publish' AND {NOT_BROKEN}) WHERE type = 'variation' AND ({{where}})"
)


@dataclass
class ApplyResult:
    """What one ``apply_items`` call did."""

    applied: int = 0
    stale: int = 0  # older than the stored copy: ignored
    skipped: list[MalformedItem] = field(default_factory=list)  # refused, named, taken off sale
    ids: list[int] = field(default_factory=list)  # ids applied
    variable_parents: list[int] = field(default_factory=list)  # variable products applied


def stock_holder(item_id: int, parent_id: int, manage_stock: str) -> int:
    """The id whose stock counts for a row (``manage_stock`` as stored: '1'/'0'/'parent')."""
    return parent_id if manage_stock == "parent" else item_id


def _after(date: str, trusted_until: str | None) -> bool:
    """Whether ``date`` (naive UTC text) lies after the store's clock: it cannot be trusted."""
    return trusted_until is not None and date > trusted_until


def apply_items(
    conn: sqlite3.Connection,
    items: Iterable[Any],
    *,
    kind: str,
    cause: str,
    barcode_meta_key: str | None = None,
    parent_id: int | None = None,
    trusted_until: str | None = None,
    force: bool = False,
) -> ApplyResult:
    """Upsert WooCommerce product (``kind='product'``) or variation objects.

    Each object is checked and stored on its own: a malformed one is
    refused, named (log, discrepancies, ``catalog_problems``) and taken off
    sale, and the others are stored with their raw JSON. Call inside
    ``db.write()``.

    Dates: a copy older than the stored one is ignored, unless the stored
    date lies after ``trusted_until`` (naive UTC: the store's clock now,
    plus a little; a date after it came from a store clock that was ahead,
    and must not block the copies that follow) or ``force`` (a full pull:
    the store's copy, whatever its date). Either way the override is
    logged, and so is a copy dated after ``trusted_until``.
    """
    result = ApplyResult()
    rows: list[tuple[Any, ...]] = []
    refused: list[MalformedItem] = []
    children: dict[int, list[int]] = {}  # variable parent -> its variation ids
    for obj in items:
        try:
            rows.append(item_row(obj, kind, barcode_meta_key=barcode_meta_key, parent_id=parent_id))
        except MalformedItem as exc:
            refused.append(exc)
            continue
        listed = obj.get("variations")
        if obj.get("type") == "variable" and type(listed) is list:
            children[obj["id"]] = [v for v in listed if type(v) is int and 0 < v <= MAX_ID]
    # The same id twice in one batch (pages shifting under a listing): keep the newest.
    newest: dict[int, tuple[Any, ...]] = {}
    for row in rows:
        seen = newest.get(row[I_ID])
        if seen is None or row[I_MODIFIED] >= seen[I_MODIFIED]:
            newest[row[I_ID]] = row
        else:
            result.stale += 1
    rows = list(newest.values())
    known = [r[I_ID] for r in rows] + [
        e.object_id for e in refused if type(e.object_id) is int and 0 < e.object_id <= MAX_ID
    ]
    existing: dict[int, tuple[Any, str, Any]] = {
        r[0]: (r[1], r[2], r[3])
        for r in conn.execute(
            "SELECT id, stock_quantity, date_modified_gmt, store_stock_quantity FROM products"
            " WHERE id IN (SELECT value FROM json_each(?))",
            (msgspec.json.encode(known).decode(),),
        )
    } if known else {}  # fmt: skip
    for bad in refused:
        _refuse(conn, bad, existing, cause, trusted_until, force, result)
    if not rows:
        return result
    holders = [stock_holder(r[I_ID], r[I_PARENT], r[I_MANAGE]) for r in rows if r[I_MANAGE] != "0"]
    unsent = unsent_quantities(conn, holders) if holders else {}
    flying = in_flight_units(conn, holders) if holders else {}
    entries: list[tuple[tuple[Any, ...], list[tuple[Any, ...]]]] = []
    for row in rows:
        old = existing.get(row[I_ID])
        typ = row[I_TYPE] if row[I_TYPE] == "variation" else "product"
        notes: list[tuple[Any, ...]] = []  # discrepancies, written with the row
        if old is not None and row[I_MODIFIED] < old[1]:
            if not force and not _after(old[1], trusted_until):
                result.stale += 1
                continue
            why = ("the till's copy was dated after the store's clock"
                   if _after(old[1], trusted_until) else "a full sync takes the store's copy")
            notes.append((typ, row[I_ID], "date_modified_gmt", old[1], row[I_MODIFIED],
                          f"{cause}: {why}"))  # fmt: skip
        changed = old is None or old[1] != row[I_MODIFIED]
        if changed and _after(row[I_MODIFIED], trusted_until):
            log.warning("%s %s is dated %s, after the store's clock (%s): taken, and it will "
                        "not block later copies", typ, row[I_ID], row[I_MODIFIED], trusted_until)
            notes.append((typ, row[I_ID], "date_modified_gmt", old[1] if old else None,
                          row[I_MODIFIED], f"{cause}: dated after the store's clock"))
        store_stock = row[I_STORE_STOCK]
        local = store_stock
        holder = stock_holder(row[I_ID], row[I_PARENT], row[I_MANAGE])
        if store_stock is not None:
            local = store_stock - unsent.get(holder, 0)
        # A change the till's own in-flight sales explain is no disagreement.
        if (
            old is not None
            and old[0] != local
            and row[I_MANAGE] != "parent"
            and not explained(
                old[0], old[2], store_stock, unsent.get(holder, 0), flying.get(holder)
            )
        ):
            notes.append((typ, row[I_ID], "stock_quantity", old[0], local, cause))
        if changed and _REPLACED in row[I_RAW]:
            notes += _replaced(typ, row, cause)
        entries.append(((*row, local), notes))
    final = _store(conn, entries, kind, cause, result)
    result.ids = [r[I_ID] for r in final]
    result.variable_parents = [r[I_ID] for r in final if r[I_TYPE] == "variable"]
    clear_problems(conn, result.ids)
    _track_scheduled(conn, final)
    result.applied = len(final)
    variations = [r[I_ID] for r in final if r[I_TYPE] == "variation"]
    refresh_variation_sellable(conn, variation_ids=variations, parent_ids=result.variable_parents)
    if result.variable_parents:
        _propagate_parent_stock(conn, result.variable_parents)
        _unlist_missing_variations(conn, {p: children[p] for p in result.variable_parents
                                          if p in children})  # fmt: skip
    return result


# What a row the checks let through can still raise when bound (never "database is locked").
_ROW_FAILURES = (
    OverflowError, ValueError, sqlite3.IntegrityError, sqlite3.DataError, sqlite3.InterfaceError,
)  # fmt: skip
_REPLACED = "\ufffd"  # what invalid UTF-8 from the store became when decoded


def _store(
    conn: sqlite3.Connection,
    entries: list[tuple[tuple[Any, ...], list[tuple[Any, ...]]]],
    kind: str,
    cause: str,
    result: ApplyResult,
) -> list[tuple[Any, ...]]:
    """Write the rows (and their discrepancies); one that cannot be stored costs only itself."""
    try:
        # No savepoint on the fast path (it costs a statement journal): rows
        # written before a failing one are upserted again, unchanged, below.
        conn.executemany(_INSERT, [row for row, _ in entries])
    except _ROW_FAILURES:
        pass
    else:
        for _, notes in entries:
            for note in notes:
                log_discrepancy(conn, *note)
        return [row for row, _ in entries]
    stored: list[tuple[Any, ...]] = []
    for row, notes in entries:
        conn.execute("SAVEPOINT apply_item")
        try:
            conn.execute(_INSERT, row)
            for note in notes:
                log_discrepancy(conn, *note)
        except _ROW_FAILURES as exc:
            conn.execute("ROLLBACK TO apply_item")
            conn.execute("RELEASE apply_item")
            failed = MalformedItem(kind, row[I_ID], "(row)", f"could not be stored: {exc}")
            note_problem(conn, kind, row[I_ID], "(row)", None, failed.problem, cause)
            result.skipped.append(failed)
            continue
        conn.execute("RELEASE apply_item")
        stored.append(row)
    return stored


def _refuse(
    conn: sqlite3.Connection,
    exc: MalformedItem,
    existing: dict[int, tuple[Any, str, Any]],
    cause: str,
    trusted_until: str | None,
    force: bool,
    result: ApplyResult,
) -> None:
    """A copy that cannot be stored: named, and its item taken off sale until a good one."""
    old = existing.get(exc.object_id) if type(exc.object_id) is int else None
    if (
        old is not None and exc.modified is not None and exc.modified < old[1]
        and not force and not _after(old[1], trusted_until)
    ):  # fmt: skip
        result.stale += 1  # an older copy, broken or not, changes nothing
        return
    note_problem(conn, exc.kind, exc.object_id, exc.field, exc.value, exc.problem, cause)
    result.skipped.append(exc)


def _replaced(typ: str, row: tuple[Any, ...], cause: str) -> list[tuple[Any, ...]]:
    """Discrepancies naming the fields where invalid UTF-8 was replaced (U+FFFD)."""
    notes: list[tuple[Any, ...]] = []
    obj = msgspec.json.decode(row[I_RAW])
    for key, value in obj.items() if isinstance(obj, dict) else ():
        text = value if isinstance(value, str) else msgspec.json.encode(value).decode()
        if _REPLACED in text:
            shown = text if len(text) <= 43 else text[:40] + "..."
            log.warning("%s %s: field %r held invalid UTF-8 (shown as U+FFFD): %r",
                        typ, row[I_ID], key, shown)  # fmt: skip
            notes.append((typ, row[I_ID], key, None, shown,
                          f"{cause}: the store sent invalid UTF-8, shown as U+FFFD"))  # fmt: skip
    return notes


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
            VARIATION_SELLABLE.format(where="id IN (SELECT value FROM json_each(?))"),
            (msgspec.json.encode(list(variation_ids)).decode(),),
        )
    if parent_ids:
        conn.execute(
            VARIATION_SELLABLE.format(where="parent_id IN (SELECT value FROM json_each(?))"),
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
    clear_problems(conn, removed)
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
