"""POST /api/sales: one sale per sale key, priced again on the server, nothing on refusal."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from onetill.store.orders import get_order
from web.web_support import TillHost, change_product, post

pytestmark = pytest.mark.anyio

LINES = [{"id": 10, "qty": 1}, {"id": 12, "qty": 2}]  # 63.48 + 2 × 22.49
TOTAL = "108.46"


def sale(key: str | None = None, **payment: Any) -> dict[str, Any]:
    return {
        "sale_key": key or str(uuid.uuid4()),
        "lines": LINES,
        "payment": {"method": "cash", **payment},
        "expected_total": TOTAL,
    }


def orders(host: TillHost) -> int:
    return int(host.db.conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0])


async def test_a_cash_sale_answers_the_receipt_with_change(api: Any, host: TillHost) -> None:
    client, token = api
    body = sale(tendered="120")
    response = await post(client, "/api/sales", body, token)
    assert response.status_code == 201, response.text
    receipt = response.json()
    assert receipt["uuid"] == body["sale_key"] and receipt["short"] == body["sale_key"][:8]
    assert (receipt["total_text"], receipt["tendered_text"], receipt["change_text"]) == (
        "€108.46", "€120.00", "€11.54")
    assert receipt["store"]["name"] == "Recorded Test Shop"
    assert receipt["store"]["address"] == ["Teststrasse 1", "10115 Berlin"]
    assert [t["label"] for t in receipt["taxes"]] == ["MwSt 19%", "MwSt 7%"]
    assert receipt["number"] is None and receipt["state"] == "pending_sync"
    assert receipt["timezone"] == "Europe/Berlin"
    assert host.sales_notified == 1
    stock = host.db.conn.execute("SELECT stock_quantity FROM products WHERE id = 12").fetchone()
    assert stock[0] == 187  # 189 less the two sold


async def test_the_same_sale_key_twice_records_one_sale(api: Any, host: TillHost) -> None:
    client, token = api
    body = sale()
    first = await post(client, "/api/sales", body, token)
    again = await post(client, "/api/sales", body, token)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["replayed"] is True and again.json()["uuid"] == first.json()["uuid"]
    assert orders(host) == 1 and host.sales_notified == 1


async def test_concurrent_posts_of_one_sale_record_it_once(api: Any, host: TillHost) -> None:
    """A double click sends two requests at the same moment."""
    client, token = api
    body = sale()
    answers = await asyncio.gather(*(post(client, "/api/sales", body, token) for _ in range(5)))
    assert sorted(a.status_code for a in answers) == [200, 200, 200, 200, 201]
    assert orders(host) == 1
    stock = host.db.conn.execute("SELECT stock_quantity FROM products WHERE id = 12").fetchone()
    assert stock[0] == 187


async def test_a_sale_key_reused_for_another_cart_is_refused(api: Any, host: TillHost) -> None:
    client, token = api
    body = sale()
    assert (await post(client, "/api/sales", body, token)).status_code == 201
    other = dict(body, lines=[{"id": 12, "qty": 1}], expected_total="22.49")
    response = await post(client, "/api/sales", other, token)
    assert response.status_code == 409 and response.json()["error"] == "key_reused"
    assert orders(host) == 1


async def test_a_changed_total_is_refused_with_the_new_cart(api: Any, host: TillHost) -> None:
    client, token = api
    change_product(host.db, 12, regular_price="25.00", price="25.00")
    response = await post(client, "/api/sales", sale(), token)
    assert response.status_code == 409
    data = response.json()
    assert data["error"] == "total_changed" and data["cart"]["totals"]["total"] == "113.48"
    assert orders(host) == 0


async def test_too_little_cash_and_bad_amounts_record_nothing(api: Any, host: TillHost) -> None:
    client, token = api
    short = await post(client, "/api/sales", sale(tendered="100"), token)
    assert short.status_code == 400 and "less than the total" in short.json()["message"]
    bad = await post(client, "/api/sales", sale(tendered="1e400"), token)
    assert bad.status_code == 400
    key = await post(client, "/api/sales", sale(key="not-a-uuid"), token)
    assert key.status_code == 400 and "UUID" in key.json()["message"]
    assert orders(host) == 0


async def test_card_is_refused_offline_and_recorded_online(api: Any, host: TillHost) -> None:
    client, token = api
    host.is_online = False
    card = {"method": "card", "reference": "pi_3NxAbCdEfGh12345", "brand": "visa", "last4": "4242"}
    body = dict(sale(), payment=card)
    offline = await post(client, "/api/sales", body, token)
    assert offline.status_code == 409 and "card needs the internet" in offline.json()["message"]
    assert orders(host) == 0
    host.is_online = True
    online = await post(client, "/api/sales", body, token)
    assert online.status_code == 201, online.text
    order = get_order(host.db.conn, body["sale_key"])
    assert (order.transaction_id, order.card_brand, order.card_last4) == (
        "pi_3NxAbCdEfGh12345", "visa", "4242")
    assert online.json()["card"] == "Visa •••• 4242"


async def test_beyond_stock_needs_the_confirmation_at_sale_time(api: Any, host: TillHost) -> None:
    client, token = api
    change_product(host.db, 22, backorders="notify")  # 2 in stock
    body = dict(sale(), lines=[{"id": 22, "qty": 3}], expected_total="240.69")
    refused = await post(client, "/api/sales", body, token)
    assert refused.status_code == 409 and refused.json()["error"] == "stock"
    body["lines"] = [{"id": 22, "qty": 3, "confirmed": True}]
    assert (await post(client, "/api/sales", body, token)).status_code == 201
    stock = host.db.conn.execute("SELECT stock_quantity FROM products WHERE id = 22").fetchone()
    assert stock[0] == -1
