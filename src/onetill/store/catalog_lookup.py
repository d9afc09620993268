"""The till's catalog lookups: one item by id, SKU or barcode, and text search.

Reads only; the rows are written by ``catalog.py`` (which re-exports these
names). ``stock_quantity`` is what the till shows (the store's stock minus
sales not yet uploaded), ``store_stock_quantity`` the store's last word.
"""

from __future__ import annotations

import re
import sqlite3
from decimal import Decimal
from typing import Any

import msgspec

__all__ = [
    "CatalogItem",
    "find_by_barcode",
    "find_by_sku",
    "get_item",
    "lookup",
    "resolve_code",
    "search",
]

# What FTS5's unicode61 tokenizer keeps as one token: letters and digits (not "_",
# which \w would take: "0_0" is two tokens there, a phrase query detail=none refuses).
_WORD = re.compile(r"[^\W_]+")
_PLAIN_ID = re.compile(r"[0-9]{1,19}", re.ASCII)
_MAX_ID = 2**63 - 1  # SQLite's INTEGER


class CatalogItem(msgspec.Struct, frozen=True):
    """One product or variation as the till sees it."""

    id: int
    parent_id: int
    type: str
    status: str
    name: str
    sku: str
    barcode: str
    price: Decimal | None
    regular_price: Decimal | None
    sale_price: Decimal | None
    sale_from_gmt: str | None
    sale_to_gmt: str | None
    tax_status: str
    tax_class: str
    manage_stock: bool | str  # true, false or "parent", as WooCommerce says it
    stock_quantity: int | None
    store_stock_quantity: int | None
    stock_status: str
    backorders: str
    categories: list[int]
    date_modified_gmt: str
    purchasable: bool
    sellable: bool

    @property
    def stock_item_id(self) -> int:
        """The row whose stock a sale of this item reduces."""
        return self.parent_id if self.manage_stock == "parent" else self.id


_ITEM_COLUMNS = ", ".join(f for f in CatalogItem.__struct_fields__)


def _money(text: str) -> Decimal | None:
    return Decimal(text) if text else None


def _item(row: sqlite3.Row | tuple[Any, ...]) -> CatalogItem:
    (iid, parent, typ, status, name, sku, barcode, price, regular, sale, s_from, s_to,
     tax_status, tax_class, manage, stock, store_stock, stock_status, backorders, cats,
     modified, purchasable, sellable) = tuple(row)  # fmt: skip
    return CatalogItem(
        iid, parent, typ, status, name, sku, barcode, _money(price), _money(regular),
        _money(sale), s_from, s_to, tax_status, tax_class,
        {"1": True, "0": False}.get(manage, manage), stock, store_stock, stock_status,
        backorders, msgspec.json.decode(cats, type=list[int]), modified,
        bool(purchasable), bool(sellable),
    )  # fmt: skip


def get_item(conn: sqlite3.Connection, item_id: int) -> CatalogItem | None:
    """The product or variation with this WooCommerce id."""
    row = conn.execute(f"SELECT {_ITEM_COLUMNS} FROM products WHERE id = ?", (item_id,)).fetchone()
    return None if row is None else _item(row)


def find_by_sku(conn: sqlite3.Connection, sku: str) -> CatalogItem | None:
    """The item with this SKU (a sellable one first: WooCommerce keeps SKUs unique)."""
    if not sku:
        return None
    row = conn.execute(
        f"SELECT {_ITEM_COLUMNS} FROM products WHERE sku = ? AND sku != ''"
        " ORDER BY sellable DESC, id LIMIT 1",
        (sku,),
    ).fetchone()
    return None if row is None else _item(row)


def find_by_barcode(conn: sqlite3.Connection, code: str) -> CatalogItem | None:
    """The item a scanned code names: its barcode (GTIN/UPC/EAN/ISBN, else SKU, else meta)."""
    if not code:
        return None
    row = conn.execute(
        f"SELECT {_ITEM_COLUMNS} FROM products WHERE barcode = ? AND barcode != ''"
        " ORDER BY sellable DESC, id LIMIT 1",
        (code,),
    ).fetchone()
    if row is not None:
        return _item(row)
    # A product with a GTIN has the GTIN as barcode; its SKU still identifies it.
    return find_by_sku(conn, code)


def resolve_code(conn: sqlite3.Connection, code: str) -> int | None:
    """The one reading of a code, everywhere (the till, ``sell``, ``product``): a barcode
    (GTIN/UPC/EAN/ISBN, else SKU, else meta), then a SKU, then a WooCommerce id.

    Scanning is what a till does most, so a code that is some item's barcode
    or SKU means that item even when it also reads as another item's id. An
    id is plain ASCII digits within SQLite's range (``²`` or 24 digits are
    not ids). A sellable match comes first.
    """
    code = code.strip()
    if not code:
        return None
    for column in ("barcode", "sku"):
        row = conn.execute(
            f"SELECT id FROM products WHERE {column} = ? AND {column} != ''"
            " ORDER BY sellable DESC, status = 'deleted', id LIMIT 1",
            (code,),
        ).fetchone()
        if row is not None:
            return int(row[0])
    if _PLAIN_ID.fullmatch(code) and 0 < int(code) <= _MAX_ID:
        row = conn.execute("SELECT id FROM products WHERE id = ?", (int(code),)).fetchone()
        if row is not None:
            return int(row[0])
    return None


def lookup(conn: sqlite3.Connection, text: str) -> CatalogItem | None:
    """What a cashier or ``onetill product`` means by ``text`` (see ``resolve_code``)."""
    found = resolve_code(conn, text)
    return None if found is None else get_item(conn, found)


def _fts_query(text: str) -> str:
    # Each word as a quoted prefix term, so user input is never FTS syntax;
    # split like the tokenizer does (the index keeps no positions for phrases).
    return " ".join(f'"{w}"*' for w in _WORD.findall(text))


def search(conn: sqlite3.Connection, text: str, limit: int = 20) -> list[CatalogItem]:
    """Sellable items whose name or SKU matches every word of ``text`` (as prefixes).

    A variable parent is not sellable, so a hit on its name yields its
    sellable variations instead.
    """
    query = _fts_query(text)
    if not query or limit <= 0:
        return []
    limit = min(limit, 1000)
    cols = ", ".join(f"x.{f}" for f in CatalogItem.__struct_fields__)
    # Filter on sellable while walking the matches, so drafts and parents that
    # match first can never crowd sellable items out of the first `limit`.
    rows = conn.execute(
        f"SELECT {cols} FROM products_fts JOIN products x ON x.id = products_fts.rowid"
        " WHERE products_fts MATCH ? AND x.sellable = 1 LIMIT ?",
        (query, limit),
    ).fetchall()
    if len(rows) < limit:
        rows += conn.execute(
            f"SELECT {cols} FROM products_fts JOIN products p ON p.id = products_fts.rowid"
            " JOIN products x ON x.parent_id = p.id WHERE products_fts MATCH ?"
            " AND p.type = 'variable' AND x.sellable = 1 LIMIT ?",
            (query, limit),
        ).fetchall()
    seen: set[int] = set()
    out: list[CatalogItem] = []
    for row in rows:
        if row[0] not in seen and len(out) < limit:
            seen.add(row[0])
            out.append(_item(row))
    return out
