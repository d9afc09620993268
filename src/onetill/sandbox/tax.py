"""WooCommerce's tax arithmetic (``class-wc-tax.php``, ``abstract-wc-order.php``).

- Rates come from the store's base location (``woocommerce_default_country``)
  when the order has no address or ``woocommerce_tax_based_on`` is ``base``;
  the first matching rate per priority applies.
- ``WC_Tax::calc_tax`` results are rounded to 6 decimals, half up
  (``wc_get_rounding_precision()``).
- ``wc_round_tax_total`` rounds to the price decimals (``wc_get_price_decimals()``,
  the store's ``woocommerce_price_num_decimals``), **half down** when
  prices are entered including tax (``WC_TAX_ROUNDING_MODE`` "auto"), half up otherwise.
- Net line price for prices entered incl. tax: ``line - sum(inclusive taxes)``,
  unrounded (``wc_get_price_excluding_tax``).
"""

from __future__ import annotations

from decimal import ROUND_HALF_DOWN, ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from .money import price_decimals, quantum

if TYPE_CHECKING:
    from .state import SandboxStore

__all__ = [
    "base_rates",
    "calc_exclusive",
    "calc_inclusive",
    "net_line_price",
    "prices_include_tax",
    "rate_code",
    "round_precision",
    "round_tax_total",
]

_SIX = Decimal("0.000001")


def round_precision(v: Decimal) -> Decimal:
    """``WC_Tax::round``: 6 decimals, half up."""
    return v.quantize(_SIX, rounding=ROUND_HALF_UP)


def prices_include_tax(store: SandboxStore) -> bool:
    return store.setting("woocommerce_prices_include_tax", "no") == "yes"


def round_tax_total(store: SandboxStore, v: Decimal) -> Decimal:
    """``wc_round_tax_total``: price decimals, half down when prices include tax."""
    mode = ROUND_HALF_DOWN if prices_include_tax(store) else ROUND_HALF_UP
    return v.quantize(quantum(price_decimals(store)), rounding=mode)


def _class_slug(tax_class: str) -> str:
    return "standard" if tax_class in ("", "standard") else tax_class


def base_rates(store: SandboxStore, tax_class: str) -> list[dict[str, Any]]:
    """Rates for the shop's base address and ``tax_class``; first match per priority."""
    if store.setting("woocommerce_calc_taxes", "yes") != "yes":
        return []
    country, _, state = store.setting("woocommerce_default_country", "").partition(":")
    postcode = store.setting("woocommerce_store_postcode", "")
    city = store.setting("woocommerce_store_city", "").upper()
    wanted = _class_slug(tax_class)
    chosen: dict[int, dict[str, Any]] = {}
    for rate in sorted(
        store.taxes, key=lambda r: (int(r.get("priority", 1)), int(r.get("order", 0)))
    ):
        if _class_slug(str(rate.get("class", ""))) != wanted:
            continue
        if rate.get("country") not in ("", country):
            continue
        if rate.get("state") not in ("", state):
            continue
        codes = rate.get("postcodes") or ([rate["postcode"]] if rate.get("postcode") else [])
        if codes and postcode not in codes:
            continue
        cities = [
            c.upper() for c in (rate.get("cities") or ([rate["city"]] if rate.get("city") else []))
        ]
        if cities and city not in cities:
            continue
        chosen.setdefault(int(rate.get("priority", 1)), rate)
    return list(chosen.values())


def calc_exclusive(price: Decimal, rates: list[dict[str, Any]]) -> dict[int, Decimal]:
    taxes: dict[int, Decimal] = {}
    for r in rates:
        if not r.get("compound"):
            taxes[int(r["id"])] = price * Decimal(str(r["rate"])) / 100
    pre = price + sum(taxes.values(), Decimal(0))
    for r in rates:
        if r.get("compound"):
            t = pre * Decimal(str(r["rate"])) / 100
            taxes[int(r["id"])] = t
            pre += t
    return {k: round_precision(v) for k, v in taxes.items()}


def calc_inclusive(price: Decimal, rates: list[dict[str, Any]]) -> dict[int, Decimal]:
    taxes: dict[int, Decimal] = {int(r["id"]): Decimal(0) for r in rates}
    non_compound = price
    for r in reversed([r for r in rates if r.get("compound")]):
        rate = Decimal(str(r["rate"]))
        t = non_compound - non_compound / (1 + rate / 100)
        taxes[int(r["id"])] += t
        non_compound -= t
    regular = [r for r in rates if not r.get("compound")]
    total_rate = 1 + sum((Decimal(str(r["rate"])) for r in regular), Decimal(0)) / 100
    for r in regular:
        the_rate = Decimal(str(r["rate"])) / 100 / total_rate
        taxes[int(r["id"])] += the_rate * non_compound
    return {k: round_precision(v) for k, v in taxes.items()}


def net_line_price(
    store: SandboxStore, unit_price: str, qty: int, tax_class: str, taxable: bool
) -> Decimal:
    """``wc_get_price_excluding_tax(product, qty)``: unrounded net line price."""
    line = Decimal(unit_price or "0") * qty
    if taxable and prices_include_tax(store):
        return line - sum(calc_inclusive(line, base_rates(store, tax_class)).values(), Decimal(0))
    return line


def rate_code(rate: dict[str, Any]) -> str:
    """``WC_Tax::get_rate_code``: COUNTRY-STATE-NAME-PRIORITY, empty parts left out."""
    parts = [
        str(rate.get("country", "")).upper(),
        str(rate.get("state", "")).upper(),
        str(rate.get("name") or "TAX").upper(),
        str(rate.get("priority", 1)),
    ]
    return "-".join(p for p in parts if p)
