"""How the customer pays: cash (tendered, change) or card (needs the store reachable).

Cash works with no network at all. A card sale is refused while the store
is unreachable: the card terminal's payment and the order must be
reconcilable, and the merchant's card flow depends on the store being up.
The card payment's transaction id (a Stripe PaymentIntent ``pi_...`` or
charge ``ch_...``) goes into the order's ``transaction_id``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

__all__ = [
    "CARD_BRANDS",
    "Payment",
    "PaymentMethods",
    "Tender",
    "TenderError",
    "parse_amount",
    "settle",
]

CARD_BRANDS = frozenset(
    {"visa", "mastercard", "amex", "discover", "diners", "jcb", "unionpay", "maestro", "other"}
)
_TXN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]{0,254}\Z")
_STRIPE = re.compile(r"(pi|ch|py)_[A-Za-z0-9]{8,}\Z")
# Cash beyond this many times the total is a typo, not a banknote.
_MAX_TENDER_FACTOR = 1000
# No till takes a billion in one payment; beyond this a typed amount is a
# mistake (and 1e400 cannot even be rounded to cents).
MAX_AMOUNT = Decimal("1e9")


class TenderError(ValueError):
    """A payment that cannot be accepted: says what was wrong and what to do."""


@dataclass(frozen=True)
class PaymentMethods:
    """WooCommerce payment method ids and titles the till uses (configurable)."""

    cash_id: str = "onetill_cash"
    cash_title: str = "Cash"
    card_id: str = "onetill_card"
    card_title: str = "Card"


@dataclass(frozen=True)
class Payment:
    """What the cashier entered, before the total is known to the tender."""

    method: str  # "cash" | "card"
    tendered: Decimal | None = None  # cash handed over; None = exact amount
    transaction_id: str = ""
    card_brand: str = ""
    card_last4: str = ""


@dataclass(frozen=True)
class Tender:
    """A settled payment, as recorded on the order."""

    method: str
    payment_method: str
    payment_title: str
    tendered: Decimal | None
    change: Decimal
    transaction_id: str = ""
    card_brand: str = ""
    card_last4: str = ""


_PLAIN_AMOUNT = re.compile(r"[0-9]{1,30}(\.[0-9]{1,30})?", re.ASCII)


def parse_amount(text: str | Decimal, decimals: int = 2) -> Decimal:
    """A money amount typed by a person, as a Decimal with at most ``decimals`` places.

    Only digits 0-9 and one point: ``Decimal()`` would also take ``1_000``,
    ``+5``, ``1e3`` or Arabic-Indic digits, which a cashier did not mean.
    """
    raw = text if isinstance(text, Decimal) else str(text).strip()
    if not isinstance(raw, Decimal) and not _PLAIN_AMOUNT.fullmatch(raw):
        raise TenderError(f"{text!r} is not an amount; type it like 20 or 20.50 (digits 0-9)")
    try:
        amount = Decimal(raw)
    except InvalidOperation:
        raise TenderError(f"{text!r} is not an amount; type it like 20 or 20.50") from None
    if not amount.is_finite() or amount < 0:
        raise TenderError(f"amount {text!r} must be a positive number")
    if amount >= MAX_AMOUNT:
        raise TenderError(f"amount {text!r} is too large; check the number")
    if amount != amount.quantize(Decimal(1).scaleb(-decimals)):
        raise TenderError(f"amount {text!r} has more than {decimals} decimal places")
    return amount


def settle(
    payment: Payment,
    total: Decimal,
    *,
    online: bool,
    decimals: int = 2,
    methods: PaymentMethods | None = None,
) -> Tender:
    """Check a payment against the total; the change for cash."""
    methods = methods or PaymentMethods()
    q = Decimal(1).scaleb(-decimals)
    if payment.method == "cash":
        if payment.transaction_id or payment.card_last4 or payment.card_brand:
            raise TenderError("a cash payment has no transaction id or card details")
        tendered = total if payment.tendered is None else payment.tendered
        if tendered < total:
            raise TenderError(
                f"tendered {tendered.quantize(q)} is less than the total {total.quantize(q)}; "
                f"take at least {total.quantize(q)}"
            )
        if total > 0 and tendered > total * _MAX_TENDER_FACTOR:
            raise TenderError(f"tendered {tendered} for a total of {total}: check the amount")
        return Tender(
            method="cash",
            payment_method=methods.cash_id,
            payment_title=methods.cash_title,
            tendered=tendered.quantize(q),
            change=(tendered - total).quantize(q),
        )
    if payment.method == "card":
        if not online:
            raise TenderError(
                "card payments need the store to be reachable and it is not; "
                "take cash, or wait until the till is back online"
            )
        if payment.tendered is not None and payment.tendered != total:
            raise TenderError("a card payment is for the exact total; leave --tendered out")
        txn = payment.transaction_id.strip()
        if txn and not _TXN.match(txn):
            raise TenderError(
                f"transaction id {txn!r} has characters a payment id never has; "
                "copy it from the card terminal (e.g. pi_... or ch_...)"
            )
        if txn.startswith(("pi_", "ch_", "py_")) and not _STRIPE.match(txn):
            raise TenderError(f"{txn!r} is not a whole Stripe id (pi_/ch_ followed by letters)")
        brand = payment.card_brand.strip().lower()
        if brand and brand not in CARD_BRANDS:
            raise TenderError(f"unknown card brand {brand!r}; one of {sorted(CARD_BRANDS)}")
        last4 = payment.card_last4.strip()
        if last4 and not (len(last4) == 4 and last4.isdigit()):
            raise TenderError(f"card last four digits must be 4 digits, got {last4!r}")
        return Tender(
            method="card",
            payment_method=methods.card_id,
            payment_title=methods.card_title,
            tendered=None,
            change=Decimal(0).quantize(q),
            transaction_id=txn,
            card_brand=brand,
            card_last4=last4,
        )
    raise TenderError(f"unknown payment method {payment.method!r}: use cash or card")
