"""Idempotent orders, stock adjustments, webhooks of the companion plugin in real WooCommerce."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import companion_support as cs
from realstore_support import RealStore

pytestmark = [pytest.mark.real, pytest.mark.anyio]


def sale(
    product_id: int, quantity: int, sale_uuid: str, sold_at: str | None = None
) -> dict[str, Any]:
    """The body the till's outbox sends (see sync/outbox_payload.py)."""
    meta = [{"key": "_onetill_order_uuid", "value": sale_uuid}]
    if sold_at is not None:
        meta.append({"key": "_onetill_sold_at", "value": sold_at})
    return {
        "status": "completed",
        "set_paid": True,
        "payment_method": "onetill_cash",
        "payment_method_title": "Cash",
        "created_via": "onetill",
        "line_items": [
            {"product_id": product_id, "quantity": quantity, "subtotal": "4.20", "total": "4.20"}
        ],
        "meta_data": meta,
    }


def parse_gmt(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


async def stock(c: Any, product_id: int) -> int:
    return int(
        (await c.get(f"products/{product_id}", {"_fields": "stock_quantity"})).data[
            "stock_quantity"
        ]
    )


async def test_the_same_key_twenty_times_at_once_makes_one_order_and_one_stock_reduction(
    companion: RealStore,
) -> None:
    """20 concurrent POSTs with one Idempotency-Key: one 201, the others 200 (the same order) or
    409 (still being created); one order in the store, stock reduced once."""
    key = str(uuid.uuid4())
    body = sale(80, 2, key)
    async with cs.client(companion, max_concurrency=20) as c:
        before = await stock(c, 80)
        answers = await asyncio.gather(
            *(
                cs.call(c, "POST", "orders", json=body, headers={"Idempotency-Key": key})
                for _ in range(20)
            )
        )
        statuses = sorted(a[0] for a in answers)
        ids = {a[1]["id"] for a in answers if a[0] in (200, 201)}
        again = await cs.call(c, "POST", "orders", json=body, headers={"Idempotency-Key": key})
        found = await cs.call(c, "GET", "orders/by-uuid", {"uuids": key})
        by_key = await cs.call(c, "GET", f"orders/by-key/{key}")
        after = await stock(c, 80)
    assert statuses.count(201) == 1, statuses
    assert set(statuses) <= {200, 201, 409}
    assert all(a[1]["code"] == "onetill_idempotency_in_progress" for a in answers if a[0] == 409)
    assert all(a[2].get("idempotent-replayed") == "true" for a in answers if a[0] == 200)
    (order_id,) = ids
    assert again[0] == 200 and again[1]["id"] == order_id
    assert [(o["id"], o["uuid"]) for o in found[1]] == [(order_id, key)]
    assert by_key[0] == 200 and by_key[1]["id"] == order_id
    assert after == before - 2


async def test_the_same_key_with_another_body_is_refused(companion: RealStore) -> None:
    """A key already used for another order is a 422 naming that order; nothing new is made."""
    key = str(uuid.uuid4())
    async with cs.client(companion) as c:
        first = await cs.call(
            c, "POST", "orders", json=sale(81, 1, key), headers={"Idempotency-Key": key}
        )
        level = await stock(c, 81)
        other = await cs.call(
            c, "POST", "orders", json=sale(81, 5, key), headers={"Idempotency-Key": key}
        )
        found = await cs.call(c, "GET", "orders/by-uuid", {"uuids": key})
        assert await stock(c, 81) == level
    assert first[0] == 201
    assert (other[0], other[1]["code"]) == (422, "onetill_idempotency_key_reused")
    assert other[1]["data"]["order_id"] == first[1]["id"]
    assert len(found[1]) == 1


async def test_keys_compare_case_insensitively_and_may_come_as_a_parameter(
    companion: RealStore,
) -> None:
    """An upper-case copy of a UUID is the same key; idempotency_key= works where a proxy drops
    the header."""
    key = str(uuid.uuid4())
    body = sale(82, 1, key)
    async with cs.client(companion) as c:
        first = await cs.call(c, "POST", "orders", {"idempotency_key": key.upper()}, json=body)
        second = await cs.call(c, "POST", "orders", json=body, headers={"Idempotency-Key": key})
    assert (first[0], second[0]) == (201, 200)
    assert first[1]["id"] == second[1]["id"]


async def test_the_sale_date_is_kept_and_bounded(companion: RealStore) -> None:
    """date_created (and paid, completed) is the sale time; never in the future; at most
    30 days back. The sale time stays in meta_data as sent."""
    now = datetime.now(UTC).replace(microsecond=0)
    cases = {
        "three days ago": (now - timedelta(days=3, minutes=7), now - timedelta(days=3, minutes=7)),
        "tomorrow": (now + timedelta(days=1), now),
        "45 days ago": (now - timedelta(days=45), now - timedelta(days=30)),
    }
    async with cs.client(companion) as c:
        for label, (sold, expected) in cases.items():
            key = str(uuid.uuid4())
            sent = sold.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            status, order, _ = await cs.call(
                c, "POST", "orders", json=sale(83, 1, key, sent), headers={"Idempotency-Key": key}
            )
            assert status == 201, (label, order)
            for field in ("date_created_gmt", "date_paid_gmt", "date_completed_gmt"):
                got = parse_gmt(order[field])
                assert abs((got - expected).total_seconds()) <= 5, (label, field, got)
            meta = {m["key"]: m["value"] for m in order["meta_data"]}
            assert meta["_onetill_sold_at"] == sent
            assert meta["_onetill_idempotency_key"] == key


async def test_by_key_and_by_uuid_lookups(companion: RealStore) -> None:
    """by-key finds the order made for a key, 404 for an unknown key; by-uuid lists every copy of
    a sale, even ones created through plain wc/v3 before the plugin was there."""
    key = str(uuid.uuid4())
    twice = str(uuid.uuid4())
    async with cs.client(companion) as c:
        made = await cs.call(
            c, "POST", "orders", json=sale(84, 1, key), headers={"Idempotency-Key": key}
        )
        copies = [(await c.post("orders", json=sale(84, 1, twice))).data["id"] for _ in range(2)]
        await c.delete(f"orders/{copies[1]}")  # trashed: still there
        known = await cs.call(c, "GET", f"orders/by-key/{key}")
        unknown = await cs.call(c, "GET", f"orders/by-key/{uuid.uuid4()}")
        listed = await cs.call(c, "GET", "orders/by-uuid", {"uuids": f"{key},{twice},nope"})
    assert known[0] == 200 and known[1]["id"] == made[1]["id"]
    assert known[1]["line_items"][0]["product_id"] == 84
    assert (unknown[0], unknown[1]["code"]) == (404, "onetill_order_not_found")
    by_uuid = sorted((o["uuid"], o["id"], o["status"]) for o in listed[1])
    assert by_uuid == sorted(
        [
            (key, made[1]["id"], "completed"),
            (twice, copies[0], "completed"),
            (twice, copies[1], "trash"),
        ]
    )
    assert all(set(o) == {"uuid", "id", "number", "status", "date_created_gmt"} for o in listed[1])


async def test_an_order_woocommerce_refuses_gives_the_key_back(companion: RealStore) -> None:
    """WooCommerce's own validation error comes back as is, and nothing is reserved: the same key
    with a corrected body then creates the order."""
    key = str(uuid.uuid4())
    bad = {**sale(85, 1, key), "status": "sold"}
    async with cs.client(companion) as c:
        refused = await cs.call(c, "POST", "orders", json=bad, headers={"Idempotency-Key": key})
        lookup = await cs.call(c, "GET", f"orders/by-key/{key}")
        made = await cs.call(
            c, "POST", "orders", json=sale(85, 1, key), headers={"Idempotency-Key": key}
        )
    assert (refused[0], refused[1]["code"]) == (400, "rest_invalid_param")
    assert lookup[0] == 404
    assert made[0] == 201


async def test_stock_adjustments_are_relative_atomic_and_idempotent(companion: RealStore) -> None:
    """+3 on a product and -1 on a parent-managed variation (its parent's stock moves); sent
    again: replayed, no change; one bad item: nothing applied; a key reused: 422."""
    adj = [
        {"id": 86, "delta": 3, "key": "return-86-0001"},
        {"id": 407, "delta": -1, "key": "recount-407-01"},
    ]
    async with cs.client(companion) as c:
        s86, s405 = await stock(c, 86), await stock(c, 405)
        first = await cs.call(c, "POST", "stock/adjust", json={"adjustments": adj})
        again = await cs.call(c, "POST", "stock/adjust", json={"adjustments": adj})
        after = (await stock(c, 86), await stock(c, 405))
        mixed = await cs.call(
            c,
            "POST",
            "stock/adjust",
            json={
                "adjustments": [
                    {"id": 86, "delta": 1, "key": "return-86-0002"},
                    {"id": 999999, "delta": 1, "key": "return-x-0001"},
                    {"id": 405, "delta": 0, "key": "return-405-01"},
                ]
            },
        )
        reused = await cs.call(
            c,
            "POST",
            "stock/adjust",
            json={
                "adjustments": [
                    {"id": 86, "delta": 4, "key": "return-86-0001"},
                ]
            },
        )
        final = (await stock(c, 86), await stock(c, 405))
    assert first[0] == 200
    assert [
        (a["id"], a["stock_item_id"], a["stock_quantity"], a["replayed"])
        for a in first[1]["adjustments"]
    ] == [(86, 86, s86 + 3, False), (407, 405, s405 - 1, False)]
    assert [a["replayed"] for a in again[1]["adjustments"]] == [True, True]
    assert again[1]["adjustments"][0]["stock_quantity"] == s86 + 3
    assert after == final == (s86 + 3, s405 - 1)
    assert (mixed[0], mixed[1]["code"]) == (400, "onetill_stock_adjust_refused")
    assert [(e["index"], e["code"]) for e in mixed[1]["data"]["errors"]] == [
        (1, "onetill_stock_unknown_product"),
        (2, "onetill_stock_zero_delta"),
    ]
    assert (reused[0], reused[1]["code"]) == (422, "onetill_idempotency_key_reused")


async def test_one_adjustment_sent_ten_times_at_once_applies_once(companion: RealStore) -> None:
    body = {"adjustments": [{"id": 87, "delta": 2, "key": "delivery-87-0001"}]}
    async with cs.client(companion, max_concurrency=10) as c:
        before = await stock(c, 87)
        answers = await asyncio.gather(
            *(cs.call(c, "POST", "stock/adjust", json=body) for _ in range(10))
        )
        after = await stock(c, 87)
    assert [a[0] for a in answers] == [200] * 10
    assert sorted(a[1]["adjustments"][0]["replayed"] for a in answers) == [False] + [True] * 9
    assert after == before + 2


async def test_webhooks_ensure_creates_reenables_and_never_duplicates(companion: RealStore) -> None:
    """First call: six webhooks. A disabled one is re-enabled, a duplicate deleted, the secret set;
    five calls at once still leave exactly one active webhook per topic."""
    url = companion.env["WEBHOOK_SINK_URL"] + "ensure-test"
    ask = {"delivery_url": url, "secret": "first-secret-1"}
    async with cs.client(companion, max_concurrency=5) as c:
        first = await cs.call(c, "POST", "webhooks/ensure", json=ask)
        by_topic = {h["topic"]: h["id"] for h in first[1]["webhooks"]}
        await c.put(f"webhooks/{by_topic['order.created']}", json={"status": "disabled"})
        dup = (
            await c.post(
                "webhooks",
                json={
                    "name": "copy",
                    "topic": "product.updated",
                    "delivery_url": url,
                    "secret": "x-secret-1",
                },
            )
        ).data
        second = await cs.call(
            c, "POST", "webhooks/ensure", json={**ask, "secret": "second-secret"}
        )
        burst = await asyncio.gather(
            *(cs.call(c, "POST", "webhooks/ensure", json=ask) for _ in range(5))
        )
        ours = [
            h for h in (await c.get("webhooks", {"per_page": 100})).data if h["delivery_url"] == url
        ]
    assert first[0] == 200
    assert sorted(by_topic) == sorted(
        [
            "product.created",
            "product.updated",
            "product.deleted",
            "product.restored",
            "order.created",
            "order.updated",
        ]
    )
    assert {h["action"] for h in first[1]["webhooks"]} == {"created"}
    actions = {h["topic"]: (h["action"], h["deleted_duplicates"]) for h in second[1]["webhooks"]}
    assert actions["order.created"] == ("reactivated", 0)
    assert actions["product.updated"] == ("updated", 1)
    assert all(b[0] == 200 for b in burst)
    assert sorted((h["topic"], h["id"], h["status"]) for h in ours) == sorted(
        (t, i, "active") for t, i in by_topic.items()
    )
    assert dup["id"] not in {h["id"] for h in ours}
