"""Listings that change while they are paged: nothing may slip between two pages unseen.

Pages are ordered by id, so a product that leaves a listing (trashed or
force-deleted) while later pages are still to be read moves every later item
one place forward: the first item of the next page ends up on a page already
read. These tests make that happen on the store side between two page reads.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from catalog_support import Shop, local_items, open_shop, store_items
from onetill.store.catalog import get_item
from onetill.store.sync_state import get_state
from onetill.sync.catalog import delta_sync, initial_sync, needs_initial_sync

pytestmark = pytest.mark.anyio


class _BeforePage:
    """Runs ``action`` once, just before the store answers a matching products page."""

    def __init__(
        self, app: Any, page: str, action: Callable[[], None], path: str = "/wc/v3/products"
    ) -> None:
        self.app = app
        self.path = path
        self.status = ""
        self.page = page
        self.action: Callable[[], None] | None = action

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if (
            self.action is not None
            and scope["type"] == "http"
            and scope["path"].endswith(self.path)
        ):
            query = scope["query_string"].decode()
            params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
            if (
                params.get("page") == self.page
                and params.get("status", "") == self.status
                and "_fields" not in params
            ):
                action, self.action = self.action, None
                action()
        await self.app(scope, receive, send)


def _hook(
    shop: Shop, page: str, action: Callable[[], None], path: str = "/wc/v3/products"
) -> _BeforePage:
    hook = _BeforePage(shop.log.app, page, action, path)
    shop.log.app = hook  # the store side: it changes between two of our reads
    return hook


def _product_ids(shop: Shop) -> list[int]:
    """The store's products (not variations) in the order a listing by id pages them."""
    return sorted(i for i, item in store_items(shop.store).items() if item["type"] != "variation")


def _price(shop: Shop, iid: int) -> str:
    item = get_item(shop.db.conn, iid)
    assert item is not None, f"item {iid} is missing on the till"
    return str(item.regular_price)


@pytest.mark.parametrize("wc_version", ["11.0.1", "9.5.2"])
@pytest.mark.parametrize("how", ["trash", "force_delete"])
async def test_product_leaving_a_long_delta_while_paged_does_not_hide_another(
    tmp_path: Path, how: str, wc_version: str
) -> None:
    """150 products changed while the till was away for ten minutes; one on the first page is
    trashed (or force-deleted) between the reads of page 1 and page 2. The product that slid
    onto page 1 must still reach the till, although its change is far older than the overlap
    window. (Before 9.6 trash is a separate query, so a trashed product leaves the listing.)"""
    async with open_shop(tmp_path, frozen_at=time.time(), wc_version=wc_version) as shop:
        await initial_sync(shop.client, shop.db)
        shop.clock.advance(10)  # type: ignore[union-attr]
        changed = _product_ids(shop)[:150]
        for iid in changed:
            shop.store.admin_update_product(iid, {"regular_price": "7.77"})
        shop.clock.advance(600)  # type: ignore[union-attr]
        leave = getattr(shop.store, f"{how}_product")
        hook = _hook(shop, "2", lambda: leave(changed[0]))
        await delta_sync(shop.client, shop.db)
        assert hook.action is None, "the store-side change did not happen"
        shop.clock.advance(30)  # type: ignore[union-attr]
        await delta_sync(shop.client, shop.db)
        assert [i for i in changed[1:] if _price(shop, i) != "7.77"] == []
        if how == "trash":
            trashed = get_item(shop.db.conn, changed[0])
            assert trashed is not None and not trashed.sellable


async def test_a_product_added_while_a_delta_is_paged_costs_no_re_read(tmp_path: Path) -> None:
    """New items only push later items back (read twice, harmless): no second pass."""
    async with open_shop(tmp_path, frozen_at=time.time()) as shop:
        await initial_sync(shop.client, shop.db)
        shop.clock.advance(10)  # type: ignore[union-attr]
        for iid in _product_ids(shop)[:150]:
            shop.store.admin_update_product(iid, {"regular_price": "7.77"})
        shop.clock.advance(600)  # type: ignore[union-attr]
        hook = _hook(shop, "2", lambda: shop.store.admin_update_product(
            _product_ids(shop)[200], {"regular_price": "8.88"}))  # fmt: skip
        shop.log.clear()
        report = await delta_sync(shop.client, shop.db)
        assert hook.action is None
        product_reads = [r for r in shop.log.requests if r.path == "products"]
        # The include_status probe, then pages 1 and 2 (trash listed with the rest).
        assert len(product_reads) == 3
        assert report.requests == 4  # the two pages, the orders window and taxes


