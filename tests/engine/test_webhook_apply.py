"""What verified deliveries do, against the sandbox store: deletes are read back, own orders
skipped, other orders refresh stock, and failures are left to the poll."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from engine.engine_support import product_row, signed
from onetill.engine.apply import CatalogWebhookHandler
from onetill.engine.webhooks import WebhookReceiver
from onetill.sandbox.config import DEFAULT_KEY, DEFAULT_SECRET
from onetill.store import Database
from onetill.sync.catalog import initial_sync
from onetill.woo import WooClient

SECRET = "apply-test-secret"
TILL = "till-apply"


@pytest.fixture
async def client(sandbox_app: Any) -> AsyncIterator[WooClient]:
    async with WooClient(
        "http://sandbox.test", DEFAULT_KEY, DEFAULT_SECRET,
        transport=httpx2.ASGITransport(app=sandbox_app),
    ) as woo:
        yield woo


class Deferred:
    def __init__(self) -> None:
        self.topics: list[str] = []

    def __call__(self, topic: str) -> None:
        self.topics.append(topic)


@pytest.fixture
async def synced(client: WooClient, db: Database) -> tuple[WebhookReceiver, Deferred]:
    await initial_sync(client, db)
    deferred = Deferred()
    receiver = WebhookReceiver(
        db, lambda: SECRET, CatalogWebhookHandler(client, db, TILL), on_deferred=deferred
    )
    return receiver, deferred


def stock(db: Database, item_id: int) -> int:
    row = product_row(db, item_id)
    assert row is not None
    return int(row["stock_quantity"])


def simple_product(db: Database) -> int:
    row = db.conn.execute(
        "SELECT id FROM products WHERE type = 'simple' AND sellable = 1 AND manage_stock = '1'"
        " AND stock_quantity > 5 ORDER BY id LIMIT 1"
    ).fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.anyio
async def test_trash_delivery_makes_the_product_unsellable(
    synced: tuple[WebhookReceiver, Deferred], db: Database, client: WooClient, sandbox_store: Any
) -> None:
    receiver, _ = synced
    pid = simple_product(db)
    sandbox_store.trash_product(pid)
    headers, raw = signed({"id": pid}, SECRET, "product.deleted", "del-1")
    result = await receiver.receive(headers, raw)
    assert (result.status, result.outcome) == (200, "applied")
    row = product_row(db, pid)
    assert row is not None and row["status"] == "trash" and row["sellable"] == 0


@pytest.mark.anyio
async def test_replayed_delete_after_a_restore_keeps_the_product_sellable(
    synced: tuple[WebhookReceiver, Deferred], db: Database, client: WooClient, sandbox_store: Any
) -> None:
    """A delete body has no date; the store is asked, so an old one cannot hide a product."""
    receiver, _ = synced
    pid = simple_product(db)
    sandbox_store.trash_product(pid)
    headers, raw = signed({"id": pid}, SECRET, "product.deleted", "del-1")
    await receiver.receive(headers, raw)
    await client.put(f"products/{pid}", json={"status": "publish"})
    replay_headers, raw = signed({"id": pid}, SECRET, "product.deleted", "del-2")
    result = await receiver.receive(replay_headers, raw)
    assert result.outcome == "restored"
    row = product_row(db, pid)
    assert row is not None and row["status"] == "publish" and row["sellable"] == 1


@pytest.mark.anyio
async def test_someone_elses_order_refreshes_the_stock_of_its_items(
    synced: tuple[WebhookReceiver, Deferred], db: Database, sandbox_store: Any
) -> None:
    receiver, _ = synced
    pid = simple_product(db)
    before = stock(db, pid)
    order = sandbox_store.place_online_order([{"product_id": pid, "quantity": 2}])
    headers, raw = signed(order, SECRET, "order.created", "ord-1")
    result = await receiver.receive(headers, raw)
    assert result.outcome == "refreshed"
    assert stock(db, pid) == before - 2


@pytest.mark.anyio
async def test_this_tills_own_order_is_not_read_back_again(
    synced: tuple[WebhookReceiver, Deferred], db: Database
) -> None:
    receiver, _ = synced
    order = {"id": 9001, "line_items": [{"product_id": simple_product(db), "quantity": 1}],
             "meta_data": [{"key": "_onetill_till_id", "value": TILL}]}
    headers, raw = signed(order, SECRET, "order.created", "own-1")
    assert (await receiver.receive(headers, raw)).outcome == "ignored"


@pytest.mark.anyio
async def test_a_delivery_that_cannot_be_applied_is_left_to_the_poll(
    db: Database, tmp_path: Path
) -> None:
    """The store unreachable for the read-back: 202 (WooCommerce would disable a failing
    webhook), the poll is woken, and the delivery is not marked as handled."""
    async with WooClient("http://127.0.0.1:9", DEFAULT_KEY, DEFAULT_SECRET,
                         max_attempts=1) as unreachable:
        deferred = Deferred()
        receiver = WebhookReceiver(
            db, lambda: SECRET, CatalogWebhookHandler(unreachable, db, TILL),
            on_deferred=deferred,
        )
        headers, raw = signed({"id": 5}, SECRET, "product.deleted", "del-x")
        result = await receiver.receive(headers, raw)
    assert (result.status, result.outcome) == (202, "deferred")
    assert deferred.topics == ["product.deleted"]
    assert db.conn.execute("SELECT COUNT(*) FROM webhook_deliveries").fetchone()[0] == 0


@pytest.mark.anyio
async def test_created_product_is_added(
    synced: tuple[WebhookReceiver, Deferred], db: Database, client: WooClient
) -> None:
    created = (await client.post("products", json={
        "name": "Webhook Mug", "type": "simple", "regular_price": "4.20", "sku": "WH-MUG",
        "manage_stock": True, "stock_quantity": 7})).data
    headers, raw = signed(created, SECRET, "product.created", "new-1")
    receiver, _ = synced
    assert (await receiver.receive(headers, raw)).outcome == "applied"
    row = product_row(db, created["id"])
    assert row is not None and row["price"] == "4.20" and row["stock_quantity"] == 7


@pytest.mark.anyio
async def test_a_webhook_keeps_a_barcode_that_lives_in_the_configured_meta_field(
    db: Database, client: WooClient
) -> None:
    """A store without GTIN or SKU keeps its barcodes in a meta field; a product.updated
    delivery must read them the same way the polls do, not clear them."""
    from support import load_fixture

    product = dict(load_fixture("product-simple.json")["response"]["body"])
    product.update(
        sku="", global_unique_id="", meta_data=[{"id": 1, "key": "_ean", "value": "4006381333931"}]
    )
    handler = CatalogWebhookHandler(client, db, TILL, barcode_meta_key="_ean")
    assert await handler.product_changed("product.updated", product) == "applied"
    row = db.conn.execute("SELECT barcode FROM products WHERE id = ?", (product["id"],)).fetchone()
    assert row["barcode"] == "4006381333931"
