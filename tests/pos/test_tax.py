"""The till's tax arithmetic equals WooCommerce's, to the cent."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from onetill.pos.cart import Cart
from onetill.pos.tax import (
    LineInput,
    TaxRate,
    TaxSettings,
    compute_order,
    load_tax_context,
    rates_for_class,
)
from onetill.store.db import Database
from support import load_fixture

CASES: dict[str, Any] = load_fixture("orders-tax/orders-tax.json")["cases"]

DE = TaxSettings(
    prices_include_tax=True, decimals=2, base_country="DE", base_state="DE-BE", currency="EUR"
)
STANDARD = TaxRate(id=1, rate=Decimal("19.0000"), tax_class="standard", country="DE")
REDUCED = TaxRate(id=2, rate=Decimal("7.0000"), tax_class="reduced-rate", country="DE")


@pytest.mark.parametrize("name", sorted(CASES))
def test_recorded_order_totals_match_woocommerce(db: Database, name: str) -> None:
    """Each recorded real order: the cart built from the synced catalog totals like WooCommerce."""
    case = CASES[name]
    cart = Cart(db.conn, timezone="America/New_York")
    explicit: list[LineInput] = []
    for item in case["request"]["line_items"]:
        line = cart.add_id(item.get("variation_id") or item["product_id"], item["quantity"])
        explicit.append(
            LineInput(
                line.unit_price, line.quantity, line.tax_class, line.tax_status,
                Decimal(item["subtotal"]) if "subtotal" in item else None,
                Decimal(item["total"]) if "total" in item else None,
            )
        )  # fmt: skip
    rates, tax_settings = load_tax_context(db.conn)
    totals = compute_order(explicit, rates, tax_settings)
    assert str(totals.total) == case["response"]["total"]
    assert str(totals.total_tax) == case["response"]["total_tax"]
    assert str(totals.discount_total) == case["response"]["discount_total"]
    if "discount_tax" in case["response"]:
        assert str(totals.discount_tax) == case["response"]["discount_tax"]
    for mine, theirs in zip(totals.lines, case["line_items"], strict=True):
        assert str(mine.total.quantize(Decimal("0.01"))) == theirs["total"]
        assert str(mine.subtotal.quantize(Decimal("0.01"))) == theirs["subtotal"]
        assert str(mine.total_tax) == theirs["total_tax"]
        assert str(mine.subtotal_tax) == theirs["subtotal_tax"]
    for tax_line in case["tax_lines"]:
        assert str(totals.tax_lines[tax_line["rate_id"]]) == tax_line["tax_total"]


def test_recorded_cart_without_explicit_totals_uses_current_prices(db: Database) -> None:
    """A plain cart (no explicit nets) of the mixed-class order totals 390.74 like the store."""
    cart = Cart(db.conn)
    cart.add("SIMPLE-003", 2)
    cart.add("SIMPLE-032", 1)
    cart.add("SIMPLE-061", 5)
    totals = cart.totals()
    assert totals.total == Decimal("390.74")
    assert totals.tax_lines == {1: Decimal("20.38"), 2: Decimal("17.21")}


def test_net_line_is_unrounded_gross_minus_six_place_tax() -> None:
    """63.48 incl. 7 %: WooCommerce stores the net 59.327103, not 59.33."""
    totals = compute_order([LineInput(Decimal("63.48"), 1, "reduced-rate")], [REDUCED], DE)
    assert totals.lines[0].total == Decimal("59.327103")
    assert totals.total == Decimal("63.48")


def test_prices_excluding_tax_add_tax_on_top() -> None:
    """Prices entered without tax: 10.00 at 19 % costs 11.90."""
    excl = TaxSettings(prices_include_tax=False, base_country="DE")
    totals = compute_order([LineInput(Decimal("10.00"), 1)], [STANDARD], excl)
    assert totals.total == Decimal("11.90")
    assert totals.lines[0].total == Decimal("10.000000")


def test_half_cent_tax_rounds_half_up_when_prices_exclude_tax() -> None:
    """Excl. tax: 0.025 of tax is 0.03 (WC_TAX_ROUNDING_MODE auto = half up)."""
    excl = TaxSettings(prices_include_tax=False, base_country="DE")
    rate = TaxRate(id=9, rate=Decimal("10"), country="DE")
    totals = compute_order([LineInput(Decimal("0.25"), 1)], [rate], excl)
    assert totals.total_tax == Decimal("0.03")
    assert totals.total == Decimal("0.28")


def test_rounding_at_subtotal_differs_from_per_line() -> None:
    """Three lines of 0.05 tax-excl. at 10 %: per line 3 x 0.01 (half up of 0.005); at
    subtotal 0.015 -> 0.02."""
    rate = TaxRate(id=9, rate=Decimal("10"), country="DE")
    lines = [LineInput(Decimal("0.05"), 1)] * 3
    per_line = compute_order(lines, [rate], TaxSettings(base_country="DE"))
    at_subtotal = compute_order(
        lines, [rate], TaxSettings(base_country="DE", round_at_subtotal=True)
    )
    assert per_line.total_tax == Decimal("0.03")
    assert at_subtotal.total_tax == Decimal("0.02")
    assert per_line.total == Decimal("0.18")
    assert at_subtotal.total == Decimal("0.17")


def test_store_decimals_are_respected() -> None:
    """A zero-decimal currency (JPY) rounds taxes and totals to whole units."""
    jpy = TaxSettings(prices_include_tax=False, decimals=0, base_country="JP")
    rate = TaxRate(id=3, rate=Decimal("10"), country="JP")
    totals = compute_order([LineInput(Decimal("1234"), 1)], [rate], jpy)
    assert totals.total == Decimal("1357")
    assert totals.total_tax == Decimal("123")


def test_rates_follow_the_base_location_not_other_countries() -> None:
    """Only rates for the shop's base country (or for everywhere) apply to a till sale."""
    french = TaxRate(id=5, rate=Decimal("20"), country="FR")
    everywhere = TaxRate(id=6, rate=Decimal("1"), country="", priority=2)
    chosen = rates_for_class([french, STANDARD, everywhere], DE, "")
    assert [r.id for r in chosen] == [1, 6]


