"""The cart as the browser holds it, priced and checked on the server.

The browser keeps the cart (item ids and quantities, so it survives a page
reload) and sends it with one action: a scanned code, an item to add, a
quantity to set. The server validates everything, prices it with
``pos.cart.Cart`` (WooCommerce's own arithmetic, ``pos.tax``) and answers
the cart it accepted: the browser then shows exactly that. An action that
would go beyond stock is not applied; the answer says why
(``pos.stock_check``), or asks the cashier to confirm.
"""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from typing import Any, Literal

import msgspec

from onetill.pos.cart import MAX_QUANTITY, Cart, CartError, CartLine, find_item
from onetill.pos.prices import PriceError
from onetill.pos.stock_check import check_lines
from onetill.pos.tax import OrderTotals, load_tax_context
from onetill.web.catalog_views import variations
from onetill.web.money import MoneyFormat

__all__ = ["MAX_LINES", "CartAction", "CartIn", "LineIn", "PricedCart", "price_cart", "tax_labels"]

# A till sale with more distinct lines than this is a runaway client, not a customer.
MAX_LINES = 200


class LineIn(msgspec.Struct, forbid_unknown_fields=True):
    """One cart line as the browser sends it."""

    id: int
    qty: int
    confirmed: bool = False  # the cashier agreed to sell beyond the till's stock


class CartAction(msgspec.Struct, forbid_unknown_fields=True):
    """What the cashier just did: scan a code, add an item, or set a quantity."""

    kind: Literal["scan", "add", "set"]
    code: str = ""  # scan: barcode, SKU or id as typed
    id: int = 0  # add/set: the product or variation id
    qty: int = 1  # add: how many more; set: the new quantity
    confirm: bool = False  # the cashier confirmed going beyond stock


class CartIn(msgspec.Struct, forbid_unknown_fields=True):
    """``POST /api/cart``: the current lines and at most one action."""

    lines: list[LineIn] = msgspec.field(default_factory=list)
    action: CartAction | None = None


class PricedCart(msgspec.Struct):
    """The server's answer, also used to record the sale."""

    lines: list[dict[str, Any]]
    totals: dict[str, Any]
    problem: dict[str, Any] | None = None
    added: dict[str, Any] | None = None
    dropped: list[dict[str, Any]] = msgspec.field(default_factory=list)


def _check_qty(qty: int) -> None:
    if qty < 1 or qty > MAX_QUANTITY:
        raise CartError(
            f"quantity {qty} is not between 1 and {MAX_QUANTITY}; "
            "check the number (was a barcode scanned into the quantity?)"
        )


def tax_labels(conn: sqlite3.Connection) -> dict[int, str]:
    """``rate id -> "MwSt 19%"`` (the rate's name, with its percentage if the name lacks it)."""
    out: dict[int, str] = {}
    for rid, name, rate in conn.execute("SELECT id, name, rate FROM tax_rates"):
        pct = Decimal(str(rate or "0")).normalize()
        text = f"{pct:f}%"
        label = str(name or "Tax")
        out[int(rid)] = label if "%" in label else f"{label} {text}"
    return out


def totals_view(
    totals: OrderTotals, labels: dict[int, str], fmt: MoneyFormat, incl: bool, count: int
) -> dict[str, Any]:
    """Totals with one line per tax rate, as the screen and the receipt show them."""
    q = Decimal(1).scaleb(-fmt.decimals)
    taxes = [
        {"id": rid, "label": labels.get(rid, f"Tax #{rid}"),
         "amount": str(amount.quantize(q)), "amount_text": fmt.format(amount)}
        for rid, amount in sorted(totals.tax_lines.items())
        if amount != 0 or len(totals.tax_lines) == 1
    ]  # fmt: skip
    return {
        "items": count,
        "subtotal": str(totals.subtotal),
        "subtotal_text": fmt.format(totals.subtotal),
        "tax_total_text": fmt.format(totals.total_tax),
        "taxes": taxes,
        "prices_include_tax": incl,
        "total": str(totals.total),
        "total_text": fmt.format(totals.total),
    }


def _line_view(line: CartLine, fmt: MoneyFormat, confirmed: bool) -> dict[str, Any]:
    amount = line.unit_price * line.quantity
    if line.manages_stock:
        stock_text = f"{line.stock_quantity or 0} in stock"
    else:
        stock_text = "out of stock" if line.stock_status == "outofstock" else ""
    return {
        "id": line.item_id,
        "name": line.name,
        "sku": line.sku,
        "qty": line.quantity,
        "confirmed": confirmed,
        "unit_price": str(line.unit_price),
        "unit_text": fmt.format(line.unit_price),
        "amount_text": fmt.format(amount),
        "stock_text": stock_text,
    }


