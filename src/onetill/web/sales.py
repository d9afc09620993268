"""``POST /api/sales``: one sale, recorded once, whatever the browser retries.

The browser makes a sale key (a random UUID) once per cart and sends it with
every attempt to pay for that cart. The key becomes the order's UUID (its
idempotency key towards WooCommerce too), so the order table's primary key
is what makes a double click or a retried POST record one sale: a second
request with the same key gets the first sale back. A key sent again with a
different cart is refused.

Before recording, the server prices the cart again and refuses (409, with the
fresh cart) when the total differs from the one the cashier saw, or when an
item would go beyond stock without the cashier's confirmation.

A card payment on the till's reader (``web.api_card``) is validated the
same way, then priced by :func:`prepare_card_sale`; ``onetill.pay``
records it once Stripe says the card was charged.
"""

from __future__ import annotations

import re
import sqlite3
import uuid as _uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

import msgspec

from onetill.pos.cart import Cart, CartError
from onetill.pos.prices import PriceError
from onetill.pos.sale import PreparedSale, prepare_sale, record_sale
from onetill.pos.stock_check import check_lines
from onetill.pos.tender import Payment, PaymentMethods, TenderError, parse_amount
from onetill.store.card_payments import get_payment
from onetill.store.db import Database
from onetill.store.orders import OrderRecord, get_order
from onetill.web.cart_view import CartIn, LineIn, PricedCart, price_cart
from onetill.web.money import MoneyFormat

__all__ = [
    "PaymentIn",
    "SaleIn",
    "SaleRefused",
    "SaleSettings",
    "check_sale",
    "prepare_card_sale",
    "record",
]

_SALE_KEY = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\Z")


class PaymentIn(msgspec.Struct, forbid_unknown_fields=True):
    method: Literal["cash", "card"]
    tendered: str | None = None  # cash handed over; None: the exact total
    reference: str = ""  # card: the terminal's transaction reference
    brand: str = ""
    last4: str = ""


class SaleIn(msgspec.Struct, forbid_unknown_fields=True):
    sale_key: str
    lines: list[LineIn]
    payment: PaymentIn
    expected_total: str


class SaleRefused(Exception):
    """Nothing was recorded: ``status``, a message, and what the screen needs to recover."""

    def __init__(self, status: int, kind: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"error": self.kind, "message": self.message, **self.extra}


@dataclass(frozen=True)
class SaleSettings:
    till_id: str
    timezone: str
    policy: str
    methods: PaymentMethods
    fmt: MoneyFormat


def _same_lines(order: OrderRecord, lines: list[LineIn]) -> bool:
    have = sorted((li.variation_id or li.product_id, li.quantity) for li in order.lines)
    want = sorted((li.id, li.qty) for li in lines)
    return have == want


def _existing(conn: sqlite3.Connection, body: SaleIn) -> OrderRecord | None:
    """The sale already recorded under this key (None if none); a key reused for another
    cart is refused."""
    try:
        order = get_order(conn, body.sale_key, with_lines=True)
    except KeyError:
        return None
    if order.uuid != body.sale_key:
        return None  # a prefix match of another order: not this key
    if not _same_lines(order, body.lines):
        raise SaleRefused(
            409, "key_reused",
            "this sale key was already used for a different sale; start a new sale",
        )
    return order


