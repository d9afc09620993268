"""Stock read back from the store: WooCommerce wins, except over the till's unsent sales."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from catalog_support import Shop, open_shop
from onetill.store import Database
from onetill.store.catalog import apply_items, get_item
from onetill.store.discrepancies import list_discrepancies
from onetill.sync.catalog import delta_sync, initial_sync
from onetill.sync.stock import apply_stock, refresh_stock
from support import RECORDED_STORE

pytestmark = pytest.mark.anyio


def _stock(shop: Shop, iid: int) -> int | None:
    item = get_item(shop.db.conn, iid)
    assert item is not None
    return item.stock_quantity


def _till_sale(db: Database, uuid: str, stock_item_id: int, qty: int) -> None:
    """A cash sale as the outbox records it: order, line, outbox row, optimistic decrement."""
    with db.write() as conn:
        seq = conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM orders").fetchone()[0]
        conn.execute(
            "INSERT INTO orders (uuid, seq, state, created_at, till_id, currency, payment_method,"
            " payment_title, subtotal, total_tax, total)"
            " VALUES (?, ?, 'pending_sync', '2026-11-26T15:00:00+00:00', 't1', 'EUR',"
            " 'onetill_cash', 'Cash', '1.00', '0.00', '1.00')",
            (uuid, seq),
        )
        conn.execute(
            "INSERT INTO order_lines (order_uuid, line_no, product_id, stock_item_id, name,"
            " quantity, unit_price, subtotal, total, tax, stock_decremented)"
            " VALUES (?, 1, ?, ?, 'x', ?, '1.00', '1.00', '1.00', '0.00', 1)",
            (uuid, stock_item_id, stock_item_id, qty),
        )
        conn.execute(
            "INSERT INTO outbox (order_uuid, status, created_at, next_attempt_at)"
            " VALUES (?, 'pending_sync', '2026-11-26T15:00:00Z', '2026-11-26T15:00:00Z')",
            (uuid,),
        )
        conn.execute(
            "UPDATE products SET stock_quantity = stock_quantity - ? WHERE id = ?",
            (qty, stock_item_id),
        )


async def test_pending_sales_are_not_clobbered_by_a_store_stock_update(tmp_path: Path) -> None:
    """Store 7 -> 6 (web sale) while the till holds 3 unsent: the till shows 3, not 6."""
    async with open_shop(tmp_path, frozen_at=time.time()) as shop:
        await initial_sync(shop.client, shop.db)
        _till_sale(shop.db, "sale-1", 10, 3)
        assert _stock(shop, 10) == 4
        shop.clock.advance(5)  # type: ignore[union-attr]
        shop.store.place_online_order([{"product_id": 10, "quantity": 1}])
        shop.clock.advance(1)  # type: ignore[union-attr]
        await delta_sync(shop.client, shop.db)
        assert _stock(shop, 10) == 3
        (entry,) = list_discrepancies(shop.db.conn, object_id=10)
        assert (entry.local_value, entry.store_value, entry.cause) == ("4", "3", "delta sync")

        # The sale reaches the store (its stock drops by 3) and is marked synced: still 3.
        shop.clock.advance(5)  # type: ignore[union-attr]
        shop.store.place_online_order([{"product_id": 10, "quantity": 3}])
        with shop.db.write() as conn:
            conn.execute("UPDATE orders SET state = 'synced' WHERE uuid = 'sale-1'")
        shop.clock.advance(1)  # type: ignore[union-attr]
        await delta_sync(shop.client, shop.db)
        assert _stock(shop, 10) == 3 == shop.store.stock_of([10])[10]
        assert len(list_discrepancies(shop.db.conn, object_id=10)) == 1  # nothing new to log


async def test_refresh_stock_reads_products_and_variations_with_include_lists(
    tmp_path: Path,
) -> None:
    """One trimmed request per endpoint (comma include, _fields); parent stock via the parent."""
    async with open_shop(tmp_path) as shop:
        await initial_sync(shop.client, shop.db)
        shop.store.admin_update_product(10, {"stock_quantity": 1})
        shop.store.admin_update_product(311, {"manage_stock": True, "stock_quantity": 9})
        shop.store.admin_update_product(405, {"stock_quantity": 44})
        shop.log.clear()
        result = await refresh_stock(shop.client, shop.db, [10, 311, 407], "read back after upload")
        assert result[10] == 1 and result[311] == 9 and result[405] == 44
        assert _stock(shop, 407) == 44  # the variation shows its parent's stock
        paths = sorted((r.path, r.params.get("include")) for r in shop.log.requests)
        assert paths == [("products", "10,405"), ("variations", "311,407")]
        assert all("stock_quantity" in r.params["_fields"] for r in shop.log.requests)
        causes = {d.cause for d in list_discrepancies(shop.db.conn)}
        assert causes == {"read back after upload"}


async def test_refresh_stock_without_global_variations_asks_each_parent(tmp_path: Path) -> None:
    """Before WooCommerce 10.3 a variation's stock comes from its parent's variations list."""
    async with open_shop(tmp_path, global_variations=False) as shop:
        await initial_sync(shop.client, shop.db, global_variations=False)
        shop.store.admin_update_product(312, {"manage_stock": True, "stock_quantity": 2})
        shop.log.clear()
        result = await refresh_stock(shop.client, shop.db, [312], "test", global_variations=False)
        assert result == {312: 2} and _stock(shop, 312) == 2
        assert [r.path for r in shop.log.requests] == ["products/310/variations"]


async def test_order_whose_sale_did_not_bump_the_product_still_updates_stock(
    tmp_path: Path,
) -> None:
    """Old WooCommerce bugs (#17841, #40060): the poll of orders refreshes their items' stock."""
    async with open_shop(tmp_path, frozen_at=time.time()) as shop:
        await initial_sync(shop.client, shop.db)
        before = shop.store.products[11].modified
        shop.clock.advance(5)  # type: ignore[union-attr]
        shop.store.place_online_order([{"product_id": 11, "quantity": 2}])
        shop.store.products[11].modified = before  # as if the sale had not bumped the date
        shop.clock.advance(1)  # type: ignore[union-attr]
        report = await delta_sync(shop.client, shop.db)
        assert report.stock_refreshed >= 1
        assert _stock(shop, 11) == shop.store.stock_of([11])[11]
        assert any(d.cause.startswith("online order") for d in list_discrepancies(shop.db.conn))


def test_malformed_stock_answer_is_skipped_and_named(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A stock answer with a string quantity changes nothing for that item; others apply."""
    products = json.loads((RECORDED_STORE / "products.json").read_text())[:3]
    with Database(tmp_path / "t.db") as db:
        with db.write() as conn:
            apply_items(conn, products, kind="product", cause="setup")
        answer = [
            {"id": 10, "manage_stock": True, "stock_quantity": "5", "stock_status": "instock"},
            {"id": 11, "manage_stock": True, "stock_quantity": 3, "stock_status": "instock",
             "date_modified_gmt": "2030-01-01T00:00:00"},
            {"id": 12, "manage_stock": True, "stock_quantity": 1, "stock_status": "instock",
             "date_modified_gmt": "2020-01-01T00:00:00"},  # older than what we hold
        ]  # fmt: skip
        with db.write() as conn:
            assert apply_stock(conn, answer, "test") == {11: 3}
        assert get_item(db.conn, 10).stock_quantity == products[0]["stock_quantity"]  # type: ignore[union-attr]
        assert get_item(db.conn, 12).stock_quantity == products[2]["stock_quantity"]  # type: ignore[union-attr]
    assert any(
        "product 10" in r.getMessage() and "'stock_quantity'" in r.getMessage()
        for r in caplog.records
    )


def test_a_listing_read_before_a_sale_does_not_undo_the_stock_read_back(tmp_path: Path) -> None:
    """Race: a delta page is read (stock 7), the till's order is uploaded and its stock read
    back (6, a newer date), then the page is applied. The older page must not bring back 7:
    the till would show a unit that is already sold."""
    products = json.loads((RECORDED_STORE / "products.json").read_text())
    before = next(p for p in products if p["id"] == 10)
    with Database(tmp_path / "till.db") as db:
        with db.write() as conn:
            apply_items(conn, [before], kind="product", cause="initial sync")
        read_back = {
            "id": 10, "parent_id": 0, "type": "simple", "manage_stock": True,
            "stock_quantity": before["stock_quantity"] - 1, "stock_status": "instock",
            "date_modified_gmt": "2099-01-01T00:00:00",
        }  # fmt: skip
        with db.write() as conn:
            apply_stock(conn, [read_back], "order uploaded (stock read back)")
            late = apply_items(conn, [before], kind="product", cause="delta sync")
        item = get_item(db.conn, 10)
        assert item is not None and item.stock_quantity == before["stock_quantity"] - 1
        assert late.applied == 0 and late.stale == 1
        # A later full copy (same second as the read-back, or newer) is still taken.
        newer = {**before, "name": "Renamed", "date_modified_gmt": "2099-01-01T00:00:00",
                 "stock_quantity": before["stock_quantity"] - 1}  # fmt: skip
        with db.write() as conn:
            apply_items(conn, [newer], kind="product", cause="delta sync")
        item = get_item(db.conn, 10)
        assert item is not None and item.name == "Renamed"


async def test_read_backs_while_an_order_is_in_flight_after_a_crash_log_no_flip_flop(
    tmp_path: Path,
) -> None:
    """After a crash the store already has an in-flight order (store 7 -> 5) while the till
    still subtracts its 2 units: the read-back shows 3, then 5 again once the lookup finds
    the order. Both moves are the till's own sale, not the store disagreeing: no
    discrepancy is logged; an online sale in the same window still is."""
    from datetime import UTC, datetime

    from onetill.store.orders import get_order
    from onetill.store.outbox import mark_in_flight
    from onetill.sync.outbox import drain
    from onetill.sync.outbox_payload import order_payload
    from till_support import close_rig, make_rig, sell, stock_of

    rig = make_rig(tmp_path, home_url="https://sandbox.test")
    try:

        def stock_log() -> list[tuple[str | None, str | None]]:
            return [(d.local_value, d.store_value)
                    for d in list_discrepancies(rig.db.conn, object_id=10)
                    if d.field == "stock_quantity"]  # fmt: skip

        sale = sell(rig.db, "SIMPLE-001", qty=2)
        assert stock_of(rig.db, 10) == 5
        with rig.db.write() as conn:
            mark_in_flight(conn, [sale.uuid], datetime.now(UTC), 0.0)
        await rig.client.post("orders", json=order_payload(get_order(rig.db.conn, sale.uuid)))
        rig.reopen()  # the crash: the answer is lost, the row stays in flight
        rig.advance(2)
        await refresh_stock(rig.client, rig.db, [10], "delta sync")
        assert stock_of(rig.db, 10) == 3  # still subtracted: its fate is unknown here
        report = await drain(rig.client, rig.db, settle_s=0)  # found, then read back
        assert report.found_by_lookup == [sale.uuid]
        assert stock_of(rig.db, 10) == 5
        assert stock_log() == []
        # Another sale in flight when an online sale happens too: that one is logged.
        second = sell(rig.db, "SIMPLE-001", qty=2)
        with rig.db.write() as conn:
            mark_in_flight(conn, [second.uuid], datetime.now(UTC), 0.0)
        await rig.client.post("orders", json=order_payload(get_order(rig.db.conn, second.uuid)))
        rig.store.place_online_order([{"product_id": 10, "quantity": 1}])
        await refresh_stock(rig.client, rig.db, [10], "delta sync")
        assert stock_log() == [("3", "0")]
    finally:
        await close_rig(rig)
