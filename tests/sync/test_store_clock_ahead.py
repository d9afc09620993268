"""A store clock that ran ahead must not freeze products: a date after the store's own clock
guards nothing, a full pull always repairs, and the future-dated copy is taken and logged."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog_support import Shop, open_shop
from onetill.store.catalog import get_item
from onetill.store.discrepancies import list_discrepancies
from onetill.sync.catalog import delta_sync, initial_sync

pytestmark = pytest.mark.anyio

DAY = 86400.0


def _price(shop: Shop, iid: int) -> str:
    item = get_item(shop.db.conn, iid)
    assert item is not None
    return str(item.regular_price)


def _date_notes(shop: Shop, iid: int) -> list[str]:
    return [d.cause for d in list_discrepancies(shop.db.conn)
            if d.object_id == str(iid) and d.field == "date_modified_gmt"]  # fmt: skip


async def test_an_edit_after_the_clock_is_corrected_reaches_the_till_by_delta(
    tmp_path: Path,
) -> None:
    """Read while the store's clock was a day ahead: the copy carries tomorrow's date. Once
    the clock is right again, the next edit is older by date, and must still land."""
    async with open_shop(tmp_path) as shop:
        await initial_sync(shop.client, shop.db)
        shop.store.set_clock_offset(DAY)
        shop.store.admin_update_product(10, {"regular_price": "0.01"})
        await delta_sync(shop.client, shop.db)
        assert _price(shop, 10) == "0.01"
        shop.store.set_clock_offset(0)
        shop.store.admin_update_product(10, {"regular_price": "9.99"})
        for _ in range(2):  # the first poll after the clock went back re-bases the cursor
            await delta_sync(shop.client, shop.db)
        assert _price(shop, 10) == "9.99"
        assert any("dated after the store's clock" in c for c in _date_notes(shop, 10))


async def test_a_future_dated_copy_read_after_the_correction_is_taken_logged_and_never_blocks(
    tmp_path: Path,
) -> None:
    """The till only polls after the clock was put right: the copy it reads is dated after
    the store's current time. It is applied and logged, and the next edit still lands."""
    async with open_shop(tmp_path) as shop:
        await initial_sync(shop.client, shop.db)
        shop.store.set_clock_offset(DAY)
        shop.store.admin_update_product(10, {"regular_price": "0.01"})
        shop.store.set_clock_offset(0)
        await delta_sync(shop.client, shop.db)
        assert _price(shop, 10) == "0.01"
        assert any("dated after the store's clock" in c for c in _date_notes(shop, 10))
        shop.store.admin_update_product(10, {"regular_price": "9.99"})
        await delta_sync(shop.client, shop.db)
        assert _price(shop, 10) == "9.99"


async def test_a_full_pull_always_repairs_even_once_the_store_clock_passed_the_future_date(
    tmp_path: Path,
) -> None:
    """`onetill sync --full` takes the store's copy of every item whatever its date, so a
    product frozen by a future date is repaired even when that date is no longer future."""
    async with open_shop(tmp_path) as shop:
        await initial_sync(shop.client, shop.db)
        shop.store.set_clock_offset(DAY)
        shop.store.admin_update_product(10, {"regular_price": "0.01"})
        await delta_sync(shop.client, shop.db)
        shop.store.set_clock_offset(0)
        shop.store.admin_update_product(10, {"regular_price": "9.99"})
        shop.store.set_clock_offset(2 * DAY)  # time has moved past the future date
        await initial_sync(shop.client, shop.db, full=True)
        assert _price(shop, 10) == "9.99"
        assert any("full sync" in c for c in _date_notes(shop, 10))
