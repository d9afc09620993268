"""Webhooks: synchronous ping, signed async deliveries, coalescing, no retries, auto-disable."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest

from onetill.sandbox.config import SandboxConfig
from onetill.sandbox.state import SandboxStore
from sandbox_support import Receiver, store_client
from support import RECORDED_STORE

pytestmark = pytest.mark.anyio
W = "/wp-json/wc/v3/webhooks"
P = "/wp-json/wc/v3/products"
SECRET = "s3cret-for-tests"


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver()
    await r.start()
    yield r
    await r.stop()


@pytest.fixture
async def store() -> AsyncIterator[SandboxStore]:
    s = SandboxStore.from_config(SandboxConfig(store_dir=RECORDED_STORE, webhook_delay_s=0.05))
    yield s
    await s.aclose()


async def _hook(c: httpx2.AsyncClient, topic: str, url: str) -> dict[str, Any]:
    r = await c.post(
        W, json={"name": f"t {topic}", "topic": topic, "delivery_url": url, "secret": SECRET}
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def _deliveries(receiver: Receiver) -> list[dict[str, Any]]:
    return [r for r in receiver.requests if "x-wc-webhook-topic" in r["headers"]]  # type: ignore[operator]


async def test_create_pings_synchronously_and_never_returns_the_secret(
    store: SandboxStore, receiver: Receiver
) -> None:
    """POST /webhooks: an unsigned form-encoded ping arrives before the 201; secret never shown."""
    async with store_client(store) as c:
        hook = await _hook(c, "product.updated", receiver.url)
        assert len(receiver.requests) == 1  # the ping is in before the answer
        listed = await c.get(W)
        no_force = await c.delete(f"{W}/{hook['id']}")
        forced = await c.delete(f"{W}/{hook['id']}", params={"force": "true"})
    ping = receiver.requests[0]
    assert ping["body"] == f"webhook_id={hook['id']}".encode()
    assert ping["headers"]["content-type"] == "application/x-www-form-urlencoded"  # type: ignore[index]
    assert not any(h.startswith("x-wc-webhook") for h in ping["headers"])  # type: ignore[attr-defined]
    for text in (json.dumps(hook), listed.text, forced.text):
        assert SECRET not in text and "secret" not in text
    assert (no_force.status_code, no_force.json()["code"]) == (
        501,
        "woocommerce_rest_trash_not_supported",
    )
    assert forced.status_code == 200


async def test_delivery_is_signed_with_every_header_and_current_payload(
    store: SandboxStore, receiver: Receiver
) -> None:
    """A product edit arrives later, HMAC-SHA256 signed over the raw body, all X-WC-Webhook-*."""
    async with store_client(store) as c:
        hook = await _hook(c, "product.updated", receiver.url)
        await c.put(f"{P}/50", json={"regular_price": "5.55"})
        assert _deliveries(receiver) == []  # asynchronous: not yet
        await store.webhooks_idle()
    (d,) = _deliveries(receiver)
    h = d["headers"]
    expected = base64.b64encode(
        hmac.new(SECRET.encode(), d["body"], hashlib.sha256).digest()
    ).decode()
    assert h["x-wc-webhook-signature"] == expected
    assert (h["x-wc-webhook-topic"], h["x-wc-webhook-resource"], h["x-wc-webhook-event"]) == (
        "product.updated",
        "product",
        "updated",
    )
    assert h["x-wc-webhook-id"] == str(hook["id"])
    assert h["x-wc-webhook-source"] == "http://sandbox.test/"
    assert len(h["x-wc-webhook-delivery-id"]) == 32
    assert h["content-type"] == "application/json"
    payload = json.loads(d["body"])
    assert (payload["id"], payload["regular_price"]) == (50, "5.55")
    assert b"http:\\/\\/sandbox.test" in d["body"]  # PHP json_encode escapes slashes


async def test_rapid_changes_coalesce_into_one_delivery_with_the_latest_state(
    store: SandboxStore, receiver: Receiver
) -> None:
    """Three edits of one product before the delivery runs: one delivery, showing the last edit."""
    async with store_client(store) as c:
        await _hook(c, "product.updated", receiver.url)
        for price in ("1.00", "2.00", "3.00"):
            await c.put(f"{P}/50", json={"regular_price": price})
        await c.put(f"{P}/51", json={"regular_price": "4.00"})
        await store.webhooks_idle()
    bodies = sorted(
        (json.loads(d["body"])["id"], json.loads(d["body"])["regular_price"])
        for d in _deliveries(receiver)
    )
    assert bodies == [(50, "3.00"), (51, "4.00")]


async def test_trash_sends_product_deleted_with_id_and_force_delete_sends_nothing(
    store: SandboxStore, receiver: Receiver
) -> None:
    """product.deleted is {"id": N} on trash; a force delete delivers nothing."""
    async with store_client(store) as c:
        await _hook(c, "product.deleted", receiver.url)
        await c.delete(f"{P}/60")
        await c.delete(f"{P}/61", params={"force": "true"})
        await store.webhooks_idle()
    assert [d["body"] for d in _deliveries(receiver)] == [b'{"id":60}']


async def test_a_sale_sends_order_created_and_product_updated(
    store: SandboxStore, receiver: Receiver
) -> None:
    """An order creates order.created and product.updated for each product whose stock moved."""
    async with store_client(store) as c:
        await _hook(c, "order.created", receiver.url)
        await _hook(c, "product.updated", receiver.url)
        await c.post(
            "/wp-json/wc/v3/orders",
            json={
                "status": "completed",
                "line_items": [
                    {"product_id": 40, "quantity": 1},
                    {"product_id": 405, "variation_id": 407, "quantity": 1},
                ],
            },
        )
        await store.webhooks_idle()
    seen = sorted(
        (d["headers"]["x-wc-webhook-topic"], json.loads(d["body"])["id"])  # type: ignore[index]
        for d in _deliveries(receiver)
    )
    assert seen == [("order.created", 411), ("product.updated", 40), ("product.updated", 405)]


async def test_failures_are_not_retried_and_more_than_five_disable_the_webhook(
    store: SandboxStore,
) -> None:
    """A sink answering 500: each change tried once; the 6th failure in a row disables the hook."""
    failing = Receiver(status=500)
    await failing.start()
    try:
        async with store_client(store) as c:
            hook = await _hook(c, "product.updated", failing.url)
            for pid in range(10, 17):
                await c.put(f"{P}/{pid}", json={})
                await store.webhooks_idle()
            status = (await c.get(f"{W}/{hook['id']}")).json()["status"]
    finally:
        await failing.stop()
    assert len(_deliveries(failing)) == 6  # 6 attempts, then disabled: the 7th change is not sent
    assert status == "disabled"
    assert [e["ok"] for e in store.dispatcher.log] == [False] * 6
