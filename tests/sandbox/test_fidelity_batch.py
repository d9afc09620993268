"""Batch endpoints: the 100-item limit across groups, per-item errors, no validation."""

from __future__ import annotations

import pytest

from onetill.sandbox.config import SandboxConfig
from onetill.sandbox.state import SandboxStore
from sandbox_support import store_client
from support import RECORDED_STORE

pytestmark = pytest.mark.anyio
B = "/wp-json/wc/v3/products/batch"


def _store() -> SandboxStore:
    return SandboxStore.from_config(SandboxConfig(store_dir=RECORDED_STORE))


async def test_limit_counts_create_update_delete_together() -> None:
    """50 creates + 51 updates is 101 items: 413, and nothing is written."""
    store = _store()
    before = len(store.products)
    body = {
        "create": [{"name": f"N{i}", "regular_price": "1.00"} for i in range(50)],
        "update": [{"id": 10 + i, "regular_price": "2.00"} for i in range(51)],
    }
    async with store_client(store) as c:
        r = await c.post(B, json=body)
        ok = await c.post(B, json={"update": [{"id": 10 + i} for i in range(100)]})
    assert (r.status_code, r.json()["code"]) == (413, "woocommerce_rest_request_entity_too_large")
    assert len(store.products) == before
    assert store.products[10].data["regular_price"] == "63.48"
    assert ok.status_code == 200


async def test_failing_items_are_reported_in_place_with_http_200() -> None:
    """A duplicate SKU, an unknown update id and an unknown delete id each carry their error."""
    store = _store()
    async with store_client(store) as c:
        r = await c.post(
            B,
            json={
                "create": [
                    {"name": "Dup", "sku": "SIMPLE-001", "regular_price": "1.00"},
                    {"name": "Fine", "sku": "FINE-1", "regular_price": "1.00"},
                ],
                "update": [
                    {"id": 999999, "regular_price": "2.00"},
                    {"id": 11, "regular_price": "3.00"},
                ],
                "delete": [999998],
            },
        )
    assert r.status_code == 200
    body = r.json()
    assert body["create"][0] == {
        "id": 0,
        "error": {
            "code": "product_invalid_sku",
            "message": "Invalid or duplicated SKU.",
            "data": {"status": 400, "resource_id": 10, "unique_sku": "SIMPLE-001-1"},
        },
    }
    assert body["create"][1]["sku"] == "FINE-1"
    assert body["update"][0]["error"]["data"]["status"] == 400
    assert body["update"][1]["regular_price"] == "3.00"
    assert body["delete"][0]["error"] == {
        "code": "woocommerce_rest_product_invalid_id",
        "message": "Invalid ID.",
        "data": {"status": 404},
    }


async def test_batch_items_skip_validation() -> None:
    """stock_quantity 'abc' silently becomes 0; a number price is stored as a string."""
    store = _store()
    async with store_client(store) as c:
        r = await c.post(
            B, json={"update": [{"id": 10, "stock_quantity": "abc", "regular_price": 5.5}]}
        )
    item = r.json()["update"][0]
    assert (item["stock_quantity"], item["regular_price"]) == (0, "5.5")
    assert item["stock_status"] == "outofstock"


async def test_batch_delete_is_permanent() -> None:
    """Batch delete skips the trash: the product is gone (404), not in status=trash."""
    store = _store()
    async with store_client(store) as c:
        r = await c.post(B, json={"delete": [12]})
        gone = await c.get("/wp-json/wc/v3/products/12")
        trash = await c.get("/wp-json/wc/v3/products", params={"status": "trash"})
    assert r.json()["delete"][0]["id"] == 12
    assert gone.status_code == 404
    assert trash.json() == []


async def test_variation_and_order_batches() -> None:
    """Variations and orders have batch routes too (orders created in a batch reduce stock)."""
    store = _store()
    async with store_client(store) as c:
        v = await c.post(
            "/wp-json/wc/v3/products/310/variations/batch",
            json={"update": [{"id": 312, "stock_quantity": 3}]},
        )
        o = await c.post(
            "/wp-json/wc/v3/orders/batch",
            json={
                "create": [
                    {"status": "completed", "line_items": [{"product_id": 312, "quantity": 1}]}
                ]
            },
        )
    assert v.json()["update"][0]["stock_quantity"] == 3
    assert o.json()["create"][0]["status"] == "completed"
    assert store.stock_of([312]) == {312: 2}
