"""The orders and needs-attention API: lists, detail, retry, void (kept, with its reason)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from onetill.store.discrepancies import log_discrepancy
from onetill.store.orders import get_order
from onetill.store.outbox import mark_failed
from onetill.store.sync_state import set_state
from web.web_support import TillHost, post

pytestmark = pytest.mark.anyio


async def sell(api: Any, lines: list[dict[str, Any]], total: str) -> str:
    client, token = api
    key = str(uuid.uuid4())
    body = {"sale_key": key, "lines": lines, "payment": {"method": "cash"},
            "expected_total": total}
    assert (await post(client, "/api/sales", body, token)).status_code == 201
    return key


async def test_orders_list_filters_by_state_and_counts(api: Any, host: TillHost) -> None:
    client, _ = api
    first = await sell(api, [{"id": 12, "qty": 1}], "22.49")
    second = await sell(api, [{"id": 10, "qty": 1}], "63.48")
    with host.db.write() as conn:
        mark_failed(conn, first, "Invalid or duplicated SKU. (product_invalid_sku)")
    listing = (await client.get("/api/orders", params={"filter": "all"})).json()
    assert [o["uuid"] for o in listing["orders"]] == [second, first]  # newest first
    assert listing["counts"]["all"] == 2 and listing["counts"]["failed"] == 1
    failed = (await client.get("/api/orders", params={"filter": "failed"})).json()
    assert [o["uuid"] for o in failed["orders"]] == [first]
    assert failed["orders"][0]["state_text"] == "Failed: needs attention"
    bad = await client.get("/api/orders", params={"filter": "nope"})
    assert bad.status_code == 400


async def test_order_detail_has_lines_and_attempts(api: Any) -> None:
    client, _ = api
    key = await sell(api, [{"id": 311, "qty": 2}], "94.78")
    detail = (await client.get(f"/api/orders/{key[:8]}")).json()
    assert detail["uuid"] == key and detail["attempts"] == 0
    assert detail["lines"][0]["name"].startswith("Variable Product 01")
    assert detail["lines"][0]["qty"] == 2 and detail["lines"][0]["amount_text"] == "€94.78"
    missing = await client.get("/api/orders/00000000")
    assert missing.status_code == 404


async def test_retry_puts_a_failed_order_back_in_the_queue(api: Any, host: TillHost) -> None:
    client, token = api
    key = await sell(api, [{"id": 12, "qty": 1}], "22.49")
    with host.db.write() as conn:
        mark_failed(conn, key, "refused")
    attention = (await client.get("/api/attention")).json()
    assert [o["uuid"] for o in attention["failed"]] == [key]
    before = host.sales_notified
    response = await post(client, f"/api/orders/{key}/retry", {}, token)
    assert response.status_code == 200 and response.json()["state"] == "pending_sync"
    assert host.sales_notified == before + 1  # the drainer is woken
    again = await post(client, f"/api/orders/{key}/retry", {}, token)
    assert again.status_code == 200  # a pending order may be retried (due now)


async def test_void_needs_a_reason_keeps_the_order_and_restores_stock(
    api: Any, host: TillHost
) -> None:
    client, token = api
    key = await sell(api, [{"id": 12, "qty": 3}], "67.47")
    early = await post(client, f"/api/orders/{key}/void", {"reason": "customer left"}, token)
    assert early.status_code == 409 and "only a failed order" in early.json()["message"]
    with host.db.write() as conn:
        mark_failed(conn, key, "refused")
    empty = await post(client, f"/api/orders/{key}/void", {"reason": "  "}, token)
    assert empty.status_code == 400
    done = await post(client, f"/api/orders/{key}/void", {"reason": "test sale"}, token)
    assert done.status_code == 200 and done.json()["state"] == "voided"
    order = get_order(host.db.conn, key)
    assert order.void_reason == "test sale"
    stock = host.db.conn.execute("SELECT stock_quantity FROM products WHERE id = 12").fetchone()
    assert stock[0] == 189


async def test_attention_lists_stock_corrections_and_a_paused_queue(
    api: Any, host: TillHost
) -> None:
    client, _ = api
    with host.db.write() as conn:
        log_discrepancy(conn, "product", 22, "stock_quantity", 2, 1, "delta sync")
        set_state(conn, "outbox.paused", "keys rejected")
    data = (await client.get("/api/attention")).json()
    assert data["paused"] == "keys rejected"
    row = data["stock"][0]
    assert (row["name"], row["local"], row["store"], row["cause"]) == (
        "Simple Product 013", "2", "1", "delta sync")
