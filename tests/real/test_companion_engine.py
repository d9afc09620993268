"""The engine's jobs with the companion plugin inside the real WooCommerce (a real SQLite till).

What it protects, against the ground truth: the engine detects the plugin, baselines the
journal with a full sync, then an idle poll is one PHP request (`changes`); a force delete
and a price edit made through the store's own REST API reach the till within one poll; a
sale recorded offline two days ago is uploaded by key, once, dated when it was sold.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import companion_support as cs
from onetill.config import Config
from onetill.engine.jobs import SyncJobs
from onetill.engine.runtime import EngineSettings
from onetill.pos.cart import Cart
from onetill.pos.sale import record_sale
from onetill.pos.tender import Payment
from onetill.status import collect_status
from onetill.store import Database
from onetill.store.catalog import get_item
from onetill.store.orders import get_order
from onetill.sync.outbox import drain
from realstore_support import RealStore

pytestmark = [pytest.mark.real, pytest.mark.anyio]


def php_requests(store: RealStore, since: int) -> list[str]:
    """The request lines under /wp-json/ the store logged after byte ``since``."""
    with store.access_log.open("rb") as log:
        log.seek(since)
        text = log.read().decode("utf-8", "replace")
    return [line for line in text.splitlines() if "/wp-json/" in line]


async def test_the_engine_follows_the_journal_and_uploads_by_key(
    companion: RealStore, tmp_path: Path
) -> None:
    async with cs.client(companion, timeout=60) as c:
        with Database(tmp_path / "till.db") as db:
            config = Config(url=companion.url_https, key=companion.key, secret=companion.secret)
            jobs = SyncJobs(c, db, config, EngineSettings(home=tmp_path))
            await jobs.delta()  # detection, then the full sync that baselines the journal
            status = collect_status(db)
            assert status.plugin and status.plugin_version and status.initial_sync_done
            rows = db.conn.execute(
                "SELECT id FROM products WHERE type = 'simple' AND sellable = 1"
                " AND manage_stock = '1' AND stock_quantity > 5 ORDER BY id LIMIT 3"
            ).fetchall()
            victim, edited, sold_item = (int(r[0]) for r in rows)

            mark = companion.access_log.stat().st_size
            await jobs.delta()
            await asyncio.sleep(0.5)  # nginx writes the line as the answer leaves
            idle = php_requests(companion, mark)
            assert len(idle) == 1 and "/wp-json/wc-onetill/v1/changes" in idle[0], idle

            await c.delete(f"products/{victim}", {"force": "true"})
            await c.put(f"products/{edited}", json={"regular_price": "4.44"})
            await jobs.delta()
            assert get_item(db.conn, victim) is None  # no audit needed
            item = get_item(db.conn, edited)
            assert item is not None and str(item.regular_price) == "4.44"

            sold = (datetime.now(UTC) - timedelta(days=2)).replace(microsecond=0)
            cart = Cart(db.conn)
            cart.add(str(sold_item), 1)
            sale = record_sale(db, cart, Payment("cash"), till_id="till-real", now=sold)
            report = await drain(c, db, plugin=True, idempotent=True)
            assert report.synced == [sale.uuid], report
            order = get_order(db.conn, sale.uuid)
            made = (await c.get(f"orders/{order.remote_id}")).data
            assert made["date_created_gmt"] == sold.strftime("%Y-%m-%dT%H:%M:%S")
            found = await cs.call(c, "GET", f"orders/by-key/{sale.uuid}")
            assert found[0] == 200 and found[1]["id"] == order.remote_id
