"""The invariants, checked once the run has settled.

Each check returns a list of problems (empty: it holds), each a sentence a
person can act on, naming the sale or item.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

__all__ = [
    "UUID_KEY",
    "check_catalog",
    "check_database",
    "check_failed_visible",
    "check_no_rows_deleted",
    "check_sales",
    "check_stock",
    "store_uuid",
]

UUID_KEY = "_onetill_order_uuid"
SYNCED = ("synced", "synced_with_discrepancy")


def store_uuid(order: dict[str, Any]) -> str | None:
    for meta in order.get("meta_data") or []:
        if meta.get("key") == UUID_KEY:
            return str(meta.get("value"))
    return None


def local_orders(db_path: Path) -> dict[str, dict[str, Any]]:
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        rows = conn.execute(
            "SELECT o.uuid, o.state, o.remote_id, o.discrepancy, o.created_at, o.synced_at,"
            " x.last_error FROM orders o JOIN outbox x ON x.order_uuid = o.uuid"
        ).fetchall()
        lines = conn.execute(
            "SELECT order_uuid, stock_item_id, quantity FROM order_lines"
        ).fetchall()
    finally:
        conn.close()
    out = {r["uuid"]: dict(r) | {"lines": []} for r in rows}
    for line in lines:
        out[line["order_uuid"]]["lines"].append((line["stock_item_id"], line["quantity"]))
    return out


def check_sales(
    local: dict[str, dict[str, Any]],
    store_orders: list[dict[str, Any]],
    acknowledged: dict[str, float],
) -> tuple[list[str], int, int]:
    """Every local sale in the store exactly once; nothing in the store the till did not sell.

    Returns (problems, lost, duplicated).
    """
    problems: list[str] = []
    counts = Counter(u for u in (store_uuid(o) for o in store_orders) if u is not None)
    lost = duplicated = 0
    for uuid in acknowledged:
        if uuid not in local:
            lost += 1
            problems.append(f"sale {uuid} was acknowledged to the cashier but is not on the till")
    for uuid, row in local.items():
        n = counts.get(uuid, 0)
        if row["state"] in SYNCED:
            if n == 0:
                lost += 1
                problems.append(f"sale {uuid} is {row['state']} on the till but not in the store")
        elif row["state"] == "failed":
            if n:
                problems.append(f"sale {uuid} is failed on the till but in the store {n} time(s)")
        else:
            lost += 1
            problems.append(
                f"sale {uuid} is still {row['state']} after the run settled "
                f"({row['last_error'] or 'no error recorded'})"
            )
        if n > 1:
            duplicated += 1
            problems.append(f"sale {uuid} is in the store {n} times")
    for uuid, n in counts.items():
        if uuid not in local:
            duplicated += 1
            problems.append(f"the store holds {n} order(s) for {uuid}, which the till never sold")
    return problems, lost, duplicated


def check_stock(
    baseline: dict[int, int],
    final: dict[int, int | None],
    local: dict[str, dict[str, Any]],
    store_orders: list[dict[str, Any]],
    gone: set[int],
) -> list[str]:
    """The store's stock fell exactly once per unit sold, online and on the till."""
    sold: Counter[int] = Counter()
    for row in local.values():
        if row["state"] in SYNCED:
            for item_id, qty in row["lines"]:
                sold[item_id] += qty
    for order in store_orders:
        if order.get("created_via") != "checkout":
            continue
        for line in order.get("line_items") or []:
            sold[int(line.get("variation_id") or line.get("product_id"))] += int(line["quantity"])
    problems = []
    for item_id, start in sorted(baseline.items()):
        if item_id in gone:
            continue
        expected = start - sold[item_id]
        if final.get(item_id) != expected:
            problems.append(
                f"item {item_id}: store stock {final.get(item_id)}, expected {expected} "
                f"({start} at the start, {sold[item_id]} sold on both sides)"
            )
    return problems


def _money(value: Any) -> str:
    try:
        return str(Decimal(str(value)).normalize()) if value not in (None, "") else ""
    except InvalidOperation:
        return str(value)


_FIELDS = ("type", "status", "name", "sku", "price", "regular_price", "sale_price",
           "tax_status", "tax_class", "manage_stock", "stock_quantity", "parent_id")  # fmt: skip


