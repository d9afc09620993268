"""The price charged: the sale price only inside its window, judged in the store's timezone."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from onetill.pos.prices import PriceError, current_price

ON_SALE = {
    "id": 34,
    "regular_price": "87.72",
    "sale_price": "70.18",
    "price": "70.18",
    "sale_from_gmt": "2026-12-01T05:00:00",  # 00:00 in New York
    "sale_to_gmt": "2026-12-08T04:59:59",  # 23:59:59 on 7 December in New York
}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_sale_price_applies_inside_the_window() -> None:
    """Inside the window the sale price is charged."""
    assert current_price(ON_SALE, at("2026-12-03T12:00:00")) == Decimal("70.18")


def test_regular_price_before_and_after_the_window() -> None:
    """Before the start and after the end the regular price is charged, whatever `price` says."""
    assert current_price(ON_SALE, at("2026-12-01T04:59:59")) == Decimal("87.72")
    assert current_price(ON_SALE, at("2026-12-08T05:00:00")) == Decimal("87.72")


def test_window_edges_are_inclusive() -> None:
    """The first and the last second of the window are on sale."""
    assert current_price(ON_SALE, at("2026-12-01T05:00:00")) == Decimal("70.18")
    assert current_price(ON_SALE, at("2026-12-08T04:59:59")) == Decimal("70.18")


def test_open_window_means_always_on_sale() -> None:
    """A sale price without dates applies now."""
    product = {"regular_price": "14.25", "sale_price": "11.40", "price": "11.40"}
    assert current_price(product, at("2030-01-01T00:00:00")) == Decimal("11.40")


def test_local_sale_dates_are_read_in_the_store_timezone() -> None:
    """With only the site-local dates, 1 December starts at midnight New York time."""
    product = {
        "regular_price": "10.00",
        "sale_price": "8.00",
        "raw_dates": {"date_on_sale_from": "2026-12-01", "date_on_sale_to": "2026-12-01"},
    }
    tz = "America/New_York"
    assert current_price(product, at("2026-12-01T04:30:00"), tz) == Decimal("10.00")
    assert current_price(product, at("2026-12-01T05:30:00"), tz) == Decimal("8.00")
    assert current_price(product, at("2026-12-02T04:59:00"), tz) == Decimal("8.00")
    assert current_price(product, at("2026-12-02T05:00:01"), tz) == Decimal("10.00")


def test_product_without_any_price_is_refused() -> None:
    """No regular, sale or current price: a clear error naming the product."""
    with pytest.raises(PriceError, match="SKU-X"):
        current_price({"id": 5, "sku": "SKU-X", "regular_price": ""}, at("2026-01-01T00:00:00"))


def test_naive_now_is_rejected() -> None:
    """Times are aware: a naive `now` is a programming error, not a guess."""
    with pytest.raises(ValueError, match="aware"):
        current_price(ON_SALE, datetime(2026, 12, 3))


@given(st.datetimes(timezones=st.just(UTC)))
def test_price_is_always_regular_or_sale(now: datetime) -> None:
    """At any moment the price is one of the two, and sale only inside the window."""
    price = current_price(ON_SALE, now)
    inside = at(ON_SALE["sale_from_gmt"]) <= now <= at(ON_SALE["sale_to_gmt"])
    assert price == (Decimal("70.18") if inside else Decimal("87.72"))
