"""An order's totals and tax lines, as ``WC_Abstract_Order::calculate_totals()`` makes them.

Facts this module depends on:
- Money is printed at the store's price decimals (``wc_format_decimal``),
  never a fixed 2; the unrounded values are kept in the order's meta
  (``exact``, ``exact_tax_lines``) so a ``dp`` read can reprint them.
- PHP's ``json_encode`` prints a whole number without a fraction.

The line items it sums are made in ``checkout.py``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from . import money, tax

if TYPE_CHECKING:
    from .records import Item
    from .state import SandboxStore

__all__ = ["calculate_totals", "fmt_money", "json_number"]


def fmt_money(v: Decimal, dp: int = 2) -> str:
    """``wc_format_decimal($v, $dp)``; callers pass the store's price decimals."""
    return money.fmt(v, dp)


def json_number(v: Decimal) -> int | float:
    # PHP's json_encode prints a whole number without a fraction.
    return int(v) if v == v.to_integral_value() else float(v)


def calculate_totals(store: SandboxStore, order: Item) -> None:
    """``WC_Abstract_Order::calculate_totals()`` at the store's price decimals.

    ``round_item_subtotal`` rounds each line's net to the price decimals only
    with per-line rounding (``woocommerce_tax_round_at_subtotal`` = no), and
    ``update_taxes`` rounds each line's tax per rate (``round_line_tax``) only
    then too. ``total = round(cart_total + cart_tax, dp)`` and ``total_tax =
    round(cart_tax, dp)`` (``set_total_tax``), both half up; ``discount_tax``
    is ``wc_round_tax_total`` of the unrounded taxes' difference.
    """
    d = order.data
    dp = money.price_decimals(store)
    per_line = store.setting("woocommerce_tax_round_at_subtotal", "no") != "yes"

    def line_tax(v: Decimal) -> Decimal:
        return tax.round_tax_total(store, v) if per_line else v

    def line_net(v: Decimal) -> Decimal:
        return money.round_price(v, dp) if per_line else v

    cart_sub = cart_total = raw_tax = raw_sub_tax = Decimal(0)
    cart_taxes: dict[int, Decimal] = {}
    for line in d["line_items"]:
        raw = order.meta["raw"][str(line["id"])]
        cart_sub += line_net(Decimal(raw["subtotal"]))
        cart_total += line_net(Decimal(raw["total"]))
        for rid, t in raw["taxes"].items():
            cart_taxes[int(rid)] = cart_taxes.get(int(rid), Decimal(0)) + line_tax(Decimal(t))
            raw_tax += Decimal(t)
        raw_sub_tax += sum((Decimal(t) for t in raw["sub_taxes"].values()), Decimal(0))
    cart_tax = sum(cart_taxes.values(), Decimal(0))
    rates = {int(r["id"]): r for r in store.taxes}
    d["tax_lines"] = []
    for rid, amount in cart_taxes.items():
        r = rates.get(rid, {"id": rid, "rate": "0", "name": "", "compound": False})
        pct = Decimal(str(r["rate"]))
        d["tax_lines"].append(
            {
                "id": store.next_id("item"),
                "rate_code": tax.rate_code(r),
                "rate_id": rid,
                "label": r.get("name", ""),
                "compound": bool(r.get("compound")),
                "tax_total": fmt_money(amount, dp),
                "shipping_tax_total": fmt_money(Decimal(0), dp),
                "rate_percent": json_number(pct),
                "meta_data": [],
            }
        )
    exact = {
        "discount_total": money.round_price(cart_sub - cart_total, dp),
        "discount_tax": tax.round_tax_total(store, raw_sub_tax - raw_tax),
        "shipping_total": Decimal(0),
        "shipping_tax": Decimal(0),
        "cart_tax": cart_tax,
        # set_total_tax(): NumberUtil::round(..., dp), half up, not the tax rounding mode.
        "total_tax": money.round_price(cart_tax, dp),
        "total": money.round_price(cart_total + cart_tax, dp),
    }
    for key, value in exact.items():
        d[key] = fmt_money(value, dp)
    order.meta["exact"] = {key: str(value) for key, value in exact.items()}
    order.meta["exact_tax_lines"] = {str(rid): str(v) for rid, v in cart_taxes.items()}
