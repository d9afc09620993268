"""Webhooks and a store clock that ran ahead: a delivery dated after the store's clock is
applied (from the store's own copy) and logged, and never blocks the deliveries after it."""

from __future__ import annotations

from collections.abc import AsyncIterator
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

pytestmark = pytest.mark.anyio

SECRET = "clock-test-secret"
DAY = 86400.0


@pytest.fixture
async def client(sandbox_app: Any) -> AsyncIterator[WooClient]:
    async with WooClient(
        "http://sandbox.test", DEFAULT_KEY, DEFAULT_SECRET,
        transport=httpx2.ASGITransport(app=sandbox_app),
    ) as woo:
        yield woo


async def _deliver(receiver: WebhookReceiver, body: dict[str, Any], delivery: str) -> str:
    headers, raw = signed(body, SECRET, "product.updated", delivery)
    result = await receiver.receive(headers, raw)
    assert result.status == 200
    return result.outcome


async def test_a_delivery_after_a_future_dated_one_still_lands(
    client: WooClient, db: Database, sandbox_store: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """The store's clock a day ahead: a price of 0.01 arrives dated tomorrow. The clock is
    corrected and the price fixed: that delivery is older by date and must not be "stale"."""
    await initial_sync(client, db)
    receiver = WebhookReceiver(db, lambda: SECRET, CatalogWebhookHandler(client, db))
    sandbox_store.set_clock_offset(DAY)
    ahead = sandbox_store.admin_update_product(10, {"regular_price": "0.01"})
    assert await _deliver(receiver, ahead, "ahead-1") == "applied"
    row = product_row(db, 10)
    assert row is not None and row["price"] == "0.01"
    assert any("after the store's clock" in r.getMessage() for r in caplog.records)

    sandbox_store.set_clock_offset(0)
    fixed = sandbox_store.admin_update_product(10, {"regular_price": "9.99"})
    assert fixed["date_modified_gmt"] < ahead["date_modified_gmt"]
    assert await _deliver(receiver, fixed, "fixed-1") == "applied"
    row = product_row(db, 10)
    assert row is not None and row["price"] == "9.99"


async def test_a_replayed_future_dated_body_cannot_roll_the_till_back(
    client: WooClient, db: Database, sandbox_store: Any
) -> None:
    """Its date would win every comparison: the store is asked instead, and its copy wins."""
    await initial_sync(client, db)
    receiver = WebhookReceiver(db, lambda: SECRET, CatalogWebhookHandler(client, db))
    sandbox_store.set_clock_offset(DAY)
    ahead = sandbox_store.admin_update_product(10, {"regular_price": "0.01"})
    sandbox_store.set_clock_offset(0)
    sandbox_store.admin_update_product(10, {"regular_price": "9.99"})
    assert await _deliver(receiver, ahead, "replay-under-a-new-id") == "applied"
    row = product_row(db, 10)
    assert row is not None and row["price"] == "9.99"
