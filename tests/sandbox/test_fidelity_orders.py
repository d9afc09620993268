"""Orders, stock and tax the way WooCommerce 11 computes them (recorded store ids)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx2
import pytest

from onetill.sandbox.config import SandboxConfig
from onetill.sandbox.state import SandboxStore
from sandbox_support import Clock, store_client
from support import RECORDED_STORE, load_fixture

pytestmark = pytest.mark.anyio
ORDERS = "/wp-json/wc/v3/orders"
P = "/wp-json/wc/v3/products"
TAX = load_fixture("orders-tax/orders-tax.json")
NOW = datetime(2026, 11, 27, 15, 30, 6, tzinfo=UTC).timestamp()


def _store() -> tuple[SandboxStore, Clock]:
    clock = Clock(NOW)
    return SandboxStore.from_config(SandboxConfig(store_dir=RECORDED_STORE), clock=clock), clock


async def _order(c: httpx2.AsyncClient, **body: Any) -> dict[str, Any]:
    r = await c.post(ORDERS, json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def _stock(c: httpx2.AsyncClient, pid: int) -> int:
    return int(
        (await c.get(f"{P}/{pid}", params={"_fields": "stock_quantity"})).json()["stock_quantity"]
    )


_LINE_KEYS = (
    "product_id",
    "quantity",
    "tax_class",
    "subtotal",
    "subtotal_tax",
    "total",
    "total_tax",
    "taxes",
)


@pytest.mark.parametrize("case", sorted(TAX["cases"]))
async def test_tax_totals_equal_the_real_store(case: str) -> None:
    """Every recorded paid order gets exactly WooCommerce's totals, line taxes and tax lines."""
    recorded = TAX["cases"][case]
    store, _ = _store()
    async with store_client(store) as c:
        r = await c.post(ORDERS, json=recorded["request"])
    assert r.status_code == recorded["status"]
    body = r.json()
    for key, value in recorded["response"].items():
        assert body[key] == value, key
    assert len(body["line_items"]) == len(recorded["line_items"])
    for got, want in zip(body["line_items"], recorded["line_items"], strict=True):
        assert {k: got[k] for k in _LINE_KEYS} == {k: want[k] for k in _LINE_KEYS}
        assert got["price"] == pytest.approx(want["price"], abs=1e-6)
    assert [(t["rate_id"], t["tax_total"]) for t in body["tax_lines"]] == [
        (t["rate_id"], t["tax_total"]) for t in recorded["tax_lines"]
    ]


async def test_completed_and_paid_reduces_stock_once_per_request_no_idempotency() -> None:
    """The same paid POST twice: two orders, stock reduced twice, line meta _reduced_stock."""
    store, _ = _store()
    async with store_client(store) as c:
        body = {
            "status": "completed",
            "set_paid": True,
            "line_items": [{"product_id": 40, "quantity": 2}],
        }
        a = await _order(c, **body)
        b = await _order(c, **body)
        stock = await _stock(c, 40)
    assert a["id"] != b["id"]
    assert stock == 163 - 4
    meta = {m["key"]: m["value"] for m in a["line_items"][0]["meta_data"]}
    assert meta["_reduced_stock"] == "2"


async def test_set_paid_alone_means_processing_and_reduces() -> None:
    """set_paid without status: processing, date_paid set, stock reduced."""
    store, _ = _store()
    async with store_client(store) as c:
        o = await _order(c, set_paid=True, line_items=[{"product_id": 40, "quantity": 1}])
        assert await _stock(c, 40) == 162
    assert o["status"] == "processing"
    assert o["date_paid_gmt"] == "2026-11-27T15:30:06"


async def test_pending_reduces_nothing_until_completed_and_cancel_restores() -> None:
    """Default pending: no change; PUT completed reduces; PUT cancelled puts the stock back."""
    store, _ = _store()
    async with store_client(store) as c:
        o = await _order(c, line_items=[{"product_id": 40, "quantity": 3}])
        assert (o["status"], await _stock(c, 40)) == ("pending", 163)
        await c.put(f"{ORDERS}/{o['id']}", json={"status": "completed"})
        assert await _stock(c, 40) == 160
        await c.put(f"{ORDERS}/{o['id']}", json={"status": "processing"})  # no second reduction
        assert await _stock(c, 40) == 160
        await c.put(f"{ORDERS}/{o['id']}", json={"status": "cancelled"})
        assert await _stock(c, 40) == 163


