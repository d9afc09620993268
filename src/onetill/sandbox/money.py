"""Price decimals: how WooCommerce rounds and prints order money.

WooCommerce facts (``wc-core-functions.php``, ``wc-formatting-functions.php``,
``abstract-wc-order.php``, ``class-wc-rest-orders-v2-controller.php``):

- ``wc_get_price_decimals()`` is ``absint(get_option('woocommerce_price_num_decimals', 2))``;
  every order rounding uses it (order total, tax totals, discount, per-line
  nets in ``round_item_subtotal``), never a fixed 2.
- An order stores line nets and per-rate taxes unrounded; the REST answer
  prints each money field with ``wc_format_decimal($value, $dp)``, i.e.
  ``number_format`` (half away from zero, no ``-0``), where ``dp`` is the
  request's ``dp`` parameter (``absint``) or else the price decimals.
  ``GET /orders`` declares ``dp`` as an integer (a non-integer is a 400);
  single-order routes read it unchecked through ``absint``.
- The REST ``taxes[]`` entries and ``price`` of a line are not passed
  through ``dp``.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from .errors import invalid_param

if TYPE_CHECKING:
    from .rest import Call
    from .state import SandboxStore

__all__ = ["absint", "fmt", "price_decimals", "quantum", "request_dp", "round_price"]


def absint(value: Any) -> int:
    """PHP ``absint``: ``abs(intval(value))`` (the leading integer of a string, else 0)."""
    if isinstance(value, bool | int):
        return abs(int(value))
    if isinstance(value, float):
        return abs(int(value))
    digits = re.match(r"\s*[+-]?\d+", str(value))
    return abs(int(digits.group())) if digits else 0


def price_decimals(store: SandboxStore) -> int:
    """``wc_get_price_decimals()``: the store's ``woocommerce_price_num_decimals``."""
    return absint(store.setting("woocommerce_price_num_decimals", "2"))


def quantum(dp: int) -> Decimal:
    return Decimal(1).scaleb(-dp)


def round_price(v: Decimal, dp: int) -> Decimal:
    """``NumberUtil::round($v, $dp)``: PHP ``round``, half away from zero."""
    return v.quantize(quantum(dp), rounding=ROUND_HALF_UP)


def fmt(v: Decimal | str | int, dp: int) -> str:
    """``wc_format_decimal($v, $dp)`` (``number_format``; PHP 8 prints no ``-0``)."""
    out = round_price(Decimal(v), dp)
    if out == 0:
        out = abs(out)
    return str(out)


def request_dp(call: Call, *, checked: bool) -> int | None:
    """The request's ``dp`` (``None`` when absent: use the price decimals).

    ``checked`` is for routes that declare ``dp`` (``GET /orders``): WordPress
    refuses a non-integer there before the handler runs.
    """
    raw = call.params.get("dp")
    if raw is None or raw == "":
        return None
    if checked:
        text = str(raw).strip()
        if not re.fullmatch(r"[+-]?\d+", text):
            raise invalid_param("dp", "dp is not of type integer.", "rest_invalid_type")
    return absint(raw)
