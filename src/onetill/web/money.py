"""Money as the store shows it: symbol, its position, separators and decimals.

WooCommerce's own settings decide (``woocommerce_currency``,
``woocommerce_currency_pos``, ``woocommerce_price_thousand_sep``,
``woocommerce_price_decimal_sep``, ``woocommerce_price_num_decimals``), so
the till prints prices the way the shop prints them online. The browser gets
the same format (``MoneyFormat``) to show amounts it computes while the
cashier types (change due), from integer minor units.
"""

from __future__ import annotations

import sqlite3
from decimal import ROUND_HALF_UP, Decimal

import msgspec

__all__ = ["MoneyFormat", "load_money_format"]

_SYMBOLS = {
    "EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "CNY": "¥", "INR": "₹", "AUD": "$",
    "CAD": "$", "NZD": "$", "CHF": "CHF", "SEK": "kr", "NOK": "kr", "DKK": "kr.",
    "PLN": "zł", "CZK": "Kč", "HUF": "Ft", "BRL": "R$", "ZAR": "R", "MXN": "$",
    "TRY": "₺", "KRW": "₩", "ILS": "₪", "SGD": "$", "HKD": "$",
}  # fmt: skip

# Banknotes (and large coins) a customer hands over, in major units: the
# till offers the next ones above the total as quick buttons.
_NOTES = {
    "EUR": (5, 10, 20, 50, 100, 200),
    "USD": (1, 5, 10, 20, 50, 100),
    "GBP": (5, 10, 20, 50),
    "JPY": (1000, 2000, 5000, 10000),
    "CHF": (10, 20, 50, 100, 200),
    "AUD": (5, 10, 20, 50, 100),
    "CAD": (5, 10, 20, 50, 100),
    "SEK": (20, 50, 100, 200, 500),
    "NOK": (50, 100, 200, 500),
    "DKK": (50, 100, 200, 500),
    "PLN": (10, 20, 50, 100, 200),
    "INR": (10, 20, 50, 100, 200, 500),
}
_DEFAULT_NOTES = (5, 10, 20, 50, 100)


class MoneyFormat(msgspec.Struct, frozen=True):
    """How amounts are written; sent as is to the browser."""

    code: str = ""
    symbol: str = ""
    position: str = "left"  # left | right | left_space | right_space
    thousand: str = ","
    decimal: str = "."
    decimals: int = 2
    notes: tuple[int, ...] = _DEFAULT_NOTES

    def format(self, amount: Decimal | str | None) -> str:
        """``€1,234.50`` (or as the store writes it); '' for None."""
        if amount is None or amount == "":
            return ""
        value = Decimal(str(amount)).quantize(Decimal(1).scaleb(-self.decimals), ROUND_HALF_UP)
        sign = "-" if value < 0 else ""
        whole, _, frac = f"{abs(value):f}".partition(".")
        groups: list[str] = []
        while len(whole) > 3:
            groups.insert(0, whole[-3:])
            whole = whole[:-3]
        groups.insert(0, whole)
        number = self.thousand.join(groups) + (self.decimal + frac if self.decimals else "")
        symbol = self.symbol or self.code
        if self.position == "right":
            return f"{sign}{number}{symbol}"
        if self.position == "right_space":
            return f"{sign}{number}\u00a0{symbol}"
        if self.position == "left_space":
            return f"{sign}{symbol}\u00a0{number}"
        return f"{sign}{symbol}{number}"


def load_money_format(conn: sqlite3.Connection) -> MoneyFormat:
    """The store's money format from the synced ``general`` settings."""
    values = {
        str(r[0]): str(r[1])
        for r in conn.execute(
            "SELECT id, value FROM settings WHERE grp = 'general' AND id IN ("
            "'woocommerce_currency', 'woocommerce_currency_pos',"
            " 'woocommerce_price_thousand_sep', 'woocommerce_price_decimal_sep',"
            " 'woocommerce_price_num_decimals')"
        )
    }
    code = values.get("woocommerce_currency", "")
    try:
        decimals = max(0, min(4, int(values.get("woocommerce_price_num_decimals", "2"))))
    except ValueError:
        decimals = 2
    position = values.get("woocommerce_currency_pos", "left")
    if position not in ("left", "right", "left_space", "right_space"):
        position = "left"
    return MoneyFormat(
        code=code,
        symbol=_SYMBOLS.get(code, code),
        position=position,
        thousand=values.get("woocommerce_price_thousand_sep", ","),
        decimal=values.get("woocommerce_price_decimal_sep", ".") or ".",
        decimals=decimals,
        notes=_NOTES.get(code, _DEFAULT_NOTES),
    )
