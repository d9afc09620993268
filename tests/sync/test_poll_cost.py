"""What an idle poll costs the store, and that the cheaper poll still misses nothing:
the orders window read only until sales are shown to stamp their products (then as a
backstop), and an overlap no wider than a slow save needs."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from catalog_support import Shop, open_shop
from onetill.store.catalog import get_item
from onetill.store.sync_state import get_state
from onetill.sync import sale_signal
from onetill.sync.catalog import delta_sync, initial_sync
from onetill.sync.poll_window import COMMIT_LAG_S, UNMEASURED_REQUEST_S
from onetill.woo import format_gmt_cursor, parse_gmt

pytestmark = pytest.mark.anyio


def _stock(shop: Shop, iid: int) -> int | None:
    item = get_item(shop.db.conn, iid)
    assert item is not None, f"item {iid} is not in the local catalog"
    return item.stock_quantity


def _price(shop: Shop, iid: int) -> str:
    item = get_item(shop.db.conn, iid)
    assert item is not None, f"item {iid} is not in the local catalog"
    return str(item.regular_price)


async def _poll(shop: Shop, seconds: float = 30) -> list[str]:
    """Advance the store's clock and poll; the paths the poll asked for, besides the
    first page of `taxes` that every poll reads (tax rates carry no modified date)."""
    shop.clock.advance(seconds)  # type: ignore[union-attr]
    shop.log.clear()
    await delta_sync(shop.client, shop.db)
    paths = sorted(r.path for r in shop.log.requests)
    assert paths.count("taxes") == 1, paths
    return [p for p in paths if p != "taxes"]


async def _ready(shop: Shop) -> None:
    await initial_sync(shop.client, shop.db)
    await _poll(shop)  # the first poll also asks whether include_status is understood


async def test_orders_window_stops_once_web_sales_have_stamped_their_products(
    tmp_path: Path,
) -> None:
    """Two web-shop sales (a simple product and a variation with its own stock) show their
    stock through the products listing: from then on an idle poll is one request, and
    orders are read again only as a backstop every BACKSTOP_S."""
    async with open_shop(tmp_path, frozen_at=time.time()) as shop:
        await _ready(shop)
        assert await _poll(shop) == ["orders", "products"]
        shop.store.place_online_order([{"product_id": 10, "quantity": 2}])
        shop.store.place_online_order([{"product_id": 310, "variation_id": 311, "quantity": 1}])
        await _poll(shop)
        truth = shop.store.stock_of([10, 311])
        assert (_stock(shop, 10), _stock(shop, 311)) == (truth[10], truth[311])
        assert sale_signal.proven(shop.db.conn)
        polls = [await _poll(shop) for _ in range(int(sale_signal.BACKSTOP_S / 30) + 1)]
        assert polls.count(["products"]) == len(polls) - 1
        assert polls.count(["orders", "products"]) == 1  # the backstop, once in ten minutes


async def test_a_store_whose_sales_do_not_stamp_products_still_shows_them_within_one_poll(
    tmp_path: Path,
) -> None:
    """Bug #40060's behaviour: the stock drops without a new date_modified. The orders
    window reads the stock back on the next poll, and stays on every poll."""
    async with open_shop(tmp_path, frozen_at=time.time(), stock_bumps_modified=False) as shop:
        await _ready(shop)
        for _ in range(3):
            shop.store.place_online_order([{"product_id": 12, "quantity": 1}])
            shop.clock.advance(COMMIT_LAG_S + 2)  # type: ignore[union-attr]
            assert await _poll(shop) == ["orders", "products", "products"]  # + stock read
            assert _stock(shop, 12) == shop.store.stock_of([12])[12]
        assert not sale_signal.proven(shop.db.conn)


async def test_a_store_that_stops_stamping_is_caught_by_the_backstop(tmp_path: Path) -> None:
    """Proven, then the store changes (a plugin, another version): a web sale is invisible to
    the products listing until the backstop reads the orders, takes the stock and goes
    back to reading orders on every poll."""
    async with open_shop(tmp_path, frozen_at=time.time()) as shop:
        await _ready(shop)
        shop.store.place_online_order([{"product_id": 10, "quantity": 1}])
        shop.store.place_online_order([{"product_id": 11, "quantity": 1}])
        await _poll(shop)
        assert sale_signal.proven(shop.db.conn)
        shop.store.config.stock_bumps_modified = False
        shop.store.place_online_order([{"product_id": 13, "quantity": 2}])
        before = _stock(shop, 13)
        assert await _poll(shop) == ["products"]
        assert _stock(shop, 13) == before  # the price of reading orders less often
        quiet = 0
        while await _poll(shop) == ["products"]:  # until the backstop
            quiet += 1
            assert quiet * 30 <= sale_signal.BACKSTOP_S, "no backstop within BACKSTOP_S"
        assert _stock(shop, 13) == shop.store.stock_of([13])[13]
        assert not sale_signal.proven(shop.db.conn)
        assert await _poll(shop) == ["orders", "products"]


async def test_a_save_whose_data_lands_after_the_poll_is_read_again(tmp_path: Path) -> None:
    """A slow save: stamped COMMIT_LAG_S - 1 s before the poll's answer, its data written
    after the poll read the store. The next poll reads it again."""
    async with open_shop(tmp_path, frozen_at=time.time()) as shop:
        await _ready(shop)
        await _poll(shop)
        shop.clock.advance(-(COMMIT_LAG_S - 1))  # type: ignore[union-attr]
        shop.store.admin_update_product(14, {"regular_price": "4.44"})  # the stamp
        shop.clock.advance(COMMIT_LAG_S - 1)  # type: ignore[union-attr]
        await _poll(shop)
        assert _price(shop, 14) == "4.44"


async def test_a_save_slower_than_the_commit_lag_bound_would_be_missed(tmp_path: Path) -> None:
    """Guard for the test above, and the bound's meaning: stamped more than COMMIT_LAG_S + 1 s
    before the previous poll's snapshot and written after it, a change is not re-read."""
    async with open_shop(tmp_path, frozen_at=time.time()) as shop:
        await _ready(shop)
        await _poll(shop)
        shop.clock.advance(-(COMMIT_LAG_S + 3))  # type: ignore[union-attr]
        shop.store.admin_update_product(14, {"regular_price": "4.44"})
        shop.clock.advance(COMMIT_LAG_S + 3)  # type: ignore[union-attr]
        await _poll(shop)
        assert _price(shop, 14) != "4.44"


