"""The initial catalog pull against the sandbox store: complete, resumable, fail-safe."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from catalog_support import local_items, open_shop, store_items
from onetill.store.catalog import count_items, get_item, search
from onetill.store.settings import get_setting
from onetill.store.sync_state import get_json, get_state
from onetill.sync.catalog import initial_sync, needs_initial_sync
from onetill.sync.progress import Progress
from onetill.woo.errors import AuthError, NotJSONError, WooError

pytestmark = pytest.mark.anyio

FIELDS = ("parent_id", "sku", "name", "status", "price", "regular_price", "sale_price")


async def test_initial_sync_equals_the_store(tmp_path: Path) -> None:
    """Every product (all statuses but trash) and variation, with prices, stock and settings."""
    async with open_shop(tmp_path) as shop:
        events: list[Progress] = []
        report = await initial_sync(shop.client, shop.db, events.append)
        truth = store_items(shop.store)
        local = local_items(shop.db)
        assert set(local) == set(truth) and len(local) == 401
        for iid, item in truth.items():
            for f in FIELDS:
                assert local[iid][f] == item[f], (iid, f)
            assert local[iid]["store_stock_quantity"] == item["stock_quantity"], iid
        assert count_items(shop.db.conn) == (320, 81) and report.applied == 401
        conn = shop.db.conn
        assert conn.execute("SELECT COUNT(*) FROM tax_rates").fetchone()[0] == 2
        assert conn.execute("SELECT COUNT(*) FROM tax_classes").fetchone()[0] == 3
        assert conn.execute("SELECT COUNT(*) FROM categories").fetchone()[0] == 6
        assert get_setting(conn, "general", "woocommerce_currency") == "EUR"
        assert get_setting(conn, "tax", "woocommerce_prices_include_tax") == "yes"
        assert not needs_initial_sync(shop.db)
        # Progress: n of X-WP-Total per resource, each one finished.
        final = {e.resource: e for e in events if e.finished}
        assert final["products"].total == 320 and final["variations"].total == 81
        assert {"tax_rates", "tax_classes", "categories", "settings_general"} <= set(final)


async def test_cursor_is_the_servers_time_noted_before_the_pull(tmp_path: Path) -> None:
    """The delta cursor is the store's Date of the first answers, never the till's clock."""
    async with open_shop(tmp_path, frozen_at=1_900_000_000, clock_offset_s=0) as shop:
        await initial_sync(shop.client, shop.db)
        # 1_900_000_000 is 2030-03-17T17:46:40Z; the till runs in 2026.
        assert get_state(shop.db.conn, "catalog.cursor") == "2030-03-17T17:46:40"
        assert get_state(shop.db.conn, "catalog.last_sync_at") == "2030-03-17T17:46:40"


async def test_resume_after_a_failed_page_never_refetches_stored_pages(tmp_path: Path) -> None:
    """Page 3 breaks (PHP fatal, HTML): stored pages stay; the rerun fetches only the rest."""
    async with open_shop(tmp_path) as shop:
        shop.faults.add("GET /wp-json/wc/v3/products:html=500@from=3")
        with pytest.raises(NotJSONError):
            await initial_sync(shop.client, shop.db)
        stored = shop.db.conn.execute(
            "SELECT value FROM sync_state WHERE key = 'initial.pages.products'"
        ).fetchone()[0]
        done = set(map(int, stored.strip("[]").split(",")))
        assert 1 in done and len(done) < 4
        assert get_state(shop.db.conn, "catalog.state") == "degraded"
        assert needs_initial_sync(shop.db)
        before = count_items(shop.db.conn)[0]
        assert before == 100 * len(done)

        shop.faults.clear()
        shop.log.clear()
        await initial_sync(shop.client, shop.db)
        refetched = set(shop.log.pages("products", orderby="id"))
        assert refetched == {1, 2, 3, 4} - done
        # Small resources and variations that completed are not fetched again either.
        assert shop.log.pages("taxes") == [] and shop.log.pages("variations", orderby="id") == []
        assert set(local_items(shop.db)) == set(store_items(shop.store))
        assert get_state(shop.db.conn, "catalog.state") == "online"


async def test_resume_after_the_task_is_killed_mid_pull(tmp_path: Path) -> None:
    """Cancelled after the first stored page (a kill): the rerun completes without refetching it."""
    async with open_shop(tmp_path, latency_ms=5) as shop:
        task: asyncio.Task[object]

        def kill_after_first_page(event: Progress) -> None:
            if event.resource == "products" and event.done >= 100 and not event.finished:
                task.cancel()

        task = asyncio.ensure_future(initial_sync(shop.client, shop.db, kill_after_first_page))
        with pytest.raises(asyncio.CancelledError):
            await task
        assert 0 < count_items(shop.db.conn)[0] < 320
        shop.log.clear()
        await initial_sync(shop.client, shop.db)
        assert 1 not in shop.log.pages("products", orderby="id")
        assert set(local_items(shop.db)) == set(store_items(shop.store))


async def test_keys_revoked_mid_pull_is_a_clear_error_and_catalog_intact(tmp_path: Path) -> None:
    """A 401 halfway: AuthError naming the problem; what was stored stays consistent."""
    async with open_shop(tmp_path) as shop:
        shop.faults.add("GET /wp-json/wc/v3/products:revoke@nth=2")
        with pytest.raises(AuthError) as caught:
            await initial_sync(shop.client, shop.db)
        assert "401" in str(caught.value) or "key" in str(caught.value).lower()
        assert shop.store.config.keys  # the store still lists the key; it just refuses it
        products, _ = count_items(shop.db.conn)
        assert products % 100 == 0  # whole pages only, never half a page
        assert get_state(shop.db.conn, "catalog.state") == "degraded"


async def test_stores_without_global_variations_are_read_per_parent(tmp_path: Path) -> None:
    """WooCommerce before 10.3 has no /variations: each variable parent is read instead."""
    async with open_shop(tmp_path, global_variations=False) as shop:
        await initial_sync(shop.client, shop.db)
        assert count_items(shop.db.conn) == (320, 81)
        per_parent = {r.path for r in shop.log.requests if r.path.endswith("/variations")}
        assert len(per_parent) == 20
        assert get_item(shop.db.conn, 407).manage_stock == "parent"  # type: ignore[union-attr]
        assert {i.id for i in search(shop.db.conn, "Variable Product 01")} == {311, 312, 313, 314}


async def test_per_parent_pull_resumes_by_parent(tmp_path: Path) -> None:
    """Killed during the per-parent variations, the rerun reads only the parents not stored."""
    async with open_shop(tmp_path, global_variations=False) as shop:
        shop.faults.add("GET /wp-json/wc/v3/products/3[0-9][0-9]/variations:html=502@from=6")
        with pytest.raises(WooError):
            await initial_sync(shop.client, shop.db, global_variations=False, parent_concurrency=1)
        done = set(get_json(shop.db.conn, "initial.parents_done", []))
        assert 0 < len(done) < 20
        shop.faults.clear()
        shop.log.clear()
        await initial_sync(shop.client, shop.db, global_variations=False)
        # Whole reads (not the closing ID audit, which asks for `_fields=id` only).
        reread = {
            int(r.path.split("/")[1])
            for r in shop.log.requests
            if r.path.endswith("/variations") and "_fields" not in r.params
        }
        assert reread and not reread & done and len(reread) == 20 - len(done)
        assert count_items(shop.db.conn) == (320, 81)


async def test_malformed_item_is_skipped_and_the_sync_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A product with a number for a price is logged by id and field; the rest is stored."""
    async with open_shop(tmp_path) as shop:
        shop.store.products[15].data["regular_price"] = 12.5  # a broken plugin's doing
        report = await initial_sync(shop.client, shop.db)
        assert report.skipped == 1 and report.applied == 400
        assert get_item(shop.db.conn, 15) is None and get_item(shop.db.conn, 16) is not None
        assert any(
            "product 15" in r.getMessage() and "'regular_price'" in r.getMessage()
            for r in caplog.records
        )


