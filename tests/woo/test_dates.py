"""Polling cursors go out as naive UTC; *_gmt fields and Date headers come in as aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from onetill.woo import format_gmt_cursor, parse_gmt
from onetill.woo.dates import parse_http_date


def test_cursor_is_naive_utc_with_seconds_and_no_zone() -> None:
    """With dates_are_gmt=true a 'Z' or offset shifts WooCommerce's window: send neither."""
    new_york = timezone(timedelta(hours=-5))
    cursor = format_gmt_cursor(datetime(2026, 11, 26, 10, 30, 6, 999999, tzinfo=new_york))
    assert cursor == "2026-11-26T15:30:06"


def test_a_naive_cursor_is_refused() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        format_gmt_cursor(datetime(2026, 11, 26, 15, 30, 6))


def test_gmt_fields_parse_as_aware_utc() -> None:
    assert parse_gmt("2026-11-26T15:30:06") == datetime(2026, 11, 26, 15, 30, 6, tzinfo=UTC)
    assert parse_gmt("2026-11-26T15:30:06Z") == datetime(2026, 11, 26, 15, 30, 6, tzinfo=UTC)
    with pytest.raises(ValueError, match="not a WooCommerce GMT date"):
        parse_gmt("yesterday")


@given(
    st.datetimes(
        min_value=datetime(1971, 1, 1), max_value=datetime(2999, 1, 1), timezones=st.just(UTC)
    )
)
def test_cursor_round_trips_to_the_second(moment: datetime) -> None:
    assert parse_gmt(format_gmt_cursor(moment)) == moment.replace(microsecond=0)


def test_http_dates_parse_and_garbage_is_none() -> None:
    assert parse_http_date("Thu, 26 Nov 2026 15:39:29 GMT") == datetime(
        2026, 11, 26, 15, 39, 29, tzinfo=UTC
    )
    assert parse_http_date("not a date") is None
    assert parse_http_date(None) is None
