"""One bad item never stops sync: each is decoded and applied on its own, a bad one is named
(log, status, discrepancies) and not sold until a good copy comes; the rest lands."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog_support import Shop, open_shop
from onetill.pos.cart import Cart, CartError
from onetill.status import collect_status
from onetill.store.catalog import get_item
from onetill.store.discrepancies import list_discrepancies
from onetill.sync.catalog import audit_ids, delta_sync, initial_sync, needs_initial_sync

pytestmark = pytest.mark.anyio


def _sellable(shop: Shop, iid: int) -> bool:
    item = get_item(shop.db.conn, iid)
    assert item is not None
    return item.sellable


def _named(shop: Shop, iid: object, field: str) -> list[str]:
    """Discrepancy texts naming this item and field."""
    return [
        f"{d.store_value} | {d.cause}"
        for d in list_discrepancies(shop.db.conn)
        if d.object_id == str(iid) and d.field == field
    ]


async def test_absurd_stock_costs_one_item_and_the_rest_of_the_page_lands(
    tmp_path: Path,
) -> None:
    """stock_quantity 2**63, 1e30 or 10**30 ended the sync in an OverflowError that dropped the
    whole page, every tick; now each is refused by name and an edit on the same page lands."""
    async with open_shop(tmp_path) as shop:
        await initial_sync(shop.client, shop.db)
        shop.store.set_raw_fields(10, {"stock_quantity": 2**63})
        shop.store.set_raw_fields(11, {"stock_quantity": 1e30})
        shop.store.set_raw_fields(12, {"stock_quantity": 10**30})
        shop.store.admin_update_product(13, {"regular_price": "4.44"})
        report = await delta_sync(shop.client, shop.db)
        assert report.skipped == 3
        item = get_item(shop.db.conn, 13)
        assert item is not None and str(item.regular_price) == "4.44"
        for iid in (10, 11, 12):
            assert not _sellable(shop, iid), iid
            assert _named(shop, iid, "stock_quantity"), iid
        assert "9223372036854775808" in _named(shop, 10, "stock_quantity")[0]
        status = collect_status(shop.db)
        assert status.catalog_problems == 3 and status.state == "online"
        assert any("product 10" in p and "stock_quantity" in p for p in status.problem_items)
        # Polled again (the overlap re-reads them): named once, not once per poll.
        await delta_sync(shop.client, shop.db)
        assert len(_named(shop, 10, "stock_quantity")) == 1
        # The store is fixed: the good copy sells again and the problem is gone.
        shop.store.set_raw_fields(10, None)
        await delta_sync(shop.client, shop.db)
        assert _sellable(shop, 10)
        assert collect_status(shop.db).catalog_problems == 2


async def test_an_id_that_is_not_a_number_does_not_stop_the_initial_sync_or_the_audit(
    tmp_path: Path,
) -> None:
    """A product whose id is "abc" crashed the audit ('<' between str and int) and the initial
    sync never finished; now it is named and everything else is synced."""
    async with open_shop(tmp_path) as shop:
        shop.store.set_raw_fields(12, {"id": "abc"})
        report = await initial_sync(shop.client, shop.db, full=True)  # a full pull ends audited
        assert not needs_initial_sync(shop.db)
        assert report.skipped >= 1
        assert get_item(shop.db.conn, 11) is not None
        assert _named(shop, "'abc'", "id")
        audit = await audit_ids(shop.client, shop.db)
        assert audit.removed == 0  # a listing with an unusable id deletes nothing
        assert collect_status(shop.db).catalog_problems >= 1
        shop.store.set_raw_fields(12, None)  # fixed in the store
        await audit_ids(shop.client, shop.db)
        assert get_item(shop.db.conn, 12) is not None
        assert collect_status(shop.db).catalog_problems == 0


async def test_invalid_utf8_is_replaced_and_reported_and_the_page_lands(tmp_path: Path) -> None:
    """One invalid byte in a name rejected the whole page with a message blaming a blocked
    REST API; now the name is stored with U+FFFD and the field is named."""
    async with open_shop(tmp_path) as shop:
        await initial_sync(shop.client, shop.db)
        shop.store.admin_update_product(10, {"name": "Caf@@BAD@@ Mug"})
        shop.store.admin_update_product(11, {"regular_price": "5.55"})
        shop.store.add_byte_patch("@@BAD@@", b"\xe9")
        await delta_sync(shop.client, shop.db)
        item, other = get_item(shop.db.conn, 10), get_item(shop.db.conn, 11)
        assert item is not None and item.name == "Caf\ufffd Mug" and item.sellable
        assert other is not None and str(other.regular_price) == "5.55"
        named = _named(shop, 10, "name")
        assert named and "invalid UTF-8" in named[0] and "Caf\ufffd Mug" in named[0]


async def test_a_product_that_could_not_be_refreshed_is_not_sold_until_a_good_copy(
    tmp_path: Path,
) -> None:
    """Its stale price must not stay on sale: the till refuses it, saying why, until the
    store sends a copy it can take."""
    async with open_shop(tmp_path) as shop:
        await initial_sync(shop.client, shop.db)
        shop.store.set_raw_fields(10, {"regular_price": "ten euros"})
        await delta_sync(shop.client, shop.db)
        with pytest.raises(CartError, match=r"needs a look in WooCommerce.*regular_price"):
            Cart(shop.db.conn).add("SIMPLE-001")
        shop.store.set_raw_fields(10, None)
        shop.store.admin_update_product(10, {"regular_price": "9.99"})
        await delta_sync(shop.client, shop.db)
        line = Cart(shop.db.conn).add("SIMPLE-001")
        assert str(line.unit_price) == "9.99"


@pytest.mark.parametrize(
    ("price", "message"),
    [("-5.00", "negative price"), ("12345678.00", "more than 1000000 a unit")],
)
async def test_negative_and_absurd_prices_are_refused_at_the_till(
    tmp_path: Path, price: str, message: str
) -> None:
    async with open_shop(tmp_path) as shop:
        await initial_sync(shop.client, shop.db)
        shop.store.set_raw_fields(10, {"price": price, "regular_price": price})
        await delta_sync(shop.client, shop.db)
        with pytest.raises(CartError, match=message):
            Cart(shop.db.conn).add("SIMPLE-001")