@pytest.mark.parametrize(
    ("fault", "shown"),
    [
        ("status=404", "404"),  # a proxy's HTML 404 page
        ("waf=403", "403"),  # a WAF challenge instead of JSON
        ("truncated", "JSON"),  # the answer cut in half
    ],
)
async def test_bad_answers_mid_pull_are_clear_errors_and_resumable(
    tmp_path: Path, fault: str, shown: str
) -> None:
    """Whatever breaks page 2, the error says what came back, and the rerun completes."""
    async with open_shop(tmp_path) as shop:
        shop.faults.add(f"GET /wp-json/wc/v3/products:{fault}@from=2")
        with pytest.raises(WooError) as caught:
            await initial_sync(shop.client, shop.db)
        assert shown.lower() in str(caught.value).lower()
        assert count_items(shop.db.conn)[0] % 100 == 0  # whole pages only
        shop.faults.clear()
        await initial_sync(shop.client, shop.db)
        assert set(local_items(shop.db)) == set(store_items(shop.store))


async def test_php_notices_before_the_json_do_not_stop_the_pull(tmp_path: Path) -> None:
    """display_errors on a shared host: the JSON after the notice is still the catalog."""
    async with open_shop(tmp_path) as shop:
        shop.faults.add("GET /wp-json/wc/v3/products:malformed")
        await initial_sync(shop.client, shop.db)
        assert set(local_items(shop.db)) == set(store_items(shop.store))