async def test_product_trashed_during_a_fresh_initial_pull_does_not_hide_another(
    tmp_path: Path,
) -> None:
    """A product on page 1 is trashed while page 2 is being asked for, in a pull that is not
    a resume: the item pushed onto the stored page 1 still ends up on the till."""
    async with open_shop(tmp_path, frozen_at=time.time()) as shop:
        victim = _product_ids(shop)[20]  # on page 1
        hook = _hook(shop, "2", lambda: shop.store.trash_product(victim))
        await initial_sync(shop.client, shop.db)
        assert hook.action is None, "the store-side trash did not happen"
        shop.clock.advance(30)  # type: ignore[union-attr]
        await delta_sync(shop.client, shop.db)
        assert set(local_items(shop.db)) == set(store_items(shop.store))


class _NoDate:
    """A proxy that strips the ``Date`` header from every answer."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def strip(message: Any) -> None:
            if message["type"] == "http.response.start":
                message = {
                    **message,
                    "headers": [(k, v) for k, v in message["headers"] if k.lower() != b"date"],
                }
            await send(message)

        await self.app(scope, receive, strip)


async def test_without_a_date_header_the_pull_still_ends_and_polls_miss_nothing(
    tmp_path: Path,
) -> None:
    """A proxy strips `Date`: the cursor falls back to the newest `date_modified_gmt` the
    store sent (minus the pull's duration), so the pull is not repeated forever and a later
    change still arrives."""
    async with open_shop(tmp_path, frozen_at=time.time()) as shop:
        shop.log.app = _NoDate(shop.log.app)
        await initial_sync(shop.client, shop.db)
        assert not needs_initial_sync(shop.db)
        first = get_state(shop.db.conn, "catalog.cursor")
        assert first is not None
        shop.clock.advance(30)  # type: ignore[union-attr]
        shop.store.admin_update_product(15, {"regular_price": "5.55"})
        shop.clock.advance(30)  # type: ignore[union-attr]
        await delta_sync(shop.client, shop.db)
        assert _price(shop, 15) == "5.55"
        shop.clock.advance(30)  # type: ignore[union-attr]
        shop.store.admin_update_product(16, {"regular_price": "6.66"})
        shop.clock.advance(30)  # type: ignore[union-attr]
        await delta_sync(shop.client, shop.db)
        assert _price(shop, 16) == "6.66"
        # The cursor moves on (from item dates), so polls do not grow without end.
        later = get_state(shop.db.conn, "catalog.cursor")
        assert later is not None and later > first


async def test_variation_deleted_while_a_long_delta_is_paged_does_not_hide_another(
    tmp_path: Path,
) -> None:
    """The same slide on the global /variations listing: 150 variations changed while the till
    was away, one on page 1 deleted for good while page 2 is asked for."""
    async with open_shop(tmp_path, frozen_at=time.time()) as shop:
        for start in range(0, 150, 75):
            batch = [
                {"regular_price": "1.00", "sku": f"MANY-{n}"} for n in range(start, start + 75)
            ]
            await shop.client.batch("products/310/variations", create=batch)
        await initial_sync(shop.client, shop.db)
        shop.clock.advance(10)  # type: ignore[union-attr]
        changed = sorted(i for i, o in store_items(shop.store).items() if o["type"] == "variation")
        changed = changed[:150]
        for iid in changed:
            shop.store.admin_update_product(iid, {"regular_price": "7.77"})
        shop.clock.advance(600)  # type: ignore[union-attr]
        hook = _hook(
            shop, "2", lambda: shop.store.force_delete_product(changed[0]), "/wc/v3/variations"
        )
        await delta_sync(shop.client, shop.db)
        assert hook.action is None, "the store-side change did not happen"
        shop.clock.advance(30)  # type: ignore[union-attr]
        await delta_sync(shop.client, shop.db)
        assert [i for i in changed[1:] if _price(shop, i) != "7.77"] == []
