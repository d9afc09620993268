"""The engine's delta job against the sandbox: a longer poll interval still misses nothing."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from catalog_support import open_shop
from onetill.config import Config
from onetill.engine.jobs import SyncJobs
from onetill.engine.runtime import EngineSettings
from onetill.store.catalog import get_item
from onetill.sync.catalog import initial_sync

pytestmark = pytest.mark.anyio


async def test_long_interval_and_a_server_clock_set_back_lose_nothing(tmp_path: Path) -> None:
    """`onetill run --interval 120`: the store's clock is set back an hour between two polls.
    The poll after the jump sees a Date older than its cursor and reads again from well
    before it, so the change made just after the jump reaches the till."""
    async with open_shop(tmp_path, frozen_at=time.time()) as shop:
        config = Config(url=shop.config.home_url, key="ck_unused", secret="cs_unused")
        settings = EngineSettings(home=tmp_path, delta_interval_s=120)
        jobs = SyncJobs(shop.client, shop.db, config, settings)
        await initial_sync(shop.client, shop.db)
        shop.clock.advance(120)  # type: ignore[union-attr]
        await jobs.delta()
        shop.clock.advance(-3600)  # type: ignore[union-attr]
        shop.store.admin_update_product(15, {"regular_price": "5.55"})
        for _ in range(2):
            shop.clock.advance(120)  # type: ignore[union-attr]
            await jobs.delta()
        item = get_item(shop.db.conn, 15)
        assert item is not None and str(item.regular_price) == "5.55"


def test_audit_is_due_an_interval_after_the_last_one_by_the_stores_clock(tmp_path: Path) -> None:
    """When the last audit ran (any run) decides when the next one is due; store times only."""
    from onetill.store import Database
    from onetill.store.sync_state import set_state
    from onetill.woo import WooClient

    with Database(tmp_path / "onetill.db") as db:
        client = WooClient("http://127.0.0.1:9", "ck_x", "cs_unused_here")
        config = Config(url="http://127.0.0.1:9", key="ck_x", secret="cs_unused_here")
        jobs = SyncJobs(client, db, config, EngineSettings(home=tmp_path))
        assert jobs.audit_due_in(3600) == 3600  # never audited: a full interval
        with db.write() as conn:
            set_state(conn, "audit.last_at", "2026-11-26T10:00:00")
            set_state(conn, "catalog.cursor", "2026-11-26T10:10:00")
        assert jobs.audit_due_in(3600) == 3000
        with db.write() as conn:
            set_state(conn, "catalog.cursor", "2026-11-26T12:00:00")
        assert jobs.audit_due_in(3600) == 0
