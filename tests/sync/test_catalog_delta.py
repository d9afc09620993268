"""The delta sync against the sandbox: nothing missed, nothing believed from the till's clock."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from catalog_support import Shop, local_items, open_shop, store_items
from onetill.store.catalog import get_item
from onetill.store.discrepancies import count_discrepancies, list_discrepancies
from onetill.store.sync_state import get_state
from onetill.sync.catalog import audit_ids, delta_sync, initial_sync
from onetill.woo.errors import NotJSONError

pytestmark = pytest.mark.anyio


def _item(shop: Shop, iid: int):  # type: ignore[no-untyped-def]
    item = get_item(shop.db.conn, iid)
    assert item is not None, f"item {iid} is not in the local catalog"
    return item


async def _synced(shop: Shop) -> None:
    await initial_sync(shop.client, shop.db)


async def test_idle_poll_lists_every_status_in_one_query_and_reads_the_orders_window(
    tmp_path: Path,
) -> None:
    """A current store (9.6+): the first poll asks once whether `include_status` is
    understood; from then on an idle poll is products (trash included), orders and taxes,
    no writes but the cursor, dates in naive UTC."""
    async with open_shop(tmp_path, frozen_at=time.time()) as shop:
        await _synced(shop)
        shop.clock.advance(30)  # type: ignore[union-attr]
        shop.log.clear()
        await delta_sync(shop.client, shop.db)
        probe = shop.log.requests[0]
        assert (probe.path, probe.params.get("include_status")) == ("products", "onetill-probe")
        shop.clock.advance(30)  # type: ignore[union-attr]
        shop.log.clear()
        report = await delta_sync(shop.client, shop.db)
        assert report.applied == 0 and report.requests == 3
        assert sorted((r.path, r.params.get("include_status")) for r in shop.log.requests) == [
            ("orders", None), ("products", "any,trash"), ("taxes", None),
        ]  # fmt: skip
        with shop.db.lock:
            assert count_discrepancies(shop.db.conn) == 0
        for r in shop.log.requests:
            if r.path == "taxes":
                continue
            assert r.params["dates_are_gmt"] == "true"
            assert (
                not r.params["modified_after"].endswith("Z")
                and "+" not in r.params["modified_after"]
            )


async def test_a_store_older_than_9_6_gets_trash_from_a_second_query(tmp_path: Path) -> None:
    """`include_status` is ignored before 9.6 (its answer would silently leave trash out):
    the probe sees a plain 200 and polls keep the separate `status=trash` query."""
    async with open_shop(tmp_path, frozen_at=time.time(), wc_version="9.5.2") as shop:
        await _synced(shop)
        shop.clock.advance(5)  # type: ignore[union-attr]
        shop.store.trash_product(20)
        shop.clock.advance(1)  # type: ignore[union-attr]
        shop.log.clear()
        report = await delta_sync(shop.client, shop.db)
        assert _item(shop, 20).status == "trash" and not _item(shop, 20).sellable
        polled = sorted((r.path, r.params.get("status", "")) for r in shop.log.requests[1:])
        assert polled == [("orders", ""), ("products", ""), ("products", "trash"), ("taxes", "")]
        assert report.requests == 4


async def test_two_products_changed_in_the_poll_s_own_second_are_both_seen(
    tmp_path: Path,
) -> None:
    """`modified_after` is strict at one-second resolution: a change saved in the second the
    poll was answered, after its query ran, is read by the next poll (the boundary second
    is re-read even with no overlap beyond it)."""
    async with open_shop(tmp_path, frozen_at=time.time()) as shop:
        await _synced(shop)
        shop.clock.advance(10)  # type: ignore[union-attr]
        shop.store.admin_update_product(10, {"regular_price": "1.11"})
        await delta_sync(shop.client, shop.db, overlap_s=1)
        assert _item(shop, 10).regular_price is not None
        shop.store.admin_update_product(11, {"regular_price": "2.22"})  # same second
        await delta_sync(shop.client, shop.db, overlap_s=1)
        assert str(_item(shop, 10).regular_price) == "1.11"
        assert str(_item(shop, 11).regular_price) == "2.22"


async def test_the_sandbox_modified_after_is_strict(tmp_path: Path) -> None:
    """Guard for the test above: an item stamped in second S is not in `modified_after=S`."""
    async with open_shop(tmp_path, frozen_at=time.time()) as shop:
        shop.store.admin_update_product(11, {"regular_price": "2.22"})
        r = await shop.client.get("products/11", {"_fields": "date_modified_gmt"})
        second = r.data["date_modified_gmt"]
        listed = await shop.client.get(
            "products", {"modified_after": second, "dates_are_gmt": "true", "_fields": "id"}
        )
        assert 11 not in [o["id"] for o in listed.data]


@pytest.mark.parametrize("tz", ["Asia/Tokyo", "America/Los_Angeles", "Pacific/Kiritimati", "UTC"])
async def test_store_timezone_east_or_west_of_utc_changes_nothing(tmp_path: Path, tz: str) -> None:
    """A change is seen exactly once whatever the site's timezone (naive UTC cursors)."""
    async with open_shop(tmp_path, frozen_at=time.time(), timezone=tz) as shop:
        await _synced(shop)
        shop.clock.advance(300)  # type: ignore[union-attr]
        shop.store.admin_update_product(12, {"name": "Renamed in " + tz})
        shop.clock.advance(1)  # type: ignore[union-attr]
        report = await delta_sync(shop.client, shop.db)
        assert report.applied == 1 and _item(shop, 12).name == "Renamed in " + tz
        shop.clock.advance(300)  # type: ignore[union-attr]
        await delta_sync(shop.client, shop.db)  # may re-read the overlap window: harmless
        shop.clock.advance(300)  # type: ignore[union-attr]
        assert (await delta_sync(shop.client, shop.db)).applied == 0


