"""WooCommerce's tax arithmetic, reproduced to the cent, from the synced rates and settings.

A till sale has no customer address, so WooCommerce taxes it at the shop's
base location (``woocommerce_default_country``, store postcode and city).
The till uploads each line's *net* ``subtotal``/``total``; WooCommerce then
recalculates the order (``WC_Abstract_Order::calculate_totals``), and the
till must have charged exactly that total. The steps below follow
WooCommerce 11 (``class-wc-tax.php``, ``wc_get_price_excluding_tax``,
``WC_Order_Item::calculate_taxes``, ``update_taxes``, ``calculate_totals``):

1. Net of a line, prices entered with tax: ``gross - calc_inclusive_tax(gross)``
   where each rate's tax is rounded to 6 places (``WC_Tax::round``) and the
   net itself is not rounded ("unrounded since we're dealing with tax
   inclusive prices"). Prices entered without tax: ``price * qty``.
2. Line tax per rate: ``calc_exclusive_tax(net)``, each rate rounded to 6
   places, on the stored net (the order never uses the inclusive formula).
3. Per-line rounding (``woocommerce_tax_round_at_subtotal = no``): each
   line's tax per rate is rounded to the price decimals with the tax
   rounding mode (half *down* when prices include tax, else half up:
   ``WC_TAX_ROUNDING_MODE = 'auto'``), and each line's net is rounded to the
   price decimals (``round_item_subtotal``) before summing. At subtotal:
   nothing is rounded until the end.
4. ``total = round_half_up(sum(net) + sum(tax), decimals)``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_DOWN, ROUND_HALF_UP, Decimal

__all__ = [
    "LineInput",
    "LineTaxes",
    "OrderTotals",
    "TaxRate",
    "TaxSettings",
    "compute_order",
    "load_tax_context",
    "rates_for_class",
    "settings_from_mapping",
]

ZERO = Decimal("0")
# wc_get_rounding_precision(): max(price decimals + 2, WC_ROUNDING_PRECISION = 6),
# i.e. 6 for every store with at most 4 price decimals (settings_from_mapping
# refuses more than 4, so this stays exact).
_ROUNDING_PRECISION = 6


@dataclass(frozen=True)
class TaxRate:
    """One row of ``/taxes`` as the till needs it."""

    id: int
    rate: Decimal  # percent, e.g. Decimal("19.0000")
    tax_class: str = "standard"
    country: str = ""
    state: str = ""
    postcodes: tuple[str, ...] = ()
    cities: tuple[str, ...] = ()
    priority: int = 1
    compound: bool = False
    order: int = 0
    name: str = ""


@dataclass(frozen=True)
class TaxSettings:
    """The settings that shape the arithmetic (groups ``general`` and ``tax``)."""

    calc_taxes: bool = True
    prices_include_tax: bool = False
    round_at_subtotal: bool = False
    decimals: int = 2
    base_country: str = ""
    base_state: str = ""
    base_postcode: str = ""
    base_city: str = ""
    currency: str = ""

    @property
    def quantum(self) -> Decimal:
        return Decimal(1).scaleb(-self.decimals)


@dataclass(frozen=True)
class LineInput:
    """A cart line as tax sees it.

    ``unit_price`` is the shelf price (with or without tax per the store
    setting). ``net_subtotal``/``net_total`` override the computed net, like
    a REST line carrying explicit ``subtotal``/``total`` (a discount).
    """

    unit_price: Decimal
    quantity: int
    tax_class: str = ""  # '' or 'standard' is the standard class
    tax_status: str = "taxable"
    net_subtotal: Decimal | None = None
    net_total: Decimal | None = None


@dataclass(frozen=True)
class LineTaxes:
    """What WooCommerce stores on one line item."""

    subtotal: Decimal  # net, at 6 places (what the till uploads)
    total: Decimal
    subtotal_tax: Decimal  # at price decimals (per-line) or 6 places (at subtotal)
    total_tax: Decimal
    taxes: dict[int, Decimal]  # rate id -> 6-place tax on the net total


@dataclass(frozen=True)
class OrderTotals:
    """The totals WooCommerce will compute for the same order."""

    lines: list[LineTaxes]
    subtotal: Decimal  # sum of line net subtotals, at price decimals
    total_tax: Decimal
    total: Decimal  # what the customer pays
    tax_lines: dict[int, Decimal]  # rate id -> tax (per the rounding setting)
    discount_total: Decimal
    discount_tax: Decimal = ZERO
    currency: str = ""


def _r6(value: Decimal) -> Decimal:
    """``WC_Tax::round``: 6 places, half up (PHP ``round``)."""
    return value.quantize(Decimal(1).scaleb(-_ROUNDING_PRECISION), rounding=ROUND_HALF_UP)


def _class_slug(tax_class: str) -> str:
    return "standard" if tax_class in ("", "standard") else tax_class


def rates_for_class(
    rates: Sequence[TaxRate], settings: TaxSettings, tax_class: str
) -> list[TaxRate]:
    """The base-location rates for ``tax_class``, one per priority (``find_rates``).

    Matching: country and state equal or empty; postcodes/cities empty or
    containing the base value (wildcards ``*`` and ranges ``a...b`` as
    WooCommerce allows). Sorted by priority, then the most specific.
    """
    slug = _class_slug(tax_class)
    country = settings.base_country.upper()
    state = settings.base_state.upper()
    if not country:
        return []
    found = [
        r
        for r in rates
        if _class_slug(r.tax_class) == slug
        and r.country.upper() in (country, "")
        and r.state.upper() in (state, "")
        and _postcode_matches(r.postcodes, settings.base_postcode)
        and (not r.cities or settings.base_city.upper() in {c.upper() for c in r.cities})
    ]
    found.sort(
        key=lambda r: (
            r.priority,
            r.country == "",
            r.state == "",
            -len(r.postcodes),
            -len(r.cities),
            r.id,
        )
    )
    chosen: list[TaxRate] = []
    seen: set[int] = set()
    for r in found:
        if r.priority in seen:
            continue
        seen.add(r.priority)
        chosen.append(r)
    return chosen


def _postcode_matches(patterns: Sequence[str], postcode: str) -> bool:
    if not patterns:
        return True
    code = postcode.upper().replace(" ", "")
    for raw in patterns:
        pat = raw.upper().replace(" ", "")
        if "..." in pat:
            low, _, high = pat.partition("...")
            digits = code.isdigit() and low.isdigit() and high.isdigit()
            if digits and int(low) <= int(code) <= int(high):
                return True
            continue
        if pat.endswith("*"):
            if code.startswith(pat[:-1]):
                return True
        elif pat == code:
            return True
    return False


def _inclusive_taxes(price: Decimal, rates: Sequence[TaxRate]) -> dict[int, Decimal]:
    """``WC_Tax::calc_inclusive_tax``: tax contained in a gross price, per rate."""
    taxes: dict[int, Decimal] = {r.id: ZERO for r in rates}
    non_compound = price
    for r in reversed([r for r in rates if r.compound]):
        amount = non_compound - non_compound / (1 + r.rate / 100)
        taxes[r.id] += amount
        non_compound -= amount
    regular = [r for r in rates if not r.compound]
    regular_total = 1 + sum((r.rate for r in regular), ZERO) / 100
    for r in regular:
        the_rate = (r.rate / 100) / regular_total
        net_price = price - the_rate * non_compound
        taxes[r.id] += price - net_price
    return {k: _r6(v) for k, v in taxes.items()}


def _exclusive_taxes(price: Decimal, rates: Sequence[TaxRate]) -> dict[int, Decimal]:
    """``WC_Tax::calc_exclusive_tax``: tax on a net price, per rate."""
    taxes: dict[int, Decimal] = {}
    for r in rates:
        if not r.compound:
            taxes[r.id] = taxes.get(r.id, ZERO) + price * r.rate / 100
    pre_compound = sum(taxes.values(), ZERO)
    for r in rates:
        if r.compound:
            taxes[r.id] = taxes.get(r.id, ZERO) + (price + pre_compound) * r.rate / 100
            pre_compound = sum(taxes.values(), ZERO)
    return {k: _r6(v) for k, v in taxes.items()}


def _taxable(settings: TaxSettings, line: LineInput) -> bool:
    return settings.calc_taxes and line.tax_status == "taxable"


def line_net(line: LineInput, rates: Sequence[TaxRate], settings: TaxSettings) -> Decimal:
    """The net line price WooCommerce stores (``wc_get_price_excluding_tax``)."""
    gross = line.unit_price * line.quantity
    if _taxable(settings, line) and settings.prices_include_tax:
        return _r6(gross - sum(_inclusive_taxes(gross, rates).values(), ZERO))
    return _r6(gross)


def compute_order(
    lines: Sequence[LineInput], rates: Sequence[TaxRate], settings: TaxSettings
) -> OrderTotals:
    """Totals, taxes and per-line nets exactly as WooCommerce computes them."""
    q = settings.quantum
    # WC_TAX_ROUNDING_MODE 'auto': half down when prices are entered with tax.
    tax_mode = ROUND_HALF_DOWN if settings.prices_include_tax else ROUND_HALF_UP
    per_line = not settings.round_at_subtotal
    out_lines: list[LineTaxes] = []
    cart_taxes: dict[int, Decimal] = {}
    lines_total = ZERO
    lines_subtotal = ZERO
    raw_total_tax = ZERO
    raw_subtotal_tax = ZERO
    for line in lines:
        line_rates = rates_for_class(rates, settings, line.tax_class)
        computed = line_net(line, line_rates, settings)
        subtotal = _r6(line.net_subtotal) if line.net_subtotal is not None else computed
        total = _r6(line.net_total) if line.net_total is not None else subtotal
        if _taxable(settings, line) and line_rates:
            taxes = _exclusive_taxes(total, line_rates)
            subtotal_taxes = _exclusive_taxes(subtotal, line_rates)
        else:
            taxes, subtotal_taxes = {}, {}
        if sum(subtotal_taxes.values(), ZERO) < sum(taxes.values(), ZERO):
            subtotal_taxes = dict(taxes)  # WooCommerce: "Subtotal cannot be less than total!"
        raw_total_tax += sum(taxes.values(), ZERO)
        raw_subtotal_tax += sum(subtotal_taxes.values(), ZERO)
        if per_line:
            line_tax = sum((v.quantize(q, rounding=tax_mode) for v in taxes.values()), ZERO)
            line_sub_tax = sum(
                (v.quantize(q, rounding=tax_mode) for v in subtotal_taxes.values()), ZERO
            )
        else:
            line_tax = sum(taxes.values(), ZERO)
            line_sub_tax = sum(subtotal_taxes.values(), ZERO)
        for rate_id, amount in taxes.items():
            part = amount.quantize(q, rounding=tax_mode) if per_line else amount
            cart_taxes[rate_id] = cart_taxes.get(rate_id, ZERO) + part
        # round_item_subtotal(): net rounded per line only with per-line rounding.
        lines_total += total.quantize(q, rounding=ROUND_HALF_UP) if per_line else total
        lines_subtotal += subtotal.quantize(q, rounding=ROUND_HALF_UP) if per_line else subtotal
        out_lines.append(LineTaxes(subtotal, total, line_sub_tax, line_tax, taxes))
    cart_tax = sum(cart_taxes.values(), ZERO)
    grand = (lines_total + cart_tax).quantize(q, rounding=ROUND_HALF_UP)
    return OrderTotals(
        lines=out_lines,
        subtotal=lines_subtotal.quantize(q, rounding=ROUND_HALF_UP),
        total_tax=cart_tax.quantize(q, rounding=ROUND_HALF_UP),
        total=grand,
        tax_lines=cart_taxes,
        discount_total=(lines_subtotal - lines_total).quantize(q, rounding=ROUND_HALF_UP),
        discount_tax=(raw_subtotal_tax - raw_total_tax).quantize(q, rounding=tax_mode),
        currency=settings.currency,
    )


def _yes(value: str | None, default: bool = False) -> bool:
    return default if value is None else value.strip().lower() == "yes"


def load_tax_context(conn: sqlite3.Connection) -> tuple[list[TaxRate], TaxSettings]:
    """The synced rates and settings, as the arithmetic needs them."""
    values = {str(row[0]): str(row[1]) for row in conn.execute("SELECT id, value FROM settings")}
    settings = settings_from_mapping(values)
    rates = [
        TaxRate(
            id=int(row["id"]),
            rate=Decimal(str(row["rate"]) or "0"),
            tax_class=str(row["class"]),
            country=str(row["country"]),
            state=str(row["state"]),
            postcodes=tuple(_json_list(row["postcodes"])),
            cities=tuple(_json_list(row["cities"])),
            priority=int(row["priority"]),
            compound=bool(row["compound"]),
            order=int(row["rate_order"]),
            name=str(row["name"]),
        )
        for row in conn.execute("SELECT * FROM tax_rates ORDER BY rate_order, id")
    ]
    return rates, settings


def _json_list(raw: object) -> list[str]:
    try:
        value = json.loads(str(raw or "[]"))
    except ValueError:
        return []
    return [str(v) for v in value] if isinstance(value, list) else []


def settings_from_mapping(values: Mapping[str, str]) -> TaxSettings:
    """Settings from ``id -> value`` (the ``settings`` table, or a test)."""
    country, _, state = values.get("woocommerce_default_country", "").partition(":")
    return TaxSettings(
        calc_taxes=_yes(values.get("woocommerce_calc_taxes"), default=True),
        prices_include_tax=_yes(values.get("woocommerce_prices_include_tax")),
        round_at_subtotal=_yes(values.get("woocommerce_tax_round_at_subtotal")),
        decimals=_decimals(values.get("woocommerce_price_num_decimals", "2")),
        base_country=country,
        base_state=state,
        base_postcode=values.get("woocommerce_store_postcode", ""),
        base_city=values.get("woocommerce_store_city", ""),
        currency=values.get("woocommerce_currency", ""),
    )


def _decimals(raw: str) -> int:
    try:
        value = int(raw or "2")
    except ValueError:
        return 2
    if not 0 <= value <= 4:
        raise ValueError(
            f"woocommerce_price_num_decimals is {value}; the till supports 0 to 4 price decimals"
        )
    return value