async def test_no_availability_check_stock_goes_negative_and_drafts_sell() -> None:
    """Product 10 has 7: selling 10 leaves -3; the draft 308 can be sold."""
    store, _ = _store()
    async with store_client(store) as c:
        await _order(
            c,
            status="completed",
            line_items=[{"product_id": 10, "quantity": 10}, {"product_id": 308, "quantity": 1}],
        )
        assert await _stock(c, 10) == -3


async def test_unknown_product_is_an_empty_line_at_zero() -> None:
    """A product_id that does not exist: 201, line with product_id 0, total 0.00."""
    store, _ = _store()
    async with store_client(store) as c:
        o = await _order(
            c, status="completed", set_paid=True, line_items=[{"product_id": 999999, "quantity": 1}]
        )
    line = o["line_items"][0]
    assert (line["product_id"], line["name"], line["total"], o["total"]) == (0, "", "0.00", "0.00")


async def test_variation_id_as_product_id_and_sku_lines_are_normalised() -> None:
    """product_id=312 (a variation) becomes 310/312; a sku line finds its product."""
    store, _ = _store()
    async with store_client(store) as c:
        o = await _order(c, line_items=[{"product_id": 312, "quantity": 1}, {"sku": "SIMPLE-002"}])
    assert [(li["product_id"], li["variation_id"]) for li in o["line_items"]] == [
        (310, 312),
        (11, 0),
    ]
    assert o["line_items"][0]["name"] == "Variable Product 01 - M"


async def test_date_created_is_not_writable_meta_and_created_via_are() -> None:
    """date_created_gmt is ignored; meta_data kept; created_via filters; search ignores meta."""
    store, _ = _store()
    async with store_client(store) as c:
        o = await _order(
            c,
            status="completed",
            created_via="onetill",
            date_created_gmt="2026-11-25T09:00:00",
            meta_data=[{"key": "_onetill_order_uuid", "value": "u-1"}],
            line_items=[{"product_id": 60, "quantity": 1}],
        )
        await _order(c, line_items=[{"product_id": 60, "quantity": 1}])
        mine = (await c.get(ORDERS, params={"created_via": "onetill", "_fields": "id"})).json()
        search = (await c.get(ORDERS, params={"search": "u-1"})).json()
        window = await c.get(
            ORDERS, params={"after": "2026-11-27T15:30:05", "dates_are_gmt": "true"}
        )
    assert o["date_created_gmt"] == "2026-11-27T15:30:06"
    assert [m["key"] for m in o["meta_data"]] == ["_onetill_order_uuid"]
    assert o["created_via"] == "onetill"
    assert mine == [{"id": o["id"]}]
    assert search == []
    assert window.headers["x-wp-total"] == "2"


async def test_a_sale_bumps_the_products_date_modified() -> None:
    """Polling modified_after sees products whose stock an order changed."""
    store, clock = _store()
    async with store_client(store) as c:
        clock.advance(10)
        await _order(c, status="completed", line_items=[{"product_id": 40, "quantity": 1}])
        changed = await c.get(
            P,
            params={
                "modified_after": "2026-11-27T15:30:10",
                "dates_are_gmt": "true",
                "_fields": "id,total_sales",
            },
        )
    assert changed.json() == [{"id": 40, "total_sales": 1}]


async def test_refund_with_restock_puts_stock_back_and_marks_refunded() -> None:
    """A full refund with restock_items: stock returns, the order becomes refunded."""
    store, _ = _store()
    async with store_client(store) as c:
        o = await _order(
            c, status="completed", set_paid=True, line_items=[{"product_id": 40, "quantity": 2}]
        )
        assert await _stock(c, 40) == 161
        line = o["line_items"][0]
        r = await c.post(
            f"{ORDERS}/{o['id']}/refunds",
            json={
                "amount": o["total"],
                "api_refund": False,
                "restock_items": True,
                "line_items": [
                    {
                        "id": line["id"],
                        "quantity": 2,
                        "refund_total": line["total"],
                        "refund_tax": [{"id": 1, "refund_total": line["total_tax"]}],
                    }
                ],
            },
        )
        assert r.status_code == 201, r.text
        after = (await c.get(f"{ORDERS}/{o['id']}")).json()
        assert await _stock(c, 40) == 163
        too_much = await c.post(f"{ORDERS}/{o['id']}/refunds", json={"amount": "1.00"})
    assert r.json()["line_items"][0]["quantity"] == -2
    assert after["status"] == "refunded"
    assert after["refunds"][0]["total"] == f"-{o['total']}"
    assert too_much.status_code >= 400


