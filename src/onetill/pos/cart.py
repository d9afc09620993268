"""The cart: items looked up by barcode, SKU or id, with quantities.

A cart line remembers which catalog row it sells (a simple product or a
variation), which product/variation ids WooCommerce expects on the order
line, and which row holds the stock: a variation whose ``manage_stock`` is
``"parent"`` sells from its parent's stock (WooCommerce reduces the
parent), so the till decrements the parent too.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from onetill.pos.prices import current_price
from onetill.pos.tax import LineInput, OrderTotals, compute_order, load_tax_context
from onetill.store.catalog_lookup import resolve_code
from onetill.store.catalog_problems import get_problem

__all__ = [
    "MAX_QUANTITY",
    "MAX_UNIT_PRICE",
    "Cart",
    "CartError",
    "CartLine",
    "find_item",
    "raw_sale_dates",
]

# More units than this of one item on one till sale is a typo (a barcode
# scanned into the quantity field), not a sale.
MAX_QUANTITY = 9999
# A unit price above this came from a slip in WooCommerce (a barcode typed
# into the price), not from a shelf; a till refuses it rather than charge it.
MAX_UNIT_PRICE = Decimal("1000000")


class CartError(ValueError):
    """Bad input to the cart: says what was wrong and what to do."""


@dataclass(frozen=True)
class CartLine:
    """One item in the cart."""

    item_id: int  # the catalog row sold (product or variation id)
    product_id: int  # WooCommerce line ``product_id`` (the parent for a variation)
    variation_id: int  # 0 for a simple product
    stock_item_id: int  # the row whose stock this line reduces
    manages_stock: bool  # whether that row's stock is tracked
    sku: str
    name: str
    quantity: int
    unit_price: Decimal
    tax_class: str
    tax_status: str
    stock_quantity: int | None
    backorders: str
    stock_status: str

    def tax_input(self) -> LineInput:
        return LineInput(self.unit_price, self.quantity, self.tax_class, self.tax_status)


def _check_quantity(quantity: object) -> int:
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise CartError(f"quantity must be a whole number, got {quantity!r}")
    if quantity <= 0:
        raise CartError(f"quantity must be at least 1, got {quantity}")
    if quantity > MAX_QUANTITY:
        raise CartError(
            f"quantity {quantity} is more than {MAX_QUANTITY} of one item; "
            "check the number (was a barcode scanned into the quantity?)"
        )
    return quantity


def find_item(conn: sqlite3.Connection, code: str) -> sqlite3.Row:
    """The catalog row for a barcode, SKU or numeric id (``resolve_code``'s order)."""
    code = code.strip()
    if not code:
        raise CartError("empty code: scan a barcode or type a SKU or product id")
    found = resolve_code(conn, code)
    row = None
    if found is not None:
        row = conn.execute("SELECT * FROM products WHERE id = ?", (found,)).fetchone()
    if not isinstance(row, sqlite3.Row):
        raise CartError(
            f"unknown barcode, SKU or id {code!r}: nothing in the till's catalog matches "
            "(run `onetill sync` if it was added recently)"
        )
    return row


def _describe(row: sqlite3.Row) -> str:
    return f"{row['sku'] or row['name'] or row['id']} (id {row['id']})"


def _parent(conn: sqlite3.Connection, row: sqlite3.Row) -> sqlite3.Row | None:
    if not row["parent_id"]:
        return None
    found: sqlite3.Row | None = conn.execute(
        "SELECT * FROM products WHERE id = ?", (row["parent_id"],)
    ).fetchone()
    return found


def raw_sale_dates(raw_text: str | None) -> dict[str, Any] | None:
    """The site-local sale dates of a stored raw object (``raw_dates`` for
    ``pos.prices.current_price``), or None when it cannot be read."""
    try:
        raw = json.loads(raw_text or "{}")
    except ValueError:
        return None
    if not isinstance(raw, dict):
        return None
    return {
        "date_on_sale_from": raw.get("date_on_sale_from"),
        "date_on_sale_to": raw.get("date_on_sale_to"),
    }


def _price_view(row: sqlite3.Row) -> dict[str, Any]:
    view = {k: row[k] for k in row.keys()}  # noqa: SIM118 - sqlite3.Row has no __iter__ of keys
    dates = raw_sale_dates(row["raw"])
    if dates is not None:
        view["raw_dates"] = dates
    return view


class Cart:
    """Items to sell, priced from the local catalog.

    ``timezone`` is the store's (sale windows are site-local dates);
    ``now`` is fixed per cart operation so a price does not flip mid-sale.
    """

    def __init__(self, conn: sqlite3.Connection, *, timezone: str = "UTC") -> None:
        self._conn = conn
        self.timezone = timezone
        self.lines: list[CartLine] = []

    def add(self, code: str, quantity: int = 1, *, now: datetime | None = None) -> CartLine:
        """Add ``quantity`` of the item with this barcode, SKU or id."""
        qty = _check_quantity(quantity)
        row = find_item(self._conn, code)
        return self._add_row(row, qty, now or datetime.now(UTC))

    def add_id(self, item_id: int, quantity: int = 1, *, now: datetime | None = None) -> CartLine:
        """Add ``quantity`` of the product or variation with this id."""
        qty = _check_quantity(quantity)
        row = None
        if isinstance(item_id, int) and 0 < item_id < 2**63:
            row = self._conn.execute("SELECT * FROM products WHERE id = ?", (item_id,)).fetchone()
        if row is None:
            raise CartError(f"no product or variation with id {item_id} in the till's catalog")
        return self._add_row(row, qty, now or datetime.now(UTC))

    def _add_row(self, row: sqlite3.Row, qty: int, now: datetime) -> CartLine:
        if row["type"] == "variable":
            raise CartError(f"{_describe(row)} is a variable product: choose one of its variations")
        if row["type"] not in ("simple", "variation"):
            raise CartError(f"{_describe(row)} is a {row['type']} product; the till cannot sell it")
        parent = _parent(self._conn, row) if row["type"] == "variation" else None
        problem = get_problem(self._conn, int(row["id"]))
        if problem is not None:
            raise CartError(
                f"{_describe(row)} needs a look in WooCommerce: its latest copy could not be "
                f"taken (field {problem.field!r} {problem.problem}); fix it there, then sync"
            )
        if row["status"] != "publish" or not row["sellable"]:
            raise CartError(
                f"{_describe(row)} is not for sale (status {row['status']}); "
                "publish it in WooCommerce and sync"
            )
        for i, line in enumerate(self.lines):
            if line.item_id == row["id"]:
                merged = _check_quantity(line.quantity + qty)
                self.lines[i] = replace(line, quantity=merged)
                return self.lines[i]
        line = self._make_line(row, parent, qty, now)
        self.lines.append(line)
        return line

    def _make_line(
        self, row: sqlite3.Row, parent: sqlite3.Row | None, qty: int, now: datetime
    ) -> CartLine:
        price = current_price(_price_view(row), now, self.timezone)
        if price < 0:
            raise CartError(
                f"{_describe(row)} has a negative price ({price}) in WooCommerce; "
                "correct the price there, then sync"
            )
        if price > MAX_UNIT_PRICE:
            raise CartError(
                f"{_describe(row)} costs {price}, more than {MAX_UNIT_PRICE} a unit: "
                "check the price in WooCommerce, then sync"
            )
        tax_class = row["tax_class"]
        if tax_class == "parent":
            tax_class = parent["tax_class"] if parent is not None else ""
        stock_row = row
        if row["manage_stock"] == "parent" and parent is not None:
            stock_row = parent
        manages = stock_row["manage_stock"] == "1"
        name = row["name"]
        if parent is not None and parent["name"] and not str(name).startswith(parent["name"]):
            name = f"{parent['name']} - {name}"
        return CartLine(
            item_id=int(row["id"]),
            product_id=int(parent["id"]) if parent is not None else int(row["id"]),
            variation_id=int(row["id"]) if row["type"] == "variation" else 0,
            stock_item_id=int(stock_row["id"]),
            manages_stock=manages,
            sku=str(row["sku"]),
            name=str(name),
            quantity=qty,
            unit_price=price,
            tax_class=str(tax_class or ""),
            tax_status=str(row["tax_status"] or "taxable"),
            stock_quantity=stock_row["stock_quantity"] if manages else None,
            backorders=str(stock_row["backorders"] or "no"),
            stock_status=str(stock_row["stock_status"] or "instock"),
        )

    def set_quantity(self, item_id: int, quantity: int) -> CartLine:
        """Change the quantity of an item already in the cart."""
        qty = _check_quantity(quantity)
        for i, line in enumerate(self.lines):
            if line.item_id == item_id:
                self.lines[i] = replace(line, quantity=qty)
                return self.lines[i]
        raise CartError(f"item {item_id} is not in the cart")

    def remove(self, item_id: int) -> None:
        """Take an item out of the cart."""
        before = len(self.lines)
        self.lines = [line for line in self.lines if line.item_id != item_id]
        if len(self.lines) == before:
            raise CartError(f"item {item_id} is not in the cart")

    def totals(self) -> OrderTotals:
        """The totals WooCommerce will compute for this cart."""
        rates, settings = load_tax_context(self._conn)
        return compute_order([line.tax_input() for line in self.lines], rates, settings)

    def short_of_stock(self) -> list[tuple[CartLine, int]]:
        """Lines the till believes it does not have enough stock for, with units missing.

        Quantities of lines sharing one stock row (variations of a
        parent-managed product) are added up.
        """
        wanted: dict[int, int] = {}
        for line in self.lines:
            wanted[line.stock_item_id] = wanted.get(line.stock_item_id, 0) + line.quantity
        out: list[tuple[CartLine, int]] = []
        for line in self.lines:
            if line.manages_stock:
                have = line.stock_quantity or 0
                missing = wanted[line.stock_item_id] - have
                if missing > 0 and line.backorders == "no":
                    out.append((line, missing))
            elif line.stock_status == "outofstock":
                out.append((line, line.quantity))
        return out
