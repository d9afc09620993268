"""`onetill webhooks register`: idempotent, re-enables, removes duplicates, leaves others alone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest

from onetill.engine.register import (
    TOPICS,
    delivery_url_for,
    list_ours,
    register_webhooks,
    url_warnings,
)
from onetill.sandbox.config import DEFAULT_KEY, DEFAULT_SECRET
from onetill.woo import WooClient

# Nothing listens on the discard port: the creation ping fails fast, as it
# would for an engine that is not running yet.
DELIVERY = "http://127.0.0.1:9/webhooks/woocommerce"


@pytest.fixture
async def client(sandbox_app: Any) -> AsyncIterator[WooClient]:
    async with WooClient(
        "http://sandbox.test", DEFAULT_KEY, DEFAULT_SECRET,
        transport=httpx2.ASGITransport(app=sandbox_app),
    ) as woo:
        yield woo


async def all_hooks(client: WooClient) -> list[dict[str, Any]]:
    return list((await client.get("webhooks", {"status": "all", "per_page": 100})).data)


@pytest.mark.anyio
async def test_first_run_creates_one_active_webhook_per_topic(client: WooClient) -> None:
    actions = await register_webhooks(client, "till-a", DELIVERY, "s3cret-value-1")
    assert sorted(a.topic for a in actions) == sorted(TOPICS)
    assert {a.action for a in actions} == {"created"}
    hooks = await list_ours(client, "till-a")
    assert sorted(h["topic"] for h in hooks) == sorted(TOPICS)
    assert all(h["status"] == "active" and h["delivery_url"] == DELIVERY for h in hooks)


@pytest.mark.anyio
async def test_running_again_updates_in_place_and_never_duplicates(client: WooClient) -> None:
    first = await register_webhooks(client, "till-a", DELIVERY, "s3cret-value-1")
    moved = "https://till.example.com/webhooks/woocommerce"
    second = await register_webhooks(client, "till-a", moved, "s3cret-value-1")
    assert {a.action for a in second} == {"updated"}
    assert sorted(a.webhook_id for a in second) == sorted(a.webhook_id for a in first)
    hooks = await all_hooks(client)
    assert len(hooks) == len(TOPICS)
    assert {h["delivery_url"] for h in hooks} == {moved}


@pytest.mark.anyio
async def test_disabled_webhooks_are_reenabled(client: WooClient) -> None:
    """WooCommerce disables a webhook after more than 5 failed deliveries; register revives it."""
    await register_webhooks(client, "till-a", DELIVERY, "s3cret-value-1")
    victim = (await list_ours(client, "till-a"))[0]
    await client.put(f"webhooks/{victim['id']}", json={"status": "disabled"})
    actions = await register_webhooks(client, "till-a", DELIVERY, "s3cret-value-1")
    revived = [a for a in actions if a.webhook_id == victim["id"]]
    assert revived[0].action == "reenabled" and revived[0].status == "active"
    assert all(h["status"] == "active" for h in await list_ours(client, "till-a"))


@pytest.mark.anyio
async def test_duplicates_are_removed_and_other_webhooks_left_alone(client: WooClient) -> None:
    await register_webhooks(client, "till-a", DELIVERY, "s3cret-value-1")
    dup = (await client.post("webhooks", json={
        "name": "OneTill till-a product.updated", "topic": "product.updated",
        "delivery_url": DELIVERY, "secret": "x"})).data
    foreign = (await client.post("webhooks", json={
        "name": "Accounting sync", "topic": "order.created",
        "delivery_url": "https://books.example.com/hook", "secret": "y"})).data
    other_till = await register_webhooks(client, "till-b", DELIVERY, "s3cret-value-2")
    actions = await register_webhooks(client, "till-a", DELIVERY, "s3cret-value-1")
    assert [a.webhook_id for a in actions if a.action == "deleted-duplicate"] == [dup["id"]]
    remaining = {h["id"] for h in await all_hooks(client)}
    assert foreign["id"] in remaining
    assert {a.webhook_id for a in other_till} <= remaining
    assert len(await list_ours(client, "till-a")) == len(TOPICS)


def test_delivery_url_is_the_engine_route_under_the_public_url() -> None:
    assert delivery_url_for("https://till.example.com") == (
        "https://till.example.com/webhooks/woocommerce")
    assert delivery_url_for("https://till.example.com/pos/") == (
        "https://till.example.com/pos/webhooks/woocommerce")
    assert delivery_url_for("http://x.test/webhooks/woocommerce") == (
        "http://x.test/webhooks/woocommerce")
    with pytest.raises(ValueError, match="public URL"):
        delivery_url_for("till.example.com")


def test_private_addresses_off_the_safe_ports_are_warned_about() -> None:
    """WordPress only delivers to loopback/private hosts on ports 80, 443 and 8080."""
    assert any("80, 443 and 8080" in w for w in url_warnings("http://127.0.0.1:8000/w"))
    assert any("80, 443 and 8080" in w for w in url_warnings("http://192.168.1.20:9000/w"))
    assert not any("8080" in w for w in url_warnings("http://192.168.1.20:8080/w"))
    assert url_warnings("https://till.example.com/webhooks/woocommerce") == []
