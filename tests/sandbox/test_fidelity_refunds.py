"""Sandbox refunds as WooCommerce 11 makes them: api_refund, api_restock, meta_data."""

from __future__ import annotations

import pytest

from onetill.sandbox.config import SandboxConfig
from onetill.sandbox.state import SandboxStore
from sandbox_support import Clock, store_client
from support import RECORDED_STORE

pytestmark = pytest.mark.anyio

ORDERS = "/wp-json/wc/v3/orders"


def _store() -> SandboxStore:
    config = SandboxConfig(store_dir=RECORDED_STORE)
    return SandboxStore.from_config(config, clock=Clock(1_796_000_000.0))


async def test_refund_without_api_refund_false_needs_a_gateway() -> None:
    """api_refund defaults to true: an order paid outside a refunding gateway gets a 500 and
    no refund (WooCommerce deletes the refund when the gateway cannot refund)."""
    store = _store()
    async with store_client(store) as c:
        o = (await c.post(ORDERS, json={"status": "completed", "payment_method": "onetill_card",
                                        "line_items": [{"product_id": 40, "quantity": 1}]})).json()
        refused = await c.post(f"{ORDERS}/{o['id']}/refunds", json={"amount": "1.00"})
        listed = (await c.get(f"{ORDERS}/{o['id']}/refunds")).json()
    assert refused.status_code == 500
    assert refused.json()["code"] == "woocommerce_rest_cannot_create_order_refund"
    assert listed == []
    await store.aclose()


async def test_api_restock_defaults_to_true_and_meta_data_is_kept() -> None:
    """Returned lines go back to stock unless api_restock is false; the refund keeps meta."""
    store = _store()
    async with store_client(store) as c:
        o = (await c.post(ORDERS, json={"status": "completed", "set_paid": True, "line_items": [
            {"product_id": 40, "quantity": 2}]})).json()  # fmt: skip
        line = o["line_items"][0]
        before = store.stock_of([40])[40]
        body = {"amount": "1.00", "api_refund": False,
                "line_items": [{"id": line["id"], "quantity": 1, "refund_total": "1.00"}],
                "meta_data": [{"key": "_onetill_refund_uuid", "value": "r-1"}]}  # fmt: skip
        kept = (await c.post(f"{ORDERS}/{o['id']}/refunds", json=body)).json()
        after_default = store.stock_of([40])[40]
        await c.post(f"{ORDERS}/{o['id']}/refunds", json={**body, "api_restock": False})
    assert after_default == before + 1 and store.stock_of([40])[40] == before + 1
    assert {"key": "_onetill_refund_uuid", "value": "r-1"}.items() <= next(
        m for m in kept["meta_data"] if m["key"] == "_onetill_refund_uuid").items()
    await store.aclose()