async def test_till_clock_one_hour_off_changes_nothing(tmp_path: Path) -> None:
    """The server's clock is an hour ahead of the till's: cursors follow the server."""
    async with open_shop(tmp_path, clock_offset_s=3600) as shop:
        await _synced(shop)
        server_now = shop.store.now()
        cursor = get_state(shop.db.conn, "catalog.cursor")
        assert cursor is not None
        noted = time.mktime(time.strptime(cursor, "%Y-%m-%dT%H:%M:%S")) - time.timezone
        assert abs(noted - server_now) < 5  # the server's time, not the till's (an hour behind)
        shop.store.admin_update_product(13, {"regular_price": "3.33"})
        await delta_sync(shop.client, shop.db)
        assert str(_item(shop, 13).regular_price) == "3.33"


async def test_online_order_reaches_till_stock_within_one_poll(tmp_path: Path) -> None:
    """A web-shop sale (simple and parent-managed variation) shows on the till after one poll."""
    async with open_shop(tmp_path, frozen_at=time.time()) as shop:
        await _synced(shop)
        shop.clock.advance(5)  # type: ignore[union-attr]
        shop.store.place_online_order([{"product_id": 10, "quantity": 2}])
        shop.store.place_online_order([{"product_id": 405, "variation_id": 407, "quantity": 3}])
        shop.clock.advance(1)  # type: ignore[union-attr]
        await delta_sync(shop.client, shop.db)
        truth = shop.store.stock_of([10, 405])
        assert _item(shop, 10).stock_quantity == truth[10] == 5
        assert _item(shop, 405).stock_quantity == truth[405] == 47
        assert _item(shop, 407).stock_quantity == 47  # sells from the parent
        causes = {(d.object_id, d.cause) for d in list_discrepancies(shop.db.conn)}
        assert ("10", "delta sync") in causes


