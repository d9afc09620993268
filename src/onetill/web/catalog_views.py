"""What the sell screen shows of the catalog: tiles by category, search, variations.

Reads the till's local catalog only (it works offline). A tile is a simple
product or a variation (sold directly) or a variable product (opens its
variations). Prices are the ones a sale would charge now
(``pos.prices.current_price``: sale windows decided at this moment, in the
store's timezone); stock is the till's view (store stock minus unsent sales).
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from onetill.pos.cart import raw_sale_dates
from onetill.pos.prices import PriceError, current_price
from onetill.store.catalog import lookup, search
from onetill.web.money import MoneyFormat

__all__ = ["LOW_STOCK", "categories", "grid", "search_tiles", "tile_for", "variations"]

# At or below this many units a tile says "low" (WooCommerce's default notify amount is 2).
LOW_STOCK = 5
_COLUMNS = (
    "id, parent_id, type, status, name, sku, barcode, price, regular_price, sale_price,"
    " sale_from_gmt, sale_to_gmt, manage_stock, stock_quantity, stock_status, backorders,"
    " categories, sellable"
)


def _price_view(row: sqlite3.Row) -> dict[str, Any]:
    """What ``current_price`` reads, from a row selected with ``raw``."""
    view = {k: row[k] for k in ("price", "regular_price", "sale_price", "sale_from_gmt",
                                 "sale_to_gmt")}  # fmt: skip
    if row["sale_price"] and not (row["sale_from_gmt"] or row["sale_to_gmt"]):
        # A sale window may be known only as site-local dates: read them from the raw object.
        dates = raw_sale_dates(row["raw"])
        if dates is not None:
            view["raw_dates"] = dates
    return view


def _price(row: sqlite3.Row, now: datetime, timezone: str) -> Decimal | None:
    try:
        return current_price(_price_view(row), now, timezone)
    except PriceError:
        return None


def _stock(row: sqlite3.Row, parent: sqlite3.Row | None = None) -> dict[str, Any]:
    """Stock as a tile shows it: a number when managed, else in/out of stock."""
    holder = parent if row["manage_stock"] == "parent" and parent is not None else row
    managed = holder["manage_stock"] == "1"
    qty = holder["stock_quantity"] if managed else None
    if managed:
        count = int(qty or 0)
        if count <= 0:
            state = "backorder" if holder["backorders"] != "no" else "out"
            text = "Out of stock" if state == "out" else f"{count} · backorders allowed"
        else:
            state = "low" if count <= LOW_STOCK else "in"
            text = f"{count} in stock"
    else:
        state = {"outofstock": "out", "onbackorder": "backorder"}.get(holder["stock_status"], "in")
        text = {"out": "Out of stock", "backorder": "On backorder"}.get(state, "In stock")
    return {"stock": qty, "stock_state": state, "stock_text": text}


def tile_for(
    row: sqlite3.Row,
    fmt: MoneyFormat,
    now: datetime,
    timezone: str,
    parent: sqlite3.Row | None = None,
) -> dict[str, Any]:
    """One sellable item (simple product or variation) as the grid shows it."""
    price = _price(row, now, timezone)
    name = str(row["name"])
    if parent is not None and parent["name"] and not name.startswith(str(parent["name"])):
        name = f"{parent['name']} - {name}"
    regular = row["regular_price"] or None
    on_sale = price is not None and regular is not None and price < Decimal(str(regular))
    return {
        "id": int(row["id"]),
        "kind": str(row["type"]),
        "name": name,
        "sku": str(row["sku"]),
        "barcode": str(row["barcode"]),
        "price": None if price is None else str(price),
        "price_text": "no price" if price is None else fmt.format(price),
        "regular_text": fmt.format(regular) if on_sale else "",
        "on_sale": on_sale,
        **_stock(row, parent),
    }


def _variable_tiles(
    conn: sqlite3.Connection, parents: list[sqlite3.Row], fmt: MoneyFormat, now: datetime,
    timezone: str,
) -> dict[int, dict[str, Any]]:
    if not parents:
        return {}
    ids = [int(p["id"]) for p in parents]
    marks = ",".join("?" * len(ids))
    kids = conn.execute(
        f"SELECT {_COLUMNS}, raw FROM products WHERE parent_id IN ({marks})"
        " AND type = 'variation' AND sellable = 1",
        ids,
    ).fetchall()
    by_parent: dict[int, list[sqlite3.Row]] = {}
    for kid in kids:
        by_parent.setdefault(int(kid["parent_id"]), []).append(kid)
    out: dict[int, dict[str, Any]] = {}
    for parent in parents:
        children = by_parent.get(int(parent["id"]), [])
        prices = [p for p in (_price(k, now, timezone) for k in children) if p is not None]
        stocks = [_stock(k, parent) for k in children]
        if parent["manage_stock"] == "1":
            stock = _stock(parent)
        elif not stocks:
            stock = {"stock": None, "stock_state": "out", "stock_text": "No variations for sale"}
        else:
            total = sum(int(s["stock"] or 0) for s in stocks if s["stock"] is not None)
            managed = any(s["stock"] is not None for s in stocks)
            live = [s for s in stocks if s["stock_state"] != "out"]
            state = "in" if live else "out"
            text = f"{total} in stock" if managed and live else ("In stock" if live else
                                                                  "Out of stock")
            stock = {"stock": total if managed else None, "stock_state": state,
                     "stock_text": text}  # fmt: skip
        low, high = (min(prices), max(prices)) if prices else (None, None)
        price_text = "no price" if low is None else fmt.format(low)
        if low is not None and high is not None and high != low:
            price_text = f"{fmt.format(low)} – {fmt.format(high)}"
        out[int(parent["id"])] = {
            "id": int(parent["id"]),
            "kind": "variable",
            "name": str(parent["name"]),
            "sku": str(parent["sku"]),
            "barcode": str(parent["barcode"]),
            "price": None if low is None else str(low),
            "price_text": price_text,
            "regular_text": "",
            "on_sale": False,
            "options": len(children),
            **stock,
        }
    return out


def grid(
    conn: sqlite3.Connection,
    fmt: MoneyFormat,
    timezone: str,
    *,
    category: int | None = None,
    offset: int = 0,
    limit: int = 60,
    now: datetime | None = None,
) -> dict[str, Any]:
    """A page of tiles (simple and variable products), by name, optionally of one category."""
    now = now or datetime.now(UTC)
    where = "status = 'publish' AND ((type = 'simple' AND sellable = 1) OR type = 'variable')"
    params: list[Any] = []
    if category is not None:
        # categories is "[16,17]": match the id between commas, no JSON parsing per row.
        where += " AND instr(',' || substr(categories, 2, length(categories) - 2) || ',', ?) > 0"
        params.append(f",{int(category)},")
    rows = conn.execute(
        f"SELECT {_COLUMNS}, raw FROM products WHERE {where} ORDER BY name, id LIMIT ? OFFSET ?",
        (*params, limit + 1, offset),
    ).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    variable = _variable_tiles(
        conn, [r for r in rows if r["type"] == "variable"], fmt, now, timezone
    )
    tiles = [
        variable[int(r["id"])] if r["type"] == "variable" else tile_for(r, fmt, now, timezone)
        for r in rows
    ]
    return {"tiles": tiles, "more": more, "offset": offset}


def search_tiles(
    conn: sqlite3.Connection, fmt: MoneyFormat, timezone: str, text: str, *, limit: int = 40
) -> list[dict[str, Any]]:
    """Search as you type: an exact barcode/SKU/id first, then names and SKUs by prefix."""
    now = datetime.now(UTC)
    found: list[int] = []
    exact = lookup(conn, text)
    if exact is not None and (exact.sellable or exact.type == "variable"):
        found.append(exact.id)
    found += [item.id for item in search(conn, text, limit=limit) if item.id not in found]
    return [t for t in (tile_by_id(conn, fmt, timezone, i, now) for i in found[:limit]) if t]


def tile_by_id(
    conn: sqlite3.Connection, fmt: MoneyFormat, timezone: str, item_id: int,
    now: datetime | None = None,
) -> dict[str, Any] | None:
    """The tile of one product or variation (None if it is not in the catalog)."""
    now = now or datetime.now(UTC)
    row = conn.execute(f"SELECT {_COLUMNS}, raw FROM products WHERE id = ?", (item_id,)).fetchone()
    if row is None:
        return None
    if row["type"] == "variable":
        return _variable_tiles(conn, [row], fmt, now, timezone)[int(row["id"])]
    parent = None
    if row["parent_id"]:
        parent = conn.execute(
            f"SELECT {_COLUMNS}, raw FROM products WHERE id = ?", (row["parent_id"],)
        ).fetchone()
    return tile_for(row, fmt, now, timezone, parent)


def variations(
    conn: sqlite3.Connection, fmt: MoneyFormat, timezone: str, parent_id: int
) -> dict[str, Any] | None:
    """A variable product and its sellable variations (None if it is not one)."""
    parent = conn.execute(
        f"SELECT {_COLUMNS}, raw FROM products WHERE id = ?", (parent_id,)
    ).fetchone()
    if parent is None or parent["type"] != "variable":
        return None
    now = datetime.now(UTC)
    kids = conn.execute(
        f"SELECT {_COLUMNS}, raw FROM products WHERE parent_id = ? AND type = 'variation'"
        " AND sellable = 1 ORDER BY id",
        (parent_id,),
    ).fetchall()
    options = []
    for kid in kids:
        tile = tile_for(kid, fmt, now, timezone, parent)
        tile["option"] = str(kid["name"])
        options.append(tile)
    return {"id": parent_id, "name": str(parent["name"]), "variations": options}


def categories(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """The store's categories, by name (the grid's tabs)."""
    return [
        {"id": int(r[0]), "name": str(r[1]), "parent": int(r[2])}
        for r in conn.execute("SELECT id, name, parent FROM categories ORDER BY name, id")
    ]
