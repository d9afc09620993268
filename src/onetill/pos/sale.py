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

__all__ = [
    "OutOfStockError",
    "OutOfStockPolicy",
    "PreparedSale",
    "Sale",
    "prepare_sale",
    "record_sale",
]

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


@dataclass(frozen=True)
class PreparedSale:
    """A priced sale not yet recorded: what a card payment charges, then records.

    ``order.uuid`` is the sale's UUID for good: a card payment puts it in
    the PaymentIntent's metadata and records the sale under it once paid.
    """

    order: NewOrder
    lines: list[NewLine]
    tender: Tender
    total: Decimal
    total_tax: Decimal
    decimals: int
    warnings: list[str] = field(default_factory=list)


def _price(
    db: Database,
    cart: Cart,
    payment: Payment,
    *,
    till_id: str,
    online: bool,
    out_of_stock: OutOfStockPolicy,
    methods: PaymentMethods | None,
    moment: datetime,
    new_uuid: Callable[[], str],
) -> PreparedSale:
    """Price the cart and settle the payment; call inside the write lock."""
    rates, settings = load_tax_context(db.conn)
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
        uuid=new_uuid(),
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
    return PreparedSale(
        order, lines, tender, totals.total, totals.total_tax, settings.decimals, warnings
    )


def _check(cart: Cart, out_of_stock: str) -> None:
    if not cart.lines:
        raise CartError("the cart is empty: add at least one item before taking payment")
    if out_of_stock not in ("warn", "block", "allow"):
        raise ValueError(f"out_of_stock policy must be warn, block or allow, not {out_of_stock!r}")


def prepare_sale(
    db: Database,
    cart: Cart,
    payment: Payment,
    *,
    till_id: str,
    online: bool = True,
    out_of_stock: OutOfStockPolicy = "warn",
    methods: PaymentMethods | None = None,
    now: datetime | None = None,
    new_uuid: Callable[[], str] = lambda: str(_uuid.uuid4()),
) -> PreparedSale:
    """Price the sale and check the payment as :func:`record_sale` would, writing nothing.

    For a card payment taken by the till's reader: the priced sale is
    stored with the payment attempt, and recorded (``store.card_payments.
    record_paid_sale``) only once the card is charged.
    """
    _check(cart, out_of_stock)
    with db.lock:
        return _price(
            db, cart, payment, till_id=till_id, online=online, out_of_stock=out_of_stock,
            methods=methods, moment=now or datetime.now(UTC), new_uuid=new_uuid,
        )  # fmt: skip


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
    _check(cart, out_of_stock)
    moment = now or datetime.now(UTC)
    with db.write() as conn:
        sale = _price(
            db, cart, payment, till_id=till_id, online=online, out_of_stock=out_of_stock,
            methods=methods, moment=moment, new_uuid=new_uuid,
        )  # fmt: skip
        seq = insert_sale(conn, sale.order, sale.lines)
    return Sale(
        uuid=sale.order.uuid,
        seq=seq,
        total=sale.total,
        total_tax=sale.total_tax,
        change=sale.tender.change,
        tender=sale.tender,
        warnings=sale.warnings,
    )