async def test_trash_restore_and_draft(tmp_path: Path) -> None:
    """Trashed and drafted products stop selling but stay; restored ones sell again. A
    variable product restored by a REST status change leaves its variations in the trash
    (WooCommerce #62833; its ``variations`` list is then empty), so they stay unsold."""
    async with open_shop(tmp_path, frozen_at=time.time()) as shop:
        await _synced(shop)
        shop.clock.advance(5)  # type: ignore[union-attr]
        shop.store.trash_product(20)
        shop.store.admin_update_product(21, {"status": "draft"})
        shop.store.trash_product(310)  # a variable product: its variations go with it
        shop.clock.advance(1)  # type: ignore[union-attr]
        await delta_sync(shop.client, shop.db)
        assert _item(shop, 20).status == "trash" and not _item(shop, 20).sellable
        assert _item(shop, 21).status == "draft" and not _item(shop, 21).sellable
        assert not _item(shop, 311).sellable
        shop.clock.advance(5)  # type: ignore[union-attr]
        shop.store.admin_update_product(20, {"status": "publish"})
        shop.store.admin_update_product(310, {"status": "publish"})
        shop.clock.advance(1)  # type: ignore[union-attr]
        await delta_sync(shop.client, shop.db)
        assert _item(shop, 20).status == "publish" and _item(shop, 20).sellable
        assert _item(shop, 310).status == "publish"
        assert not _item(shop, 311).sellable


@pytest.mark.parametrize("global_variations", [True, False])
async def test_force_delete_is_removed_by_the_audit_and_logged(
    tmp_path: Path, global_variations: bool
) -> None:
    """Force deletes leave no trace in polls; the ID audit removes them in one go and logs them."""
    async with open_shop(
        tmp_path, frozen_at=time.time(), global_variations=global_variations
    ) as shop:
        await _synced(shop)
        children = [
            r[0] for r in shop.db.conn.execute("SELECT id FROM products WHERE parent_id = 321")
        ]
        assert children
        shop.clock.advance(5)  # type: ignore[union-attr]
        shop.store.force_delete_product(30)
        shop.store.force_delete_product(320)  # a variation
        shop.store.force_delete_product(321)  # variable: its variations vanish too
        shop.store.trash_product(31)  # trashed is not deleted: the audit keeps it
        shop.clock.advance(1)  # type: ignore[union-attr]
        await delta_sync(shop.client, shop.db)
        assert get_item(shop.db.conn, 30) is not None  # polling cannot see it
        report = await audit_ids(shop.client, shop.db, global_variations=global_variations)
        assert all(get_item(shop.db.conn, v) is None for v in [30, 320, 321, *children])
        assert report.removed == 3 + len(children)
        assert get_item(shop.db.conn, 31) is not None
        logged = {(d.object_id, d.field) for d in list_discrepancies(shop.db.conn)}
        assert {("30", "existence"), ("320", "existence"), ("321", "existence")} <= logged
        assert set(local_items(shop.db)) == set(store_items(shop.store))


async def test_variation_change_is_seen_through_its_parent(tmp_path: Path) -> None:
    """Changing a variation bumps its parent; the poll then reads the changed variations."""
    async with open_shop(tmp_path, frozen_at=time.time()) as shop:
        await _synced(shop)
        shop.clock.advance(5)  # type: ignore[union-attr]
        shop.store.admin_update_product(312, {"regular_price": "9.99", "sku": "VAR-01-NEW"})
        shop.clock.advance(1)  # type: ignore[union-attr]
        await delta_sync(shop.client, shop.db)
        assert (
            str(_item(shop, 312).regular_price) == "9.99" and _item(shop, 312).sku == "VAR-01-NEW"
        )


