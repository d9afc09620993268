"""Amounts in a currency's minor units, as Stripe takes them."""

from __future__ import annotations

from decimal import Decimal

from onetill.pay.errors import PayError

__all__ = ["from_minor", "minor_exponent", "to_minor"]

# Stripe's zero-decimal and three-decimal currencies; the rest have two.
_ZERO = frozenset(
    ["BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND",
     "VUV", "XAF", "XOF", "XPF"]
)
_THREE = frozenset(["BHD", "JOD", "KWD", "OMR", "TND"])


def minor_exponent(currency: str) -> int:
    code = currency.upper()
    return 0 if code in _ZERO else 3 if code in _THREE else 2


def to_minor(amount: Decimal | str, currency: str) -> int:
    """``Decimal("12.34"), "EUR"`` -> ``1234``; refuses an amount finer than the currency."""
    value = Decimal(str(amount))
    scaled = value.scaleb(minor_exponent(currency))
    if scaled != scaled.to_integral_value():
        raise PayError(
            f"{value} {currency.upper()} has more decimals than {currency.upper()} allows; "
            "check the store's price decimals"
        )
    if scaled <= 0:
        raise PayError(f"a card payment needs an amount above zero, not {value}")
    return int(scaled)


def from_minor(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-minor_exponent(currency))