async def test_place_online_order_is_a_paid_checkout() -> None:
    """The control method: a processing order via checkout, stock reduced, listed with meta."""
    store, _ = _store()
    order = store.place_online_order([{"product_id": 40, "quantity": 5}])
    assert (order["status"], order["created_via"]) == ("processing", "checkout")
    assert store.stock_of([40, 405, 407, 310, 999999]) == {
        40: 158,
        405: 50,
        407: 50,
        310: None,
        999999: None,
    }
    assert [o["id"] for o in store.list_orders()] == [order["id"]]
    assert store.list_orders()[0]["meta_data"] == []


async def test_partial_refund_keeps_the_status_and_after_is_strict() -> None:
    """A partial refund leaves the order completed (refund type 'partial'); after= is strict."""
    store, clock = _store()
    async with store_client(store) as c:
        first = await _order(c, status="completed", line_items=[{"product_id": 40, "quantity": 2}])
        clock.advance(1)
        second = await _order(c, status="completed", line_items=[{"product_id": 41, "quantity": 1}])
        r = await c.post(
            f"{ORDERS}/{first['id']}/refunds", json={"amount": "1.00", "api_refund": False}
        )
        after = await c.get(
            ORDERS, params={"after": first["date_created_gmt"], "dates_are_gmt": "true"}
        )
        status = (await c.get(f"{ORDERS}/{first['id']}", params={"_fields": "status"})).json()
    assert r.status_code == 201
    assert r.json()["meta_data"][0]["value"] == "partial"
    assert status["status"] == "completed"
    assert [o["id"] for o in after.json()] == [second["id"]]
    assert store.stock_of([40]) == {40: 161}  # no restock asked


@pytest.mark.parametrize("quantity", [1.5, "abc", True])
async def test_a_non_integer_quantity_is_a_400_and_saves_nothing(quantity: Any) -> None:
    """quantity is an integer in the schema: 1.5 (a weighed item sent as is) is refused
    before anything is saved, instead of being sold as 1."""
    store, _ = _store()
    async with store_client(store) as c:
        r = await c.post(
            ORDERS,
            json={
                "status": "completed",
                "line_items": [
                    {"product_id": 41, "quantity": 1},
                    {"product_id": 40, "quantity": quantity},
                ],
            },
        )
        body = r.json()
        assert (r.status_code, body["code"]) == (400, "rest_invalid_param")
        assert body["data"]["params"] == {
            "line_items": "line_items[1][quantity] is not of type integer."
        }
        assert (await c.get(ORDERS)).json() == []
        assert store.stock_of([40, 41]) == {40: 163, 41: 42}
        ok = await _order(c, line_items=[{"product_id": 40, "quantity": "2"}])
        assert ok["line_items"][0]["quantity"] == 2  # a numeric string is an integer


async def test_batch_order_items_skip_the_schema_like_woocommerce() -> None:
    """In a batch, quantity goes through intval (1.9 -> 1, 'abc' -> 0) and an unknown
    status becomes pending (WC_Order::set_status), instead of a 400."""
    store, _ = _store()
    async with store_client(store) as c:
        r = await c.post(
            f"{ORDERS}/batch",
            json={
                "create": [
                    {"status": "bogus", "line_items": [{"product_id": 40, "quantity": 1.9}]},
                    {"status": "completed", "line_items": [{"product_id": 41, "quantity": "abc"}]},
                ]
            },
        )
    assert r.status_code == 200
    first, second = r.json()["create"]
    assert first["status"] == "pending"
    assert first["line_items"][0]["quantity"] == 1
    assert second["line_items"][0]["quantity"] == 0
    assert store.stock_of([40, 41]) == {40: 163, 41: 42}  # pending, and 0 units