def test_one_rate_per_priority_most_specific_first() -> None:
    """Two matching rates of one priority: only the more specific (state) one counts."""
    state_rate = TaxRate(id=7, rate=Decimal("5"), country="DE", state="DE-BE")
    chosen = rates_for_class([STANDARD, state_rate], DE, "standard")
    assert [r.id for r in chosen] == [7]


def test_postcode_wildcards_and_ranges_match_the_base_postcode() -> None:
    """Postcode patterns (prefix* and a...b ranges) match like WooCommerce's."""
    where = TaxSettings(base_country="DE", base_postcode="10115")
    wild = TaxRate(id=1, rate=Decimal("1"), country="DE", postcodes=("101*",))
    ranged = TaxRate(
        id=2, rate=Decimal("1"), country="DE", postcodes=("10000...10200",), priority=2
    )
    other = TaxRate(id=3, rate=Decimal("1"), country="DE", postcodes=("20*",), priority=3)
    assert [r.id for r in rates_for_class([wild, ranged, other], where, "")] == [1, 2]


def test_compound_rate_taxes_the_price_plus_earlier_taxes() -> None:
    """A compound rate applies to price + the non-compound taxes (Canadian style)."""
    gst = TaxRate(id=1, rate=Decimal("5"), country="CA")
    pst = TaxRate(id=2, rate=Decimal("10"), country="CA", compound=True, priority=2)
    ca = TaxSettings(base_country="CA")
    totals = compute_order([LineInput(Decimal("100.00"), 1)], [gst, pst], ca)
    assert totals.tax_lines == {1: Decimal("5.00"), 2: Decimal("10.50")}
    assert totals.total == Decimal("115.50")


def test_untaxed_items_and_disabled_taxes_pay_no_tax() -> None:
    """tax_status none, or woocommerce_calc_taxes = no: the total is the price."""
    none = compute_order([LineInput(Decimal("9.99"), 2, tax_status="none")], [STANDARD], DE)
    off = compute_order([LineInput(Decimal("9.99"), 2)], [STANDARD], TaxSettings(calc_taxes=False))
    assert none.total == off.total == Decimal("19.98")
    assert none.total_tax == off.total_tax == Decimal("0.00")


money = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("999.99"), places=2)
line = st.tuples(money, st.integers(1, 50), st.sampled_from(["", "reduced-rate"]))


@settings(max_examples=300, deadline=None)
@given(st.lists(line, min_size=1, max_size=12))
def test_inclusive_prices_total_is_exactly_the_shelf_prices(lines: list[Any]) -> None:
    """Prices incl. tax, per-line rounding: the customer pays the sum of the shelf prices.

    (WooCommerce rounds the net half up and the tax half down, so they always
    add back up to the gross.)
    """
    inputs = [LineInput(price, qty, cls) for price, qty, cls in lines]
    totals = compute_order(inputs, [STANDARD, REDUCED], DE)
    assert totals.total == sum((p * q for p, q, _ in lines), Decimal(0))
    assert totals.total_tax == sum(totals.tax_lines.values(), Decimal(0))
    assert all(v >= 0 for v in totals.tax_lines.values())


@settings(max_examples=300, deadline=None)
@given(st.lists(line, min_size=1, max_size=12), st.booleans(), st.booleans())
def test_totals_are_consistent_whatever_the_settings(
    lines: list[Any], include: bool, at_subtotal: bool
) -> None:
    """Any settings: total = rounded (sum of nets + tax); tax never negative; cents only."""
    config = TaxSettings(
        prices_include_tax=include, round_at_subtotal=at_subtotal, base_country="DE"
    )
    totals = compute_order([LineInput(p, q, c) for p, q, c in lines], [STANDARD, REDUCED], config)
    assert totals.total == totals.total.quantize(Decimal("0.01"))
    assert totals.total_tax >= 0
    gross = sum((p * q for p, q, _ in lines), Decimal(0))
    if include:
        assert abs(totals.total - gross) <= Decimal("0.01") * len(lines)
    else:
        assert totals.total >= gross
        assert abs(totals.total - gross - totals.total_tax) <= Decimal("0.01")


def test_store_with_more_than_four_decimals_is_refused_clearly() -> None:
    """5 price decimals would change WooCommerce's internal precision: refused with the reason."""
    from onetill.pos.tax import settings_from_mapping

    with pytest.raises(ValueError, match="0 to 4 price decimals"):
        settings_from_mapping({"woocommerce_price_num_decimals": "5"})
