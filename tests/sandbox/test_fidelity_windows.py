"""Date windows west and east of UTC, for products and orders, and stable order paging.

WooCommerce facts (WOOCOMMERCE.md): a naive value with ``dates_are_gmt=true``
is UTC; without it, site-local. A ``Z`` or an offset together with
``dates_are_gmt=true`` is first turned into site-local wall time and then
compared with the GMT column, which shifts the window by the site's offset
(wider west of UTC, missing changes east of it). Windows are strict at one
second. Orders filter ``after``/``before`` on creation time the same way, and
list by date desc with the ID appended, so paging is stable.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx2
import pytest

from onetill.sandbox.config import SandboxConfig
from onetill.sandbox.state import SandboxStore
from sandbox_support import Clock, store_client
from support import RECORDED_STORE

pytestmark = pytest.mark.anyio
PRODUCTS = "/wp-json/wc/v3/products"
ORDERS = "/wp-json/wc/v3/orders"
WINTER = datetime(2026, 11, 27, 15, 30, 6, tzinfo=UTC)
SUMMER = datetime(2026, 7, 15, 12, 0, 6, tzinfo=UTC)  # Berlin is UTC+2 (CEST) then

# (timezone, moment of the save, site offset in hours at that moment)
SITES = [
    ("America/New_York", WINTER, -5),
    ("America/New_York", SUMMER, -4),
    ("Asia/Tokyo", WINTER, 9),
    ("Europe/Berlin", SUMMER, 2),
]
SITE_IDS = [f"{tz}-{when:%b}" for tz, when, _ in SITES]


def _store(tz: str, when: datetime) -> tuple[SandboxStore, Clock]:
    clock = Clock(when.timestamp() + 0.7)  # a fraction into the second: it must not count
    config = SandboxConfig(store_dir=RECORDED_STORE, timezone=tz)
    return SandboxStore.from_config(config, clock=clock), clock


def _naive(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S")


def _zoned(dt: datetime, tz: str) -> str:
    """``dt`` written as site-local time with its offset, e.g. ``...T00:00:06+09:00``."""
    return dt.astimezone(ZoneInfo(tz)).isoformat()


async def _product_ids(c: httpx2.AsyncClient, **params: str) -> set[int]:
    r = await c.get(PRODUCTS, params={"_fields": "id", "include": "10,11", **params})
    assert r.status_code == 200, r.text
    return {p["id"] for p in r.json()}


async def _order_ids(c: httpx2.AsyncClient, **params: str) -> list[int]:
    r = await c.get(ORDERS, params={"_fields": "id", "per_page": "100", **params})
    assert r.status_code == 200, r.text
    return [o["id"] for o in r.json()]


@pytest.mark.parametrize(("tz", "when", "offset_h"), SITES, ids=SITE_IDS)
async def test_modified_after_west_and_east_with_and_without_dates_are_gmt(
    tz: str, when: datetime, offset_h: int
) -> None:
    """Naive UTC with dates_are_gmt is exact; Z/offset with it is shifted by the site offset;
    naive site-local without dates_are_gmt is exact; a zoned value without it is exact."""
    store, clock = _store(tz, when)
    clock.advance(-10)
    async with store_client(store) as c:
        assert (await c.put(f"{PRODUCTS}/11", json={})).status_code == 200
        clock.advance(10)
        assert (await c.put(f"{PRODUCTS}/10", json={})).status_code == 200
        local = when.astimezone(ZoneInfo(tz))
        shift = timedelta(hours=offset_h)
        gmt = {"dates_are_gmt": "true"}
        # naive UTC + dates_are_gmt: strict, fractions truncated
        assert await _product_ids(c, modified_after=_naive(when - timedelta(seconds=1)), **gmt) == {
            10
        }
        assert await _product_ids(c, modified_after=_naive(when), **gmt) == set()
        assert await _product_ids(c, modified_after=_naive(when) + ".999999", **gmt) == set()
        # ...Z + dates_are_gmt: V is read as V + offset, so the bound moves by the offset
        just_before_shifted = when - shift - timedelta(seconds=1)
        assert (
            await _product_ids(c, modified_after=_naive(just_before_shifted) + "Z", **gmt) == {10}
        )
        assert await _product_ids(c, modified_after=_naive(when - shift) + "Z", **gmt) == set()
        # an offset (the site's own) + dates_are_gmt: same shift
        earlier = when - timedelta(seconds=1)
        # (east of UTC the local wall time is later than the instant, so a bound one
        # second before the save lands hours after it: the change is missed)
        expected = set() if offset_h > 0 else {10, 11}  # west: hours wider
        assert await _product_ids(c, modified_after=_zoned(earlier, tz), **gmt) == expected
        assert await _product_ids(c, modified_after=_naive(earlier) + "Z", **gmt) == expected
        # without dates_are_gmt: naive is site-local, zoned values are exact instants
        before_local = local - timedelta(seconds=1)
        assert await _product_ids(c, modified_after=_naive(before_local)) == {10}
        assert await _product_ids(c, modified_after=_naive(local)) == set()
        assert await _product_ids(c, modified_after=_naive(earlier)) == (
            {10, 11} if offset_h > 0 else set()
        )  # a UTC value read as local time: hours early east of UTC, hours late west
        assert await _product_ids(c, modified_after=_zoned(earlier, tz)) == {10}
        assert await _product_ids(c, modified_after=_naive(earlier) + "Z") == {10}
        assert await _product_ids(c, modified_after=_naive(when) + "Z") == set()
        # modified_before: strict the other way
        assert await _product_ids(c, modified_before=_naive(when), **gmt) == {11}
        after = when + timedelta(seconds=1)
        assert await _product_ids(c, modified_before=_naive(after), **gmt) == {10, 11}


async def _place(c: httpx2.AsyncClient) -> int:
    r = await c.post(ORDERS, json={"line_items": [{"product_id": 40, "quantity": 1}]})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


@pytest.mark.parametrize(("tz", "when", "offset_h"), SITES, ids=SITE_IDS)
async def test_order_after_and_before_filter_on_creation_time(
    tz: str, when: datetime, offset_h: int
) -> None:
    """after/before compare the creation second strictly; dates_are_gmt and Z behave as
    for products; a later edit (modified) does not move an order in an after= window."""
    store, clock = _store(tz, when)
    clock.advance(-10)
    async with store_client(store) as c:
        old = await _place(c)
        clock.advance(10)
        new = await _place(c)
        clock.advance(30)
        r = await c.put(f"{ORDERS}/{old}", json={"customer_note": "edited later"})
        assert r.status_code == 200
        gmt = {"dates_are_gmt": "true"}
        local = when.astimezone(ZoneInfo(tz))
        second = timedelta(seconds=1)
        assert await _order_ids(c, after=_naive(when - second), **gmt) == [new]
        assert await _order_ids(c, after=_naive(when), **gmt) == []
        assert await _order_ids(c, after=_naive(when) + ".5", **gmt) == []
        assert await _order_ids(c, before=_naive(when), **gmt) == [old]
        assert await _order_ids(c, before=_naive(when + second), **gmt) == [new, old]
        assert await _order_ids(c, after=_naive(local - second)) == [new]
        assert await _order_ids(c, after=_naive(local)) == []
        zulu = await _order_ids(c, after=_naive(when - second) + "Z", **gmt)
        assert zulu == ([] if offset_h > 0 else [new, old])  # shifted by the site offset
        assert await _order_ids(c, modified_after=_naive(when), **gmt) == [old]


async def test_orders_created_in_one_second_page_deterministically() -> None:
    """Default order is date desc with ID desc appended: pages of same-second orders never
    repeat or skip one, and the answer is the same on every read."""
    store, clock = _store("America/New_York", WINTER)
    async with store_client(store) as c:
        ids = [await _place(c) for _ in range(5)]  # one second
        clock.advance(1)
        ids += [await _place(c) for _ in range(2)]
        clock.advance(1)
        expected = sorted(ids[5:], reverse=True) + sorted(ids[:5], reverse=True)
        for _ in range(2):
            paged: list[int] = []
            for page in range(1, 5):
                paged += await _order_ids(c, per_page="2", page=str(page))
            assert paged == expected
        ascending = await _order_ids(c, order="asc")
        assert ascending == sorted(ids[:5]) + sorted(ids[5:])
        by_id = await _order_ids(c, orderby="id", order="asc")
        assert by_id == sorted(ids)


async def test_trashed_orders_leave_the_default_listing_and_force_deleted_ones_every_listing() -> (
    None
):
    """Default status is any without trash; status=trash lists trashed orders (with the same
    after= window the outbox scans with); a second DELETE is 410; a force-deleted order is
    in no listing and its GET is 404."""
    store, clock = _store("America/New_York", WINTER)
    async with store_client(store) as c:
        kept, trashed, gone = [await _place(c) for _ in range(3)]
        clock.advance(1)
        assert (await c.delete(f"{ORDERS}/{trashed}")).status_code == 200
        again = await c.delete(f"{ORDERS}/{trashed}")
        assert (again.status_code, again.json()["code"]) == (
            410,
            "woocommerce_rest_already_trashed",
        )
        assert (await c.delete(f"{ORDERS}/{gone}", params={"force": "true"})).status_code == 200
        since = _naive(WINTER - timedelta(seconds=1))
        gmt = {"dates_are_gmt": "true"}
        assert await _order_ids(c, after=since, **gmt) == [kept]
        assert await _order_ids(c, after=since, status="trash", **gmt) == [trashed]
        missing = await c.get(f"{ORDERS}/{gone}")
        assert (missing.status_code, missing.json()["code"]) == (
            404,
            "woocommerce_rest_shop_order_invalid_id",
        )