def _store_view(obj: dict[str, Any]) -> dict[str, Any]:
    manage = obj.get("manage_stock")
    return {
        "type": obj.get("type"),
        "status": obj.get("status"),
        "name": obj.get("name") if obj.get("type") != "variation" else None,
        "sku": obj.get("sku") or "",
        "price": _money(obj.get("price")),
        "regular_price": _money(obj.get("regular_price")),
        "sale_price": _money(obj.get("sale_price")),
        "tax_status": obj.get("tax_status"),
        "tax_class": obj.get("tax_class") or "",
        "manage_stock": "parent" if manage == "parent" else ("1" if manage else "0"),
        "stock_quantity": obj.get("stock_quantity") if manage is True else None,
        "parent_id": int(obj.get("parent_id") or 0),
    }


def _local_view(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "type": row["type"],
        "status": row["status"],
        "name": row["name"] if row["type"] != "variation" else None,
        "sku": row["sku"],
        "price": _money(row["price"]),
        "regular_price": _money(row["regular_price"]),
        "sale_price": _money(row["sale_price"]),
        "tax_status": row["tax_status"],
        "tax_class": row["tax_class"],
        "manage_stock": row["manage_stock"],
        "stock_quantity": row["stock_quantity"] if row["manage_stock"] == "1" else None,
        "parent_id": row["parent_id"],
    }


def check_catalog(
    db_path: Path, store_items: dict[int, dict[str, Any]], store_taxes: list[dict[str, Any]]
) -> list[str]:
    """The till's catalog equals the store's on every field the till uses."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        rows = {r["id"]: r for r in conn.execute("SELECT * FROM products")}
        taxes = {r["id"]: r["rate"] for r in conn.execute("SELECT id, rate FROM tax_rates")}
    finally:
        conn.close()
    problems = []
    for item_id, obj in sorted(store_items.items()):
        row = rows.get(item_id)
        if row is None:
            problems.append(
                f"item {item_id} ({obj.get('status')}) is in the store, not on the till"
            )
            continue
        mine, theirs = _local_view(row), _store_view(obj)
        diff = [
            f"{k}: till {mine[k]!r}, store {theirs[k]!r}" for k in _FIELDS if mine[k] != theirs[k]
        ]
        if diff:
            problems.append(f"item {item_id}: " + "; ".join(diff))
    for item_id, row in rows.items():
        if item_id not in store_items and row["sellable"]:
            problems.append(f"item {item_id} is gone from the store but still sellable on the till")
    for rate in store_taxes:
        if _money(taxes.get(rate["id"])) != _money(rate.get("rate")):
            problems.append(
                f"tax rate {rate['id']}: till {taxes.get(rate['id'])!r}, store {rate.get('rate')!r}"
            )
    return problems


def check_failed_visible(orders_failed_json: str) -> list[str]:
    """Every order needing attention is listed by `onetill orders --failed` with a reason."""
    problems = []
    for row in json.loads(orders_failed_json or "[]"):
        if not (row.get("last_error") or row.get("discrepancy")):
            problems.append(f"order {row.get('uuid')} is {row.get('state')} with no reason shown")
    return problems


def check_no_rows_deleted(seen: set[str], local: dict[str, dict[str, Any]]) -> list[str]:
    return [
        f"sale {u} was on the till earlier and has been deleted" for u in sorted(seen - set(local))
    ]


def check_database(home: Path) -> list[str]:
    """integrity_check ok; WAL and synchronous=FULL on a connection the till opens."""
    from onetill.store import open_database

    problems = []
    with open_database(home) as db:
        check = db.conn.execute("PRAGMA integrity_check").fetchall()
        mode = db.conn.execute("PRAGMA journal_mode").fetchone()[0]
        sync = db.conn.execute("PRAGMA synchronous").fetchone()[0]
        fk = db.conn.execute("PRAGMA foreign_key_check").fetchall()
    if [tuple(r) for r in check] != [("ok",)]:
        problems.append(f"{home.name}: integrity_check says {[tuple(r) for r in check][:5]}")
    if str(mode).lower() != "wal":
        problems.append(f"{home.name}: journal_mode is {mode}, not wal")
    if int(sync) != 2:
        problems.append(f"{home.name}: synchronous is {sync}, not FULL (2)")
    if fk:
        problems.append(f"{home.name}: foreign key violations {[tuple(r) for r in fk][:5]}")
    return problems