def check_sale(
    conn: sqlite3.Connection, body: SaleIn, cfg: SaleSettings
) -> tuple[OrderRecord | None, Decimal]:
    """Validate a sale before any payment: (the sale already recorded, or None; the total)."""
    if not _SALE_KEY.match(body.sale_key):
        raise SaleRefused(400, "invalid", "the sale key must be a random (version 4) UUID")
    if not body.lines:
        raise SaleRefused(400, "invalid", "the cart is empty: add an item before taking payment")
    existing = _existing(conn, body)
    if existing is not None:
        return existing, Decimal(existing.total)
    try:
        priced, cart = price_cart(conn, CartIn(lines=body.lines), cfg.fmt,
                                  timezone=cfg.timezone, policy=cfg.policy)  # fmt: skip
    except (CartError, PriceError) as exc:
        raise SaleRefused(409, "cart", str(exc)) from None
    if priced.dropped:
        raise SaleRefused(409, "cart_changed", priced.dropped[0]["message"], cart=_cart(priced))
    confirmed = {li.id for li in body.lines if li.confirmed}
    for verdict in check_lines(cart.lines, policy=cfg.policy):
        if verdict.verdict == "refuse" or (
            verdict.verdict == "confirm" and verdict.item_id not in confirmed
        ):
            raise SaleRefused(409, "stock", verdict.message, cart=_cart(priced), id=verdict.item_id)
    total = Decimal(priced.totals["total"])
    try:
        expected = parse_amount(body.expected_total, cfg.fmt.decimals)
    except TenderError:
        raise SaleRefused(400, "invalid", "expected_total must be an amount") from None
    if expected != total:
        raise SaleRefused(
            409, "total_changed",
            f"the total is now {cfg.fmt.format(total)} (was {cfg.fmt.format(expected)}): "
            "prices or taxes changed; check the cart and take payment again",
            cart=_cart(priced),
        )  # fmt: skip
    return None, total


def _cart(priced: PricedCart) -> dict[str, Any]:
    return {"lines": priced.lines, "totals": priced.totals}


def cash_payment(body: SaleIn, decimals: int) -> Payment:
    tendered = None
    if body.payment.tendered not in (None, ""):
        try:
            tendered = parse_amount(str(body.payment.tendered), decimals)
        except TenderError as exc:
            raise SaleRefused(400, "tender", str(exc)) from None
    return Payment("cash", tendered)


def record(
    db: Database, body: SaleIn, payment: Payment, cfg: SaleSettings, *, online: bool
) -> tuple[OrderRecord, bool]:
    """Record the sale under its key; (the order, whether it was already recorded)."""
    with db.lock:
        existing = _existing(db.conn, body)
        if existing is not None:
            return existing, True
        cart = Cart(db.conn, timezone=cfg.timezone)
        try:
            for line in body.lines:
                cart.add_id(line.id, line.qty)
            record_sale(
                db, cart, payment, till_id=cfg.till_id, online=online,
                out_of_stock="allow" if cfg.policy == "allow" else "warn",
                methods=cfg.methods, new_uuid=lambda: body.sale_key,
            )  # fmt: skip
        except sqlite3.IntegrityError:
            # Another request with this key committed first: that is the sale.
            existing = _existing(db.conn, body)
            if existing is None:
                raise
            return existing, True
        except (CartError, PriceError) as exc:
            raise SaleRefused(409, "cart", str(exc)) from None
        except TenderError as exc:
            raise SaleRefused(400, "tender", str(exc)) from None
        return get_order(db.conn, body.sale_key, with_lines=True), False


def _card_sale_uuid(conn: sqlite3.Connection, sale_key: str) -> str:
    """The sale key, unless an earlier card attempt already holds it.

    Such an attempt for this very cart is reused by ``pay`` (with its own
    UUID, so nothing is charged twice); one for a cart since changed was
    never paid, and this cart gets a UUID of its own.
    """
    try:
        get_payment(conn, sale_key)
    except KeyError:
        return sale_key
    return str(_uuid.uuid4())


def prepare_card_sale(db: Database, body: SaleIn, cfg: SaleSettings) -> PreparedSale:
    """Price a checked sale for a card payment on the reader; nothing is recorded."""
    with db.lock:
        cart = Cart(db.conn, timezone=cfg.timezone)
        try:
            for line in body.lines:
                cart.add_id(line.id, line.qty)
            sale_uuid = _card_sale_uuid(db.conn, body.sale_key)
            return prepare_sale(
                db, cart, Payment("card"), till_id=cfg.till_id, online=True,
                out_of_stock="allow" if cfg.policy == "allow" else "warn",
                methods=cfg.methods, new_uuid=lambda: sale_uuid,
            )  # fmt: skip
        except (CartError, PriceError) as exc:
            raise SaleRefused(409, "cart", str(exc)) from None
        except TenderError as exc:
            raise SaleRefused(400, "tender", str(exc)) from None
