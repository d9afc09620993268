"""Recording a sale: one ``BEGIN IMMEDIATE`` transaction, then "paid".

The order, its lines, its outbox row (``pending_sync``) and the optimistic
stock decrement commit together with ``synchronous=FULL``: when
:func:`record_sale` returns, the sale survives a power cut, and only then
may the screen say "paid". The order's UUID (its idempotency key towards
WooCommerce) is created here, once, and never again for this sale.
"""

from __future__ import annotations

import json
import uuid as _uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal

from onetill.pos.cart import Cart, CartError, CartLine
from onetill.pos.tax import compute_order, load_tax_context
from onetill.pos.tender import Payment, PaymentMethods, Tender, settle
from onetill.store.db import Database
from onetill.store.orders import NewLine, NewOrder, insert_sale

__all__ = ["OutOfStockError", "OutOfStockPolicy", "Sale", "record_sale"]

OutOfStockPolicy = Literal["warn", "block", "allow"]


class OutOfStockError(CartError):
    """The till believes an item is out of stock and the policy is ``block``."""


@dataclass(frozen=True)
class Sale:
    """A recorded sale, as the cashier and ``sell --json`` see it."""

    uuid: str
    seq: int
    total: Decimal
    total_tax: Decimal
    change: Decimal
    tender: Tender
    state: str = "pending_sync"
    warnings: list[str] = field(default_factory=list)


def _refresh_stock(db: Database, lines: list[CartLine]) -> list[CartLine]:
    """The cart lines with stock as committed right now (read inside the write lock)."""
    out: list[CartLine] = []
    for line in lines:
        row = db.conn.execute(
            "SELECT stock_quantity, stock_status, backorders, manage_stock FROM products"
            " WHERE id = ?",
            (line.stock_item_id,),
        ).fetchone()
        if row is None:
            raise CartError(f"{line.sku or line.name} left the catalog; remove it from the cart")
        out.append(
            replace(
                line,
                stock_quantity=row["stock_quantity"],
                stock_status=str(row["stock_status"]),
                backorders=str(row["backorders"]),
            )
        )
    return out


def record_sale(
    db: Database,
    cart: Cart,
    payment: Payment,
    *,
    till_id: str,
    online: bool = False,
    out_of_stock: OutOfStockPolicy = "warn",
    methods: PaymentMethods | None = None,
    now: datetime | None = None,
    new_uuid: Callable[[], str] = lambda: str(_uuid.uuid4()),
) -> Sale:
    """Commit the sale and return it; nothing is written if anything is wrong.

    Raises :class:`CartError` (empty cart, item gone, out of stock with
    ``block``) or :class:`~onetill.pos.tender.TenderError` (tendered below
    the total, card while offline, malformed card details).
    """
    if not cart.lines:
        raise CartError("the cart is empty: add at least one item before taking payment")
    if out_of_stock not in ("warn", "block", "allow"):
        raise ValueError(f"out_of_stock policy must be warn, block or allow, not {out_of_stock!r}")
    moment = now or datetime.now(UTC)
    with db.write() as conn:
        rates, settings = load_tax_context(conn)
        cart.lines = _refresh_stock(db, cart.lines)
        totals = compute_order([line.tax_input() for line in cart.lines], rates, settings)
        tender = settle(
            payment, totals.total, online=online, decimals=settings.decimals, methods=methods
        )
        warnings: list[str] = []
        if out_of_stock != "allow":
            for line, missing in cart.short_of_stock():
                text = (
                    f"{line.sku or line.name}: the till believes it is out of stock "
                    f"({missing} more than on hand)"
                )
                if out_of_stock == "block":
                    raise OutOfStockError(text + "; the till is set to refuse such sales")
                warnings.append(text)
        sale_uuid = new_uuid()
        q = settings.quantum
        lines = [
            NewLine(
                product_id=line.product_id,
                variation_id=line.variation_id,
                stock_item_id=line.stock_item_id,
                sku=line.sku,
                name=line.name,
                quantity=line.quantity,
                unit_price=str(line.unit_price),
                subtotal=str(taxes.subtotal),
                total=str(taxes.total),
                tax=str(taxes.total_tax),
                tax_class=line.tax_class,
                decrement_stock=line.manages_stock,
            )
            for line, taxes in zip(cart.lines, totals.lines, strict=True)
        ]
        order = NewOrder(
            uuid=sale_uuid,
            created_at=moment,
            till_id=till_id,
            currency=settings.currency,
            payment_method=tender.payment_method,
            payment_title=tender.payment_title,
            subtotal=str(totals.subtotal),
            total_tax=str(totals.total_tax),
            total=str(totals.total),
            tax_lines=json.dumps({str(k): str(v.quantize(q)) for k, v in totals.tax_lines.items()}),
            transaction_id=tender.transaction_id,
            card_brand=tender.card_brand,
            card_last4=tender.card_last4,
            tendered="" if tender.tendered is None else str(tender.tendered),
            change=str(tender.change),
        )
        seq = insert_sale(conn, order, lines)
    return Sale(
        uuid=sale_uuid,
        seq=seq,
        total=totals.total,
        total_tax=totals.total_tax,
        change=tender.change,
        tender=tender,
        warnings=warnings,
    )
