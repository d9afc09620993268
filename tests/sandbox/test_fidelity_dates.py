"""Dates as WooCommerce handles them: site timezone, strict windows, the Z + dates_are_gmt shift."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from onetill.sandbox.config import SandboxConfig
from onetill.sandbox.state import SandboxStore
from sandbox_support import Clock, store_client
from support import RECORDED_STORE

pytestmark = pytest.mark.anyio
T = datetime(2026, 11, 27, 15, 30, 6, tzinfo=UTC)  # a day after the recorded catalog
PRODUCTS = "/wp-json/wc/v3/products"


def _store(tz: str) -> tuple[SandboxStore, Clock]:
    clock = Clock(T.timestamp())
    config = SandboxConfig(store_dir=RECORDED_STORE, timezone=tz)
    return SandboxStore.from_config(config, clock=clock), clock


def _naive(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S")


async def _ids(c: Any, **params: str) -> set[int]:
    r = await c.get(PRODUCTS, params={"_fields": "id", "per_page": "100", **params})
    assert r.status_code == 200, r.text
    return {p["id"] for p in r.json()}


@pytest.mark.parametrize(
    ("tz", "local"), [("America/New_York", "10:30:06"), ("Europe/Berlin", "16:30:06")]
)
async def test_date_modified_is_site_local_and_gmt_is_utc_without_zone(tz: str, local: str) -> None:
    """A save at 15:30:06 UTC shows date_modified in site time and _gmt in UTC, no offsets."""
    store, _ = _store(tz)
    async with store_client(store) as c:
        r = await c.put(f"{PRODUCTS}/10", json={})
    body = r.json()
    assert body["date_modified_gmt"] == "2026-11-27T15:30:06"
    assert body["date_modified"] == f"2026-11-27T{local}"


async def test_modified_after_is_strict_at_one_second_resolution() -> None:
    """Two saves in one second: polling from it misses both; a second earlier finds both."""
    store, clock = _store("America/New_York")
    async with store_client(store) as c:
        await c.put(f"{PRODUCTS}/10", json={"regular_price": "1.00"})
        clock.advance(0.6)  # same second
        await c.put(f"{PRODUCTS}/11", json={"regular_price": "2.00"})
        at = _naive(T)
        assert await _ids(c, modified_after=at, dates_are_gmt="true") == set()
        assert await _ids(c, modified_after=at + ".999", dates_are_gmt="true") == set()
        before = _naive(T - timedelta(seconds=1))
        assert await _ids(c, modified_after=before, dates_are_gmt="true") == {10, 11}
        assert await _ids(
            c, modified_before=_naive(T), dates_are_gmt="true", include="10,11,12"
        ) == {12}


async def test_naive_date_without_dates_are_gmt_is_site_local() -> None:
    """Without dates_are_gmt the naive value is New York time."""
    store, _ = _store("America/New_York")
    async with store_client(store) as c:
        await c.put(f"{PRODUCTS}/10", json={})
        assert await _ids(c, modified_after="2026-11-27T10:30:05") == {10}
        assert await _ids(c, modified_after="2026-11-27T10:30:06") == set()
        assert await _ids(c, modified_after="2026-11-27T15:30:05") == set()  # UTC value, wrong


async def test_z_with_dates_are_gmt_misses_changes_east_of_utc() -> None:
    """Berlin (+1): '...Z' is turned into local time first, so a change 30 min ago is missed."""
    store, _ = _store("Europe/Berlin")
    async with store_client(store) as c:
        await c.put(f"{PRODUCTS}/10", json={})
        since = T - timedelta(minutes=30)
        assert await _ids(c, modified_after=_naive(since), dates_are_gmt="true") == {10}
        assert await _ids(c, modified_after=_naive(since) + "Z", dates_are_gmt="true") == set()
        assert await _ids(c, modified_after=_naive(since) + "+00:00", dates_are_gmt="true") == set()


async def test_z_with_dates_are_gmt_widens_the_window_west_of_utc() -> None:
    """New York (-5): a '...Z' cursor 30 min ahead still finds the change (shifted 5 h back)."""
    store, _ = _store("America/New_York")
    async with store_client(store) as c:
        await c.put(f"{PRODUCTS}/10", json={})
        future = _naive(T + timedelta(minutes=30))
        assert await _ids(c, modified_after=future, dates_are_gmt="true") == set()
        assert 10 in await _ids(c, modified_after=future + "Z", dates_are_gmt="true")


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-26",
        "2026-11-26T15:30",
        "yesterday",
        "2026-13-01T00:00:00",
        "2026-11-26T15:30:06+0530",  # rest_parse_date wants +HH or +HH:MM
        "2026-11-26T15:30:06z",  # only an upper-case Z
        "2026-11-26T15:30:06 UTC",
    ],
)
async def test_invalid_dates_are_a_400(value: str) -> None:
    """Dates WordPress cannot parse: 400 rest_invalid_param naming the parameter."""
    store, _ = _store("America/New_York")
    async with store_client(store) as c:
        r = await c.get(PRODUCTS, params={"modified_after": value})
    assert r.status_code == 400
    body = r.json()
    assert body["code"] == "rest_invalid_param"
    assert body["data"]["params"] == {"modified_after": "Invalid date."}
    assert body["data"]["details"]["modified_after"]["code"] == "rest_invalid_date"


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-26t15:30:06",
        "2026-11-26 15:30:06",
        "2026-11-26T15:30:06.5Z",
        "2026-11-26T15:30:06+05",
        "2026-11-26T15:30:06-05:30",
    ],
)
async def test_every_form_rest_parse_date_accepts_is_accepted(value: str) -> None:
    """The other side of the rule: these shapes pass WordPress's date check."""
    store, _ = _store("America/New_York")
    async with store_client(store) as c:
        r = await c.get(PRODUCTS, params={"modified_after": value, "_fields": "id"})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    ("tz", "offset"), [("America/New_York", -5), ("Europe/Berlin", 1), ("Asia/Kolkata", 5.5)]
)
async def test_index_gives_timezone_and_gmt_offset(tz: str, offset: float) -> None:
    """/wp-json/ shows the site timezone and its current UTC offset; Date is the server clock."""
    store, _ = _store(tz)
    async with store_client(store, auth=None) as c:
        r = await c.get("/wp-json/", params={"_fields": "gmt_offset,timezone_string"})
    assert r.json() == {"gmt_offset": offset, "timezone_string": tz}
    assert r.headers["date"] == "Fri, 27 Nov 2026 15:30:06 GMT"