async def test_failed_poll_keeps_the_cursor_and_the_next_one_catches_up(tmp_path: Path) -> None:
    """An HTML error page mid-poll: clear error, cursor unmoved, the change arrives next time."""
    async with open_shop(tmp_path, frozen_at=time.time()) as shop:
        await _synced(shop)
        cursor = get_state(shop.db.conn, "catalog.cursor")
        shop.clock.advance(5)  # type: ignore[union-attr]
        shop.store.admin_update_product(14, {"name": "Changed while down"})
        shop.faults.add("GET /wp-json/wc/v3/orders:html=502")
        with pytest.raises(NotJSONError) as caught:
            await delta_sync(shop.client, shop.db)
        assert "502" in str(caught.value)
        assert get_state(shop.db.conn, "catalog.cursor") == cursor
        assert get_state(shop.db.conn, "catalog.state") == "degraded"
        shop.faults.clear()
        shop.clock.advance(60)  # type: ignore[union-attr]
        await delta_sync(shop.client, shop.db)
        assert _item(shop, 14).name == "Changed while down"
        assert get_state(shop.db.conn, "catalog.state") == "online"


async def test_change_during_the_initial_pull_is_caught_by_the_first_poll(tmp_path: Path) -> None:
    """The cursor is noted before the pull: an edit to an already stored page is not lost."""
    async with open_shop(tmp_path, frozen_at=time.time()) as shop:
        edited = False

        def meanwhile(event: object) -> None:
            nonlocal edited
            if not edited and getattr(event, "resource", "") == "products":
                edited = True  # page 1 (ids 10-109) is stored by now
                shop.clock.advance(2)  # type: ignore[union-attr]
                shop.store.admin_update_product(10, {"regular_price": "4.44"})
                shop.clock.advance(600)  # a long pull: ten minutes more, beyond any overlap

        await initial_sync(shop.client, shop.db, meanwhile)
        assert edited and str(_item(shop, 10).regular_price) != "4.44"
        shop.clock.advance(30)  # type: ignore[union-attr]
        await delta_sync(shop.client, shop.db)
        assert str(_item(shop, 10).regular_price) == "4.44"


async def test_audit_fetches_what_the_till_lacks_and_removes_nothing_else(tmp_path: Path) -> None:
    """Rows lost locally (e.g. a shifted page) come back whole from the audit."""
    async with open_shop(tmp_path) as shop:
        await _synced(shop)
        with shop.db.write() as conn:
            conn.execute("DELETE FROM products WHERE id IN (50, 312)")
        report = await audit_ids(shop.client, shop.db)
        assert report.applied == 2 and report.removed == 0
        assert set(local_items(shop.db)) == set(store_items(shop.store))
        assert _item(shop, 312).parent_id == 310


async def test_force_deleted_variation_stops_selling_at_the_next_poll(tmp_path: Path) -> None:
    """A variation deleted for good leaves no trace, but its parent is saved with a shorter
    `variations` list: the till stops selling it at the next poll, not an hour later."""
    async with open_shop(tmp_path, frozen_at=time.time()) as shop:
        await _synced(shop)
        assert _item(shop, 312).sellable and _item(shop, 311).sellable
        shop.clock.advance(5)  # type: ignore[union-attr]
        shop.store.force_delete_product(312)
        shop.clock.advance(1)  # type: ignore[union-attr]
        await delta_sync(shop.client, shop.db)
        assert not _item(shop, 312).sellable
        assert _item(shop, 311).sellable  # its sibling still sells
        report = await audit_ids(shop.client, shop.db)
        assert report.removed == 1 and get_item(shop.db.conn, 312) is None


async def test_audit_without_global_variations_fetches_over_a_hundred_of_one_parent(
    tmp_path: Path,
) -> None:
    """A parent with more than 100 variations the till lacks: every one is fetched (the
    per-parent `include` list is chunked by 100, not cut at 100)."""
    async with open_shop(tmp_path, global_variations=False) as shop:
        await initial_sync(shop.client, shop.db, global_variations=False)
        created = []
        for start in range(0, 120, 60):
            result = await shop.client.batch(
                "products/310/variations",
                create=[
                    {"regular_price": "1.00", "sku": f"BULK-{n}"} for n in range(start, start + 60)
                ],
            )
            created += [item.id for item in result.created if item.id]
        assert len(created) == 120
        await audit_ids(shop.client, shop.db, global_variations=False)
        assert [v for v in created if get_item(shop.db.conn, v) is None] == []


