"""End to end: the engine and the sandbox store as separate processes on 127.0.0.1.

Protects the promises of issue 6: offline is noticed quickly and sales
queue; when the store returns the queue drains with no command; webhooks
beat the poll; forged, replayed and oversized deliveries change nothing;
SIGTERM mid-drain loses and duplicates nothing; one engine per home.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from engine.engine_support import FAST, EngineProcess, connect_home, signed
from onetill.config import load_config, save_config
from onetill.engine.jobs import build_client
from onetill.engine.status import read_status
from onetill.engine.webhooks import MAX_BODY_BYTES, sign
from onetill.pos.cart import Cart
from onetill.pos.sale import record_sale
from onetill.pos.tender import Payment
from onetill.sandbox.control import SandboxControl
from onetill.sandbox.server import SandboxProcess
from onetill.store import Database

pytestmark = pytest.mark.slow

UUID_KEY = "_onetill_order_uuid"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SandboxProcess]:
    process = SandboxProcess(
        ["--products", "12", "--variable", "1", "--seed", "3",
         "--state", str(tmp_path / "store.sqlite")]
    )
    process.start()
    yield process
    process.stop()


@pytest.fixture
def home(tmp_path: Path, store: SandboxProcess) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    assert store.url is not None
    connect_home(path, store.url)
    return path


def onetill(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "onetill", *args, "--home", str(home)],
        capture_output=True, text=True, timeout=60,
    )


def local_product(home: Path, item_id: int) -> dict[str, Any]:
    with Database(home / "onetill.db") as db:
        row = db.conn.execute(
            "SELECT id, sku, price, regular_price, stock_quantity, status, sellable"
            " FROM products WHERE id = ?", (item_id,),
        ).fetchone()
    assert row is not None, f"product {item_id} is not in the local catalog"
    return dict(row)


def stocked_product(home: Path) -> tuple[int, str]:
    """A sellable simple product with plenty of managed stock: (id, sku)."""
    with Database(home / "onetill.db") as db:
        row = db.conn.execute(
            "SELECT id, sku FROM products WHERE type = 'simple' AND sellable = 1"
            " AND manage_stock = '1' AND stock_quantity >= 40 AND sku != '' ORDER BY id LIMIT 1"
        ).fetchone()
    assert row is not None, "the generated store has no well-stocked simple product"
    return int(row[0]), str(row[1])


async def edit_price(home: Path, product_id: int, price: str) -> None:
    async with build_client(load_config(home)) as client:
        await client.put(f"products/{product_id}", json={"regular_price": price})


def store_uuids(control: SandboxControl) -> list[str]:
    found: list[str] = []
    for order in control.orders():
        for meta in order.get("meta_data") or []:
            if meta.get("key") == UUID_KEY:
                found.append(str(meta.get("value")))
    return found


def test_offline_sales_queue_and_drain_by_themselves_when_the_store_returns(
    home: Path, store: SandboxProcess
) -> None:
    engine = EngineProcess(home, "--interval", "60", *FAST)
    try:
        engine.start()
        engine.wait_status(lambda s: s["initial_sync_done"] and s["state"] == "online", 60)
        assert read_status(home)["source"] == "engine"

        second = onetill(home, "run", "--port", "0")
        assert second.returncode == 1
        assert "already running" in second.stderr and "--home" in second.stderr

        _, sku = stocked_product(home)
        store.stop()
        took = engine.wait_status(lambda s: s["state"] == "offline", 10)
        assert took < 10

        uuids = []
        for _ in range(3):
            sold = onetill(home, "sell", sku, "--pay", "cash", "--offline", "--json")
            assert sold.returncode == 0, sold.stderr
            uuids.append(json.loads(sold.stdout)["uuid"])
        engine.wait_status(lambda s: s["pending_orders"] == 3 and s["state"] == "offline", 10)

        store.start()  # same port, same state file
        engine.wait_status(lambda s: s["state"] == "online" and s["pending_orders"] == 0, 30)
        assert store.url is not None
        assert sorted(store_uuids(SandboxControl(store.url))) == sorted(uuids)
    finally:
        assert engine.stop() == 0, engine.output
    assert read_status(home)["source"] == "database"


def test_a_store_change_arrives_by_webhook_and_bad_deliveries_change_nothing(
    home: Path, store: SandboxProcess
) -> None:
    engine = EngineProcess(home, "--interval", "600", *FAST)
    try:
        url = engine.start()
        engine.wait_status(lambda s: s["initial_sync_done"], 60)
        for _ in range(2):  # registering twice must not duplicate
            registered = onetill(home, "webhooks", "register", url)
            assert registered.returncode == 0, registered.stderr
        hooks = json.loads(onetill(home, "webhooks", "status", "--json").stdout)
        assert sorted(h["topic"] for h in hooks) == sorted(
            ["product.created", "product.updated", "product.deleted", "product.restored",
             "order.created", "order.updated"])
        assert all(h["status"] == "active" for h in hooks)

        product_id, _ = stocked_product(home)
        assert store.url is not None
        # An edit in the store (through its REST API, as wp-admin would save it).
        asyncio.run(edit_price(home, product_id, "77.70"))
        for _ in range(150):  # the sandbox delivers after ~1 s; the poll is 10 minutes away
            if local_product(home, product_id)["regular_price"] == "77.70":
                break
            time.sleep(0.1)
        assert local_product(home, product_id)["regular_price"] == "77.70", engine.output

        secret = load_config(home).webhook_secret
        assert secret
        hook_url = url + "webhooks/woocommerce"
        old = {"id": product_id, "type": "simple", "status": "publish", "name": "Old",
               "sku": "OLD", "price": "1.00", "regular_price": "1.00", "sale_price": "",
               "manage_stock": True, "stock_quantity": 1, "stock_status": "instock",
               "date_modified_gmt": "2020-01-01T00:00:00", "categories": []}
        forged_headers, raw = signed(old, "not-the-secret", "product.updated", "forged-1")
        assert httpx2.post(hook_url, content=raw, headers=forged_headers).status_code == 401
        stale_headers, raw = signed(old, secret, "product.updated", "replay-1")
        first = httpx2.post(hook_url, content=raw, headers=stale_headers)
        assert first.status_code == 200 and first.json()["outcome"] == "stale"
        again = httpx2.post(hook_url, content=raw, headers=stale_headers)
        assert again.status_code == 200 and again.json()["outcome"] == "duplicate"
        big = b"{" + b" " * MAX_BODY_BYTES + b"}"
        big_headers = dict(stale_headers, **{"x-wc-webhook-signature": sign(big, secret),
                                             "x-wc-webhook-delivery-id": "big-1"})
        assert httpx2.post(hook_url, content=big, headers=big_headers).status_code == 413
        after = local_product(home, product_id)
        assert after["regular_price"] == "77.70" and after["sku"] != "OLD"
    finally:
        assert engine.stop() == 0, engine.output


def test_sigterm_during_a_drain_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    slow = SandboxProcess(
        ["--products", "12", "--seed", "5", "--state", str(tmp_path / "slow.sqlite"),
         "--latency", "800"]
    )
    slow.start()
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    assert slow.url is not None
    config = connect_home(home, slow.url)
    # A short minimum resend age (default 120 s): a lookup comes 6 s after a send
    # at the earliest (timeout + settle), so a missing order is resent at once.
    config.extra["outbox_min_resend_age_s"] = 2
    save_config(home, config)
    # Abandon the request in flight; an order it leaves in flight is looked up after the
    # request timeout plus the settle time (as long as a live till would wait).
    fast_grace = [*FAST[:-2], "--grace", "0.2", "--request-timeout", "5"]
    engine = EngineProcess(home, "--interval", "600", *fast_grace)
    try:
        engine.start()
        engine.wait_status(lambda s: s["initial_sync_done"], 90)
        assert engine.stop() == 0
        product_id, sku = stocked_product(home)
        control = SandboxControl(slow.url)
        before = control.stock(product_id)[product_id]
        assert before is not None

        uuids = []
        with Database(home / "onetill.db") as db:
            for _ in range(30):
                cart = Cart(db.conn, timezone=config.timezone)
                cart.add(sku, 1)
                sale = record_sale(db, cart, Payment("cash"), till_id=config.till_id)
                uuids.append(sale.uuid)

        # SIGTERM at different moments of draining: in the first upload, in a
        # later batch or a lookup, in the stock read-back.
        outputs = []
        for delay in (0.0, 0.9, 1.7):
            engine = EngineProcess(home, "--interval", "600", *fast_grace)
            engine.start()
            engine.wait_status(lambda s: (s.get("engine") or {}).get("job") == "drain", 30)
            time.sleep(delay)
            engine.signal(signal.SIGTERM)
            assert engine.wait(30) == 0, engine.output
            outputs.append(engine.output)
        assert any("abandoning" in out for out in outputs)  # cut mid-request at least once

        engine = EngineProcess(home, "--interval", "600", *fast_grace)
        engine.start()
        engine.wait_status(lambda s: s["pending_orders"] == 0 and s["failed_orders"] == 0, 90)
        in_store = store_uuids(control)
        assert sorted(in_store) == sorted(uuids)  # each sale exactly once
        assert control.stock(product_id)[product_id] == before - 30
    finally:
        engine.stop()
        slow.stop()