async def test_full_resync_reads_everything_again_and_changes_nothing(tmp_path: Path) -> None:
    """`onetill sync --full`: every page refetched, same catalog, nothing logged."""
    async with open_shop(tmp_path) as shop:
        await initial_sync(shop.client, shop.db)
        before = local_items(shop.db)
        shop.log.clear()
        await initial_sync(shop.client, shop.db, full=True)
        assert shop.log.pages("products", orderby="id") == [1, 2, 3, 4]
        assert local_items(shop.db) == before
        assert shop.db.conn.execute("SELECT COUNT(*) FROM discrepancies").fetchone()[0] == 0


async def test_deletions_between_runs_do_not_lose_items_to_shifted_pages(tmp_path: Path) -> None:
    """Five products on stored page 1 are force-deleted before the resume: page 2 now starts
    five items later, yet the resumed pull ends with exactly the store's catalog."""
    async with open_shop(tmp_path) as shop:
        shop.faults.add("GET /wp-json/wc/v3/products:html=500@from=2")
        with pytest.raises(WooError):
            await initial_sync(shop.client, shop.db)
        assert get_json(shop.db.conn, "initial.pages.products", []) == [1]
        for gone in range(10, 15):
            shop.store.force_delete_product(gone)
        shop.faults.clear()
        report = await initial_sync(shop.client, shop.db)
        assert set(local_items(shop.db)) == set(store_items(shop.store))
        assert {get_item(shop.db.conn, i) for i in range(10, 15)} == {None}
        assert all(get_item(shop.db.conn, i) is not None for i in range(110, 115))
        assert report.removed == 5


async def test_full_resync_also_drops_what_the_store_deleted_for_good(tmp_path: Path) -> None:
    """`onetill sync --full` is how a merchant asks for an exact copy: a product force-deleted
    since the last pull (no trace in any listing) must not stay on sale."""
    async with open_shop(tmp_path) as shop:
        await initial_sync(shop.client, shop.db)
        shop.store.force_delete_product(30)
        report = await initial_sync(shop.client, shop.db, full=True)
        assert get_item(shop.db.conn, 30) is None and report.removed == 1
        assert set(local_items(shop.db)) == set(store_items(shop.store))


async def test_product_restored_onto_a_stored_page_between_runs_is_not_missed(
    tmp_path: Path,
) -> None:
    """A product restored from the trash (a low id, so it lands on the stored page 1 and pushes
    every later item one place back) between a kill and the resume: the resumed pull still
    ends with exactly the store's catalog, the restored product included."""
    async with open_shop(tmp_path) as shop:
        shop.store.trash_product(12)
        shop.faults.add("GET /wp-json/wc/v3/products:html=500@from=2")
        with pytest.raises(WooError):
            await initial_sync(shop.client, shop.db)
        assert get_json(shop.db.conn, "initial.pages.products", []) == [1]
        shop.store.admin_update_product(12, {"status": "publish"})
        shop.faults.clear()
        await initial_sync(shop.client, shop.db)
        assert set(local_items(shop.db)) == set(store_items(shop.store))
        restored = get_item(shop.db.conn, 12)
        assert restored is not None and restored.sellable
