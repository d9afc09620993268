"""The engine's poll with the companion plugin (sandbox --plugin, in-process; a real SQLite file).

What it protects: the plugin is detected and shown; the first use syncs in full and then
follows the journal; an idle poll is one request; edits, online sales, trash and force
deletes reach the till within one poll; a re-baseline (410) syncs in full again; a plugin
that disappears mid-run falls back to plain polling without losing a change.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from catalog_support import Shop, open_shop
from onetill.config import Config
from onetill.engine.jobs import SyncJobs
from onetill.engine.runtime import EngineSettings
from onetill.status import collect_status
from onetill.store.catalog import apply_items, get_item
from onetill.sync.journal import JOURNAL, position

pytestmark = pytest.mark.anyio


def jobs_for(shop: Shop, tmp_path: Path) -> SyncJobs:
    config = Config(url=shop.config.home_url, key="ck_unused", secret="cs_unused")
    return SyncJobs(shop.client, shop.db, config, EngineSettings(home=tmp_path))


def paths(shop: Shop) -> list[str]:
    """Every request the store received (the plugin's routes by their full path)."""
    return [f"{r.method} {r.path}" for r in shop.log.requests]


async def test_first_poll_syncs_in_full_then_an_idle_poll_is_one_request(tmp_path: Path) -> None:
    async with open_shop(tmp_path, plugin=True, frozen_at=time.time()) as shop:
        jobs = jobs_for(shop, tmp_path)
        await jobs.delta()
        assert jobs.plugin is not None and jobs.plugin.present
        at = position(shop.db)
        assert at is not None and at.epoch == shop.store.plugin.journal.epoch
        status = collect_status(shop.db)
        assert status.initial_sync_done and status.plugin and status.plugin_version == "1.0.0"
        shop.log.clear()
        shop.clock.advance(30)  # type: ignore[union-attr]
        await jobs.delta()
        assert paths(shop) == ["GET wc-onetill/v1/changes"]


async def test_edits_sales_trash_and_force_deletes_arrive_in_one_poll(tmp_path: Path) -> None:
    async with open_shop(tmp_path, plugin=True, frozen_at=time.time()) as shop:
        jobs = jobs_for(shop, tmp_path)
        await jobs.delta()
        store = shop.store
        before = get_item(shop.db.conn, 12)
        assert before is not None and before.stock_quantity is not None
        store.admin_update_product(10, {"regular_price": "9.99"})
        store.place_online_order([{"product_id": 12, "quantity": 1}])
        store.trash_product(13)
        store.force_delete_product(14)
        store.admin_update_product(311, {"regular_price": "8.00"})
        shop.log.clear()
        shop.clock.advance(30)  # type: ignore[union-attr]
        await jobs.delta()
        ten, twelve, thirteen = (get_item(shop.db.conn, i) for i in (10, 12, 13))
        assert ten is not None and str(ten.regular_price) == "9.99"
        assert twelve is not None and twelve.stock_quantity == before.stock_quantity - 1
        assert thirteen is not None and thirteen.status == "trash"
        assert get_item(shop.db.conn, 14) is None  # a force delete, seen without an audit
        variation = get_item(shop.db.conn, 311)
        assert variation is not None and str(variation.regular_price) == "8.00"
        # Read by id: products (and the trashed one with status=trash), the variation.
        reads = [(r.path, r.params.get("status")) for r in shop.log.requests]
        assert ("products", None) in reads and ("products", "trash") in reads
        assert ("variations", None) in reads
        assert not any("modified_after" in r.params for r in shop.log.requests)


async def test_a_rebaseline_syncs_in_full_and_follows_the_new_head(tmp_path: Path) -> None:
    async with open_shop(tmp_path, plugin=True, frozen_at=time.time()) as shop:
        jobs = jobs_for(shop, tmp_path)
        await jobs.delta()
        journal = shop.store.plugin.journal
        for pid in (20, 21):
            shop.store.admin_update_product(pid, {"regular_price": "1.00"})
        journal.prune(-60)  # every row but the newest: the till's position expired
        shop.store.force_delete_product(22)  # journaled after the prune, but behind the gap
        shop.clock.advance(30)  # type: ignore[union-attr]
        await jobs.delta()
        assert get_item(shop.db.conn, 22) is None
        item = get_item(shop.db.conn, 20)
        assert item is not None and str(item.regular_price) == "1.00"
        at = position(shop.db)
        assert at is not None and at.seq == journal.head
        shop.log.clear()
        await jobs.delta()
        # following again: an idle poll is the journal request alone
        assert paths(shop) == ["GET wc-onetill/v1/changes"]


async def test_the_plugin_disappearing_mid_run_falls_back_to_polling(tmp_path: Path) -> None:
    async with open_shop(tmp_path, plugin=True, frozen_at=time.time()) as shop:
        jobs = jobs_for(shop, tmp_path)
        await jobs.delta()
        shop.clock.advance(30)  # type: ignore[union-attr]
        await jobs.delta()
        shop.store.config.plugin = False  # deactivated in wp-admin
        shop.store.admin_update_product(10, {"regular_price": "7.77"})
        shop.clock.advance(30)  # type: ignore[union-attr]
        await jobs.delta()
        ten = get_item(shop.db.conn, 10)
        assert ten is not None and str(ten.regular_price) == "7.77"
        assert jobs.plugin is not None and not jobs.plugin.present
        assert not collect_status(shop.db).plugin
        shop.log.clear()
        shop.store.admin_update_product(11, {"regular_price": "6.66"})
        shop.clock.advance(30)  # type: ignore[union-attr]
        await jobs.delta()
        eleven = get_item(shop.db.conn, 11)
        assert eleven is not None and str(eleven.regular_price) == "6.66"
        assert any("modified_after" in r.params for r in shop.log.requests)


async def test_without_the_plugin_the_poll_is_the_plain_one(tmp_path: Path) -> None:
    async with open_shop(tmp_path, frozen_at=time.time()) as shop:
        jobs = jobs_for(shop, tmp_path)
        await jobs.delta()
        assert jobs.plugin is not None and not jobs.plugin.present
        with shop.db.lock:
            assert shop.db.conn.execute(
                "SELECT 1 FROM sync_state WHERE key = ?", (JOURNAL,)
            ).fetchone() is None
        shop.store.admin_update_product(10, {"regular_price": "5.55"})
        shop.clock.advance(30)  # type: ignore[union-attr]
        await jobs.delta()
        ten = get_item(shop.db.conn, 10)
        assert ten is not None and str(ten.regular_price) == "5.55"
        assert not collect_status(shop.db).plugin


async def test_the_audit_lists_ids_through_the_plugin(tmp_path: Path) -> None:
    """The hourly audit asks the plugin's id index (keyset, every status) instead of paging
    wc/v3 listings: it removes what the store no longer has and fetches what the till lacks."""
    async with open_shop(tmp_path, plugin=True, frozen_at=time.time()) as shop:
        jobs = jobs_for(shop, tmp_path)
        await jobs.delta()
        ghost = {**(await shop.client.get("products/11")).data, "id": 999, "sku": "GONE-1"}
        ghost["date_modified_gmt"] = "2000-01-01T00:00:00"
        with shop.db.write() as conn:  # the till lost a product and holds one the store lacks
            conn.execute("DELETE FROM products WHERE id = 10")
            apply_items(conn, [ghost], kind="product", cause="test: a product deleted for good")
        assert get_item(shop.db.conn, 999) is not None
        shop.log.clear()
        await jobs.audit()
        assert get_item(shop.db.conn, 10) is not None
        assert get_item(shop.db.conn, 999) is None
        listed = [r for r in shop.log.requests if r.path == "wc-onetill/v1/ids"]
        assert [r.params["type"] for r in listed] == ["product", "variation"]
        assert all("after_id" in r.params for r in listed)
        plain = [r for r in shop.log.requests if r.path in ("products", "variations")]
        assert not any(r.params.get("_fields") == "id,type" for r in plain)


@pytest.mark.parametrize("till_knows", [True, False])
async def test_variations_are_read_per_parent_on_stores_without_the_global_route(
    tmp_path: Path, till_knows: bool
) -> None:
    """Before WooCommerce 10.3 there is no /variations: a journaled variation is read from its
    parent's list (the row names the parent), whether the till knew it or finds out (404), and
    a delete in the same poll is still applied."""
    async with open_shop(
        tmp_path, plugin=True, global_variations=False, frozen_at=time.time()
    ) as shop:
        jobs = jobs_for(shop, tmp_path)
        jobs.config.global_variations = not till_knows
        await jobs.delta()
        shop.store.admin_update_product(311, {"regular_price": "8.50"})
        shop.store.force_delete_product(14)
        shop.log.clear()
        shop.clock.advance(30)  # type: ignore[union-attr]
        await jobs.delta()
        variation = get_item(shop.db.conn, 311)
        assert variation is not None and str(variation.regular_price) == "8.50"
        assert get_item(shop.db.conn, 14) is None
        assert any(r.path == "products/310/variations" for r in shop.log.requests)