def _describe(exc: Exception) -> str:
    # The CLI's advice ("run `onetill sync`") means nothing on the screen: the engine syncs.
    return str(exc).split(" (run `onetill sync`")[0].split("; run `onetill sync`")[0]


def price_cart(
    conn: sqlite3.Connection, body: CartIn, fmt: MoneyFormat, *, timezone: str,
    policy: str = "warn",
) -> tuple[PricedCart, Cart]:
    """Apply ``body.action`` to ``body.lines`` if allowed, and price the result."""
    if len(body.lines) > MAX_LINES:
        raise CartError(f"a sale has at most {MAX_LINES} lines; split it into two sales")
    cart = Cart(conn, timezone=timezone)
    confirmed: set[int] = set()
    dropped: list[dict[str, Any]] = []
    for line in body.lines:
        _check_qty(line.qty)
        try:
            cart.add_id(line.id, line.qty)
        except (CartError, PriceError) as exc:  # left the catalog, or no longer for sale
            dropped.append({"id": line.id, "message": _describe(exc)})
            continue
        if line.confirmed:
            confirmed.add(line.id)
    problem: dict[str, Any] | None = None
    added: dict[str, Any] | None = None
    if body.action is not None:
        problem, added = _apply(conn, cart, body.action, confirmed, policy, fmt, timezone)
    _, settings = load_tax_context(conn)
    totals = cart.totals()
    count = sum(line.quantity for line in cart.lines)
    view = PricedCart(
        lines=[_line_view(li, fmt, li.item_id in confirmed) for li in cart.lines],
        totals=totals_view(totals, tax_labels(conn), fmt, settings.prices_include_tax, count),
        problem=problem,
        added=added,
        dropped=dropped,
    )
    return view, cart


def _apply(
    conn: sqlite3.Connection, cart: Cart, action: CartAction, confirmed: set[int], policy: str,
    fmt: MoneyFormat, timezone: str,
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Apply one action; returns (problem, added). A refused action changes nothing."""
    before = list(cart.lines)
    try:
        if action.kind == "scan":
            code = action.code.strip()
            if len(code) > 64:
                raise CartError("that code is too long for a barcode or SKU; scan it again")
            row = find_item(conn, code)
            if row["type"] == "variable":
                picker = variations(conn, fmt, timezone, int(row["id"]))
                return {"kind": "choose", "message": f"choose a variation of {row['name']}",
                        "product": picker}, None  # fmt: skip
            item_id = int(row["id"])
            line = cart.add_id(item_id, 1)
        elif action.kind == "add":
            _check_qty(action.qty)
            item_id = action.id
            row = conn.execute(
                "SELECT type, name FROM products WHERE id = ?", (item_id,)
            ).fetchone()
            if row is not None and row["type"] == "variable":
                picker = variations(conn, fmt, timezone, item_id)
                return {"kind": "choose", "message": f"choose a variation of {row['name']}",
                        "product": picker}, None  # fmt: skip
            line = cart.add_id(item_id, action.qty)
        else:
            _check_qty(action.qty)
            item_id = action.id
            line = cart.set_quantity(item_id, action.qty)
    except (CartError, PriceError) as exc:
        cart.lines = before
        kind = "unknown" if action.kind == "scan" and not _known(conn, action.code) else "invalid"
        return {"kind": kind, "message": _describe(exc), "code": action.code}, None
    if action.confirm:
        confirmed.add(item_id)
    verdict = next(v for v in check_lines(cart.lines, policy=policy) if v.item_id == item_id)
    if verdict.verdict == "refuse" or (verdict.verdict == "confirm" and item_id not in confirmed):
        cart.lines = before
        return {
            "kind": "out_of_stock" if verdict.verdict == "refuse" else "confirm",
            "message": verdict.message[0].upper() + verdict.message[1:],
            "id": item_id,
            "qty": action.qty,
            "action": action.kind,
            "on_hand": verdict.on_hand,
        }, None
    return None, {"id": line.item_id, "name": line.name, "qty": line.quantity}


def _known(conn: sqlite3.Connection, code: str) -> bool:
    try:
        find_item(conn, code)
    except CartError:
        return False
    return True
