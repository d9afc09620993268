"""Webhooks: synchronous ping, signed async deliveries, coalescing, no retries, auto-disable."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from pathlib import Path
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


async def test_delivery_ids_repeat_within_a_second_as_in_woocommerce(
    receiver: Receiver,
) -> None:
    """X-WC-Webhook-Delivery-ID is wp_hash(webhook id . second): two deliveries of one
    webhook in the same store second share it; another second or webhook gets another."""
    now = [1_800_000_000.25]
    store = SandboxStore.from_config(
        SandboxConfig(store_dir=RECORDED_STORE, webhook_delay_s=0.05), clock=lambda: now[0]
    )
    try:
        async with store_client(store) as c:
            first = await _hook(c, "product.updated", receiver.url)
            second = await _hook(c, "product.updated", receiver.url)
            await c.put(f"{P}/50", json={"regular_price": "1.00"})
            await c.put(f"{P}/51", json={"regular_price": "2.00"})
            await store.webhooks_idle()
            now[0] += 1.0
            await c.put(f"{P}/50", json={"regular_price": "3.00"})
            await store.webhooks_idle()
    finally:
        await store.aclose()
    ids: dict[tuple[str, str], list[str]] = {}
    for d in _deliveries(receiver):
        h: Any = d["headers"]
        price = json.loads(d["body"])["regular_price"]
        second_of = "later" if price == "3.00" else "same"
        ids.setdefault((h["x-wc-webhook-id"], second_of), []).append(h["x-wc-webhook-delivery-id"])
    same_first = ids[(str(first["id"]), "same")]
    assert len(same_first) == 2 and same_first[0] == same_first[1]  # products 50 and 51
    assert len(same_first[0]) == 32 and int(same_first[0], 16) >= 0
    assert ids[(str(second["id"]), "same")][0] != same_first[0]  # another webhook
    assert ids[(str(first["id"]), "later")] != [same_first[0]]  # the next second


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


async def test_order_deleted_is_sent_on_trash_only(store: SandboxStore, receiver: Receiver) -> None:
    """order.deleted hangs on wp_trash_post: trashing an order sends {"id": N}, a force
    delete sends nothing."""
    async with store_client(store) as c:
        await _hook(c, "order.deleted", receiver.url)
        ids = []
        for _ in range(2):
            r = await c.post("/wp-json/wc/v3/orders", json={"line_items": []})
            ids.append(r.json()["id"])
        await c.delete(f"/wp-json/wc/v3/orders/{ids[0]}")
        await c.delete(f"/wp-json/wc/v3/orders/{ids[1]}", params={"force": "true"})
        await store.webhooks_idle()
    assert [json.loads(d["body"]) for d in _deliveries(receiver)] == [{"id": ids[0]}]


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
    """A sink answering 500: each change tried once. failed_delivery() counts six failures;
    the seventh, with the count already above 5, disables the hook (the 8th is not sent)."""
    failing = Receiver(status=500)
    await failing.start()
    try:
        async with store_client(store) as c:
            hook = await _hook(c, "product.updated", failing.url)
            states = []
            for pid in range(10, 18):
                await c.put(f"{P}/{pid}", json={})
                await store.webhooks_idle()
                states.append((await c.get(f"{W}/{hook['id']}")).json()["status"])
    finally:
        await failing.stop()
    assert len(_deliveries(failing)) == 7
    assert states == ["active"] * 6 + ["disabled"] * 2
    assert [e["ok"] for e in store.dispatcher.log] == [False] * 7


async def test_a_redirect_answer_counts_as_delivered(store: SandboxStore) -> None:
    """WooCommerce counts 2xx, 301 and 302 as success (redirects are not followed):
    a sink answering 302 never gets the webhook disabled."""
    redirecting = Receiver(status=302)
    await redirecting.start()
    try:
        async with store_client(store) as c:
            hook = await _hook(c, "product.updated", redirecting.url)
            for pid in range(10, 18):
                await c.put(f"{P}/{pid}", json={})
                await store.webhooks_idle()
            status = (await c.get(f"{W}/{hook['id']}")).json()["status"]
    finally:
        await redirecting.stop()
    assert status == "active"
    assert [e["ok"] for e in store.dispatcher.log] == [True] * 8


async def test_webhook_errors_use_woocommerces_codes(store: SandboxStore) -> None:
    """shop_webhook error codes: unknown id 400 on GET/PUT but 404 on DELETE (force is
    checked first: 501 without it); bad topic or delivery URL 400, nothing created."""
    async with store_client(store) as c:
        got = await c.get(f"{W}/999")
        put = await c.put(f"{W}/999", json={"name": "x"})
        no_force = await c.delete(f"{W}/999")
        forced = await c.delete(f"{W}/999", params={"force": "true"})
        body = {"topic": "product.bogus", "delivery_url": "http://127.0.0.1:8080/x"}
        topic = await c.post(W, json=body)
        url = await c.post(W, json={"topic": "product.updated", "delivery_url": "ftp://x/y"})
        listed = await c.get(W)
    assert (got.status_code, got.json()["code"], got.json()["message"]) == (
        400,
        "woocommerce_rest_shop_webhook_invalid_id",
        "ID is invalid.",
    )
    assert (put.status_code, put.json()["code"]) == (
        400,
        "woocommerce_rest_shop_webhook_invalid_id",
    )
    assert (no_force.status_code, no_force.json()["code"]) == (
        501,
        "woocommerce_rest_trash_not_supported",
    )
    assert (forced.status_code, forced.json()["message"]) == (404, "Invalid ID.")
    assert (topic.status_code, topic.json()["code"]) == (
        400,
        "woocommerce_rest_shop_webhook_invalid_topic",
    )
    assert (url.status_code, url.json()["code"]) == (
        400,
        "woocommerce_rest_shop_webhook_invalid_delivery_url",
    )
    assert listed.json() == []


async def test_wordpress_refuses_loopback_delivery_urls_off_safe_ports(
    receiver: Receiver,
) -> None:
    """With webhook_safe_urls (what a real store does): a receiver on 127.0.0.1 at a port
    other than 80/443/8080 gets neither ping nor deliveries; each counts as a failure."""
    store = SandboxStore.from_config(
        SandboxConfig(store_dir=RECORDED_STORE, webhook_delay_s=0.01, webhook_safe_urls=True)
    )
    try:
        async with store_client(store) as c:
            hook = await _hook(c, "product.updated", receiver.url)
            for pid in range(10, 17):
                await c.put(f"{P}/{pid}", json={})
                await store.webhooks_idle()
            status = (await c.get(f"{W}/{hook['id']}")).json()["status"]
    finally:
        await store.aclose()
    assert receiver.requests == []
    assert status == "disabled"
    assert [e["status"] for e in store.dispatcher.log] == [None] * 7


@pytest.mark.parametrize(
    ("url", "refused"),
    [
        ("http://127.0.0.1:8765/hook", True),
        ("http://192.168.1.20:9000/hook", True),
        ("http://10.0.0.5/hook", False),
        ("http://localhost:8080/hook", False),
        ("https://till.example.com:8443/hook", False),
    ],
)
def test_the_wordpress_url_rule_refuses_private_hosts_off_safe_ports(
    url: str, refused: bool
) -> None:
    """WOOCOMMERCE.md: loopback/private addresses only on ports 80, 443 and 8080."""
    from onetill.sandbox.webhooks import refused_by_wordpress

    assert refused_by_wordpress(url) is refused


async def test_a_webhook_deleted_during_a_delivery_stays_deleted(tmp_path: Path) -> None:
    """Deleting a webhook while its delivery is in flight: the delivery's bookkeeping must
    not write the deleted webhook back into the state file (it would return on restart)."""
    arrived, release = asyncio.Event(), asyncio.Event()

    async def slow_sink(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(
            next(
                (
                    ln.split(b":")[1]
                    for ln in head.split(b"\r\n")
                    if ln.lower().startswith(b"content-length")
                ),
                b"0",
            )
        )
        await reader.readexactly(length)
        if b"x-wc-webhook-topic" in head.lower():
            arrived.set()
            await release.wait()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    sink = await asyncio.start_server(slow_sink, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{sink.sockets[0].getsockname()[1]}/hook"
    state = tmp_path / "state.sqlite"
    config = SandboxConfig(store_dir=RECORDED_STORE, webhook_delay_s=0.01, state_file=state)
    store = SandboxStore.from_config(config)
    try:
        async with store_client(store) as c:
            hook = await _hook(c, "product.updated", url)
            await c.put(f"{P}/10", json={})
            await asyncio.wait_for(arrived.wait(), 5)
            r = await c.delete(f"{W}/{hook['id']}", params={"force": "true"})
            assert r.status_code == 200
            release.set()
            await store.webhooks_idle()
    finally:
        await store.aclose()
        sink.close()
        await sink.wait_closed()
    again = SandboxStore.from_config(config)
    try:
        assert again.webhooks == {}
    finally:
        await again.aclose()
