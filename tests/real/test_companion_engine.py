"""The engine's jobs with the companion plugin inside the real WooCommerce (a real SQLite till).

What it protects, against the ground truth: the engine detects the plugin, baselines the
journal with a full sync, then an idle poll is one PHP request (`changes`); a force delete
and a price edit made through the store's own REST API reach the till within one poll; a
sale recorded offline two days ago is uploaded by key, once, dated when it was sold; an
upload the till gave up on while PHP was still creating the order is sent again at once and
still makes one order and one stock reduction.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Iterator
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

SLOW_ORDER = Path(__file__).with_name("mu-plugins") / "onetill-test-slow-order.php"


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


@pytest.fixture
def slow_orders(companion: RealStore) -> Iterator[RealStore]:
    target = companion.prefix / "www" / "wp-content" / "mu-plugins" / SLOW_ORDER.name
    target.parent.mkdir(exist_ok=True)
    shutil.copyfile(SLOW_ORDER, target)
    try:
        yield companion
    finally:
        target.unlink()


async def test_an_upload_given_up_while_php_works_on_it_makes_one_order(
    slow_orders: RealStore, tmp_path: Path
) -> None:
    """The till waits 2 s, PHP takes 4 s to answer: the keyed POST goes again at once (no
    settle wait, no resend age), meets the reservation (409, Retry-After) and then the order
    the first request made (200, replayed). One order, one stock reduction."""
    store = slow_orders
    async with cs.client(store, timeout=60) as reader:
        with Database(tmp_path / "till.db") as db:
            config = Config(url=store.url_https, key=store.key, secret=store.secret)
            await SyncJobs(reader, db, config, EngineSettings(home=tmp_path)).delta()
            row = db.conn.execute(
                "SELECT id FROM products WHERE type = 'simple' AND sellable = 1"
                " AND manage_stock = '1' AND stock_quantity > 5 ORDER BY id DESC LIMIT 1"
            ).fetchone()
            item = int(row[0])
            before = (await reader.get(f"products/{item}")).data["stock_quantity"]
            cart = Cart(db.conn)
            cart.add(str(item), 2)
            sale = record_sale(db, cart, Payment("cash"), till_id="till-slow-test")
            async with cs.client(store, timeout=2.0) as impatient:
                started = time.monotonic()
                report = await drain(
                    impatient, db, plugin=True, idempotent=True, settle_s=60,
                    min_resend_age_s=120,
                )  # fmt: skip
                while report.next_attempt_at is not None and time.monotonic() - started < 30:
                    await asyncio.sleep(
                        max(0.0, (report.next_attempt_at - datetime.now(UTC)).total_seconds())
                    )
                    report = await drain(
                        impatient, db, plugin=True, idempotent=True, settle_s=60,
                        min_resend_age_s=120,
                    )  # fmt: skip
            order = get_order(db.conn, sale.uuid)
            assert order.state == "synced", order.last_error
            assert order.attempts >= 2 and order.plugin_sends == order.attempts
            assert time.monotonic() - started < 30  # not the 60 s settle nor the 120 s age
        status, found, _ = await cs.call(reader, "GET", "orders/by-uuid", {"uuids": sale.uuid})
        assert status == 200 and [o["id"] for o in found] == [order.remote_id]
        after = (await reader.get(f"products/{item}")).data["stock_quantity"]
        assert after == before - 2
