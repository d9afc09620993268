"""The engine's HTTP routes: webhook endpoint limits, status JSON and the SSE stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest

from engine.engine_support import delivery, product_row
from onetill.engine.app import StatusHub, create_engine_app
from onetill.engine.apply import CatalogWebhookHandler
from onetill.engine.webhooks import MAX_BODY_BYTES, WebhookReceiver
from onetill.store import Database
from onetill.woo import WooClient

SECRET = "test-secret-proxied-8080"


class Box:
    """A mutable status the tests change, standing in for the database view."""

    def __init__(self) -> None:
        self.value: dict[str, Any] = {"state": "online", "pending_orders": 0}

    def __call__(self) -> dict[str, Any]:
        return dict(self.value)


@pytest.fixture
async def env(db: Database) -> AsyncIterator[tuple[httpx2.AsyncClient, StatusHub, Box]]:
    woo = WooClient("http://127.0.0.1:9", "ck_x", "cs_unused_in_these_tests")
    receiver = WebhookReceiver(db, lambda: SECRET, CatalogWebhookHandler(woo, db))
    box = Box()
    hub = StatusHub(box, refresh_s=0.05)
    app = create_engine_app(receiver, hub)
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url="http://engine.test"
    ) as http:
        yield http, hub, box
    hub.close()
    await woo.aclose()


@pytest.mark.anyio
async def test_webhook_route_applies_a_real_delivery(env: Any, db: Database) -> None:
    http, _, _ = env
    headers, body, _ = delivery("webhook-product-updated.json")
    response = await http.post("/webhooks/woocommerce", content=body, headers=headers)
    assert response.status_code == 200 and response.json()["outcome"] == "applied"
    assert product_row(db, 50) is not None


@pytest.mark.anyio
async def test_webhook_route_answers_the_ping(env: Any) -> None:
    http, _, _ = env
    headers, body, _ = delivery("webhook-ping.json")
    response = await http.post("/webhooks/woocommerce", content=body, headers=headers)
    assert response.status_code == 200


@pytest.mark.anyio
async def test_webhook_route_rejects_bodies_over_one_megabyte(env: Any, db: Database) -> None:
    """Declared or streamed, a body over 1 MB gets 413 and nothing is stored."""
    http, _, _ = env
    headers, _, _ = delivery("webhook-product-updated.json")
    big = b"x" * (MAX_BODY_BYTES + 1)
    response = await http.post("/webhooks/woocommerce", content=big, headers=headers)
    assert response.status_code == 413

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(17):
            yield b"y" * 65536  # 1.06 MB, no Content-Length

    no_length = {k: v for k, v in headers.items() if k != "content-length"}
    response = await http.post("/webhooks/woocommerce", content=chunks(), headers=no_length)
    assert response.status_code == 413
    assert db.conn.execute("SELECT COUNT(*) FROM webhook_deliveries").fetchone()[0] == 0


@pytest.mark.anyio
async def test_webhook_route_bad_signature_is_401(env: Any) -> None:
    http, _, _ = env
    headers, body, _ = delivery("webhook-product-updated.json")
    headers["x-wc-webhook-signature"] = "AAAA"
    response = await http.post("/webhooks/woocommerce", content=body, headers=headers)
    assert response.status_code == 401


@pytest.mark.anyio
async def test_status_json_is_served(env: Any) -> None:
    http, _, box = env
    box.value["pending_orders"] = 3
    response = await http.get("/api/status")
    assert response.status_code == 200 and response.json()["pending_orders"] == 3


@pytest.mark.anyio
async def test_index_page_shows_the_status(env: Any) -> None:
    http, _, _ = env
    response = await http.get("/")
    assert response.status_code == 200
    assert "till screen" in response.text and "pending_orders" in response.text


@pytest.mark.anyio
async def test_hub_watch_yields_each_change_once(env: Any) -> None:
    """The SSE source sends the status at once, then only when it changed."""
    _, hub, box = env
    seen: list[dict[str, Any]] = []

    async def collect() -> None:
        async for snapshot in hub.watch():
            seen.append(snapshot)
            if len(seen) == 2:
                return

    task = asyncio.create_task(collect())
    await asyncio.sleep(0.15)  # several refreshes with no change: nothing new sent
    assert len(seen) == 1
    box.value["state"] = "offline"
    hub.changed()
    await asyncio.wait_for(task, 2)
    assert [s["state"] for s in seen] == ["online", "offline"]


@pytest.mark.anyio
async def test_a_slow_drip_delivery_is_refused_while_others_are_answered(db: Database) -> None:
    """A body trickled in a byte at a time gets 408 after the body deadline, and a genuine
    delivery sent meanwhile is applied at once (found by the chaos suite: a slow drip was
    never cut off and held its connection for as long as the sender liked)."""
    woo = WooClient("http://127.0.0.1:9", "ck_x", "cs_unused_in_these_tests")
    receiver = WebhookReceiver(db, lambda: SECRET, CatalogWebhookHandler(woo, db))
    hub = StatusHub(Box(), refresh_s=0.05)
    app = create_engine_app(receiver, hub, body_timeout_s=0.5)
    headers, body, _ = delivery("webhook-product-updated.json")

    async def drip() -> AsyncIterator[bytes]:
        for i in range(len(body)):
            await asyncio.sleep(0.05)
            yield body[i : i + 1]

    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url="http://engine.test"
    ) as http:
        slow = asyncio.create_task(
            http.post("/webhooks/woocommerce", content=drip(), headers=headers)
        )
        await asyncio.sleep(0.1)
        fast = await http.post("/webhooks/woocommerce", content=body, headers=headers)
        assert fast.status_code == 200 and fast.json()["outcome"] == "applied"
        answered = await asyncio.wait_for(slow, 5)
    assert answered.status_code == 408 and answered.json()["outcome"] == "rejected"
    hub.close()
    await woo.aclose()