async def test_the_cursor_is_the_answer_s_date_less_the_time_the_request_took(
    tmp_path: Path,
) -> None:
    """The store took 1.5 s to answer: its Date can be 1.5 s later than the moment the query
    ran, so the cursor is two whole seconds before the Date (truncated to a second)."""
    async with open_shop(tmp_path, frozen_at=time.time()) as shop:
        await _ready(shop)
        shop.faults.add("GET /wp-json/wc/v3/*:delay=1500")
        await _poll(shop)
        cursor = get_state(shop.db.conn, "catalog.cursor")
        assert cursor == format_gmt_cursor(parse_gmt(_date(shop)) - _seconds(2))


async def test_the_first_poll_after_an_initial_sync_reads_further_back(tmp_path: Path) -> None:
    """The initial sync notes its first answer's Date without the request's duration: the
    first poll reads UNMEASURED_REQUEST_S more; later polls only the overlap."""
    async with open_shop(tmp_path, frozen_at=time.time()) as shop:
        await initial_sync(shop.client, shop.db)
        first = get_state(shop.db.conn, "catalog.cursor")
        assert first is not None
        await _poll(shop)
        asked = {r.params["modified_after"] for r in shop.log.requests if r.path == "products"
                 and "modified_after" in r.params}  # fmt: skip
        overlap = COMMIT_LAG_S + 1
        assert asked == {format_gmt_cursor(
            parse_gmt(first) - _seconds(overlap + UNMEASURED_REQUEST_S))}  # fmt: skip
        second = get_state(shop.db.conn, "catalog.cursor")
        assert second is not None
        await _poll(shop)
        asked = {r.params["modified_after"] for r in shop.log.requests if r.path == "products"}
        assert asked == {format_gmt_cursor(parse_gmt(second) - _seconds(overlap))}


def _date(shop: Shop) -> str:
    """The store's clock as its Date header shows it (whole seconds), naive UTC."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(shop.store.now()))


def _seconds(n: float):  # type: ignore[no-untyped-def]
    from datetime import timedelta

    return timedelta(seconds=n)


async def test_a_slow_poll_right_after_another_is_not_a_clock_set_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Two polls answered in the same second, the second slowly: its cursor is earlier than
    the first one's, but its Date is not, so nothing is re-read from an hour back."""
    async with open_shop(tmp_path, frozen_at=time.time()) as shop:
        await _ready(shop)
        await _poll(shop)
        shop.faults.add("GET /wp-json/wc/v3/*:delay=1500")
        assert await _poll(shop, 0) == ["orders", "products"]
        assert "behind" not in caplog.text


async def test_a_store_clock_set_back_is_read_again_from_an_hour_before(tmp_path: Path) -> None:
    """The store's clock goes back ten minutes between two polls and a product is saved just
    after: its stamp is older than the cursor, yet the next poll reads it (a second pass from
    SETBACK_REREAD_S before)."""
    async with open_shop(tmp_path, frozen_at=time.time()) as shop:
        await _ready(shop)
        shop.clock.advance(-600)  # type: ignore[union-attr]
        shop.store.admin_update_product(17, {"regular_price": "7.17"})
        paths = await _poll(shop)
        assert paths.count("products") == 2  # the poll, and the pass from an hour back
        assert _price(shop, 17) == "7.17"