async def test_server_clock_jumping_back_an_hour_loses_nothing(tmp_path: Path) -> None:
    """The store's clock (Date and item dates alike) is set back an hour between two polls.
    The poll right after still uses the old cursor and sees nothing; but the cursor follows
    the server's Date backwards and the overlap (60 s) exceeds the poll interval (30 s), so the
    next poll picks up the change made just after the jump."""
    async with open_shop(tmp_path, frozen_at=time.time()) as shop:
        await _synced(shop)
        shop.clock.advance(10)  # type: ignore[union-attr]
        await delta_sync(shop.client, shop.db)
        shop.clock.advance(-3600)  # type: ignore[union-attr]
        shop.store.admin_update_product(15, {"regular_price": "5.55"})
        shop.clock.advance(30)  # type: ignore[union-attr]
        await delta_sync(shop.client, shop.db)
        shop.clock.advance(30)  # type: ignore[union-attr]
        await delta_sync(shop.client, shop.db)
        assert str(_item(shop, 15).regular_price) == "5.55"


async def test_scheduled_product_going_live_is_sold_without_any_edit(tmp_path: Path) -> None:
    """WordPress publishes a scheduled ("future") product from cron by changing only its
    status: `date_modified` stays put, so `modified_after` never shows it. The poll re-reads
    local "future" products whose publish time has passed."""
    async with open_shop(tmp_path, frozen_at=time.time()) as shop:
        await _synced(shop)
        shop.clock.advance(5)  # type: ignore[union-attr]
        shop.store.admin_update_product(20, {"status": "future"})
        item = shop.store.find(20)
        item.created = shop.clock.now + 120  # type: ignore[union-attr]  # the publish time
        shop.store.save(item)
        shop.clock.advance(1)  # type: ignore[union-attr]
        await delta_sync(shop.client, shop.db)
        assert _item(shop, 20).status == "future" and not _item(shop, 20).sellable
        shop.clock.advance(100)  # type: ignore[union-attr]
        await delta_sync(shop.client, shop.db)  # the edit is behind the cursor now
        shop.clock.advance(100)  # type: ignore[union-attr]
        # The store side, as wp_publish_post() does it: the status alone, no new date.
        item.data["status"] = "publish"
        shop.store.save(item)
        shop.clock.advance(30)  # type: ignore[union-attr]
        await delta_sync(shop.client, shop.db)
        assert _item(shop, 20).status == "publish" and _item(shop, 20).sellable


async def test_a_changed_tax_rate_is_taken_in_the_next_poll(tmp_path: Path) -> None:
    """Tax rates carry no modified date and fire no webhook: each poll reads them, takes a
    changed rate at once and logs what it replaced; an unchanged list writes nothing."""
    async with open_shop(tmp_path, frozen_at=time.time()) as shop:
        await _synced(shop)
        shop.clock.advance(10)  # type: ignore[union-attr]
        await shop.client.put("taxes/1", json={"rate": "16.0000"})
        await delta_sync(shop.client, shop.db)
        with shop.db.lock:
            rate = shop.db.conn.execute("SELECT rate FROM tax_rates WHERE id = 1").fetchone()[0]
            logged = list_discrepancies(shop.db.conn, object_id=1)
        assert rate == "16.0000"
        assert [(d.object_type, d.field, d.local_value, d.store_value) for d in logged] == [
            ("tax_rate", "rate", "19.0000", "16.0000")
        ]
        shop.clock.advance(10)  # type: ignore[union-attr]
        await delta_sync(shop.client, shop.db)
        with shop.db.lock:
            assert count_discrepancies(shop.db.conn) == len(logged)
