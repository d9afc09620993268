"""The outbox with the companion plugin: idempotent uploads keyed by the sale UUID.

Against the sandbox in --plugin mode (in-process) and a real till database. What it
protects: an upload goes through the plugin's keyed POST and keeps the sale's date; an
answer lost after the store made the order is resent at once (no settle wait, no resend
age) and still makes exactly one order; a UUID reused with another body (422) and an
order deleted in the store (410) are failed and shown, never resent; a plugin that
disappears sends plainly; an order once sent plainly keeps the plain rules.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from pathlib import Path

import httpx2
import pytest

from onetill.pos.cart import Cart
from onetill.pos.sale import record_sale
from onetill.pos.tender import Payment
from onetill.sandbox.config import DEFAULT_KEY, DEFAULT_SECRET
from onetill.store.orders import get_order
from onetill.sync.outbox import drain
from onetill.sync.outbox_payload import order_payload
from onetill.woo import WooClient
from till_support import Rig, ZeroJitter, close_rig, make_rig, order_uuid, sell

pytestmark = pytest.mark.anyio
NS = "wc-onetill/v1"
PLUGIN_POST = "POST /wp-json/wc-onetill/v1/orders"


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    r = make_rig(tmp_path, plugin=True)
    yield r
    await close_rig(r)


def copies(rig: Rig, uuid: str) -> list[int]:
    return [o["id"] for o in rig.store.list_orders() if order_uuid(o) == uuid]


async def plugin_drain(rig: Rig, **kw: object) -> object:
    # A long settle time and resend age: the keyed path must not need either.
    kw = {"settle_s": 60, "min_resend_age_s": 120, "rng": ZeroJitter(), **kw}
    return await drain(rig.client, rig.db, plugin=True, idempotent=True, **kw)  # type: ignore[arg-type]


async def drain_until_idle(rig: Rig) -> list[object]:
    """Drain again whenever something comes due within 2 s (as the engine's scheduler would)."""
    reports = [await plugin_drain(rig)]
    for _ in range(5):
        # In seconds, not as a time: due times are the store's clock, not this one.
        wait = reports[-1].retry_in_s  # type: ignore[attr-defined]
        if wait is None or wait > 2:
            break
        await asyncio.sleep(max(wait, 0) + 0.05)
        reports.append(await plugin_drain(rig))
    return reports


async def test_an_offline_sale_is_uploaded_by_key_and_keeps_its_date(rig: Rig) -> None:
    sold = (datetime.now(UTC) - timedelta(days=2)).replace(microsecond=0)
    cart = Cart(rig.db.conn)
    cart.add("SIMPLE-001", 1)
    sale = record_sale(rig.db, cart, Payment("cash", None), till_id="till-test", now=sold)
    report = await plugin_drain(rig)
    assert report.synced == [sale.uuid]  # type: ignore[attr-defined]
    order = get_order(rig.db.conn, sale.uuid)
    assert order.state == "synced" and order.plugin_sends == order.attempts == 1
    assert copies(rig, sale.uuid) == [order.remote_id]
    assert sale.uuid in rig.store.plugin.order_keys  # made through the keyed route
    made = next(o for o in rig.store.list_orders() if o["id"] == order.remote_id)
    assert made["date_created_gmt"] == sold.strftime("%Y-%m-%dT%H:%M:%S")


@pytest.mark.parametrize("fault", ["commit_drop", "commit_html=504"])
async def test_a_lost_answer_is_resent_at_once_and_makes_one_order(rig: Rig, fault: str) -> None:
    """The store made the order, the answer was lost (a drop, a proxy's 504): the same keyed
    POST goes again within the drain, without a lookup, and the plugin returns that order."""
    sale = sell(rig.db, "SIMPLE-001")
    second = sell(rig.db, "SIMPLE-002")
    rig.faults.add(f"{PLUGIN_POST}:{fault}@nth=1")
    started = time.monotonic()
    reports = await drain_until_idle(rig)
    assert time.monotonic() - started < 10  # not the 60 s settle time, nor 120 s of age
    for uuid in (sale.uuid, second.uuid):
        assert len(copies(rig, uuid)) == 1
        assert get_order(rig.db.conn, uuid).state == "synced"
    assert sum(r.looked_up for r in reports) == 0  # type: ignore[attr-defined]
    replayed = [u for r in reports for u in r.found_by_lookup]  # type: ignore[attr-defined]
    assert replayed == [sale.uuid]
    assert get_order(rig.db.conn, sale.uuid).attempts == 2


async def test_a_uuid_reused_with_other_content_needs_attention(rig: Rig) -> None:
    sale = sell(rig.db, "SIMPLE-001")
    other = {"status": "completed", "line_items": [{"product_id": 30, "quantity": 1}]}
    await rig.client.request(
        "POST", "orders", json=other, namespace=NS, headers={"Idempotency-Key": sale.uuid}
    )
    report = await plugin_drain(rig)
    assert report.failed == [sale.uuid]  # type: ignore[attr-defined]
    order = get_order(rig.db.conn, sale.uuid)
    assert order.state == "failed" and "UUID" in (order.last_error or "")
    assert "onetill_idempotency_key_reused" in (order.last_error or "")
    assert copies(rig, sale.uuid) == []  # the other order carries no sale UUID; none was made


async def test_an_order_deleted_in_the_store_is_not_made_again(rig: Rig) -> None:
    sale = sell(rig.db, "SIMPLE-001")
    made = await rig.client.request(
        "POST", "orders", json=order_payload(get_order(rig.db.conn, sale.uuid)),
        namespace=NS, headers={"Idempotency-Key": sale.uuid},
    )  # fmt: skip
    await rig.client.delete(f"orders/{made.data['id']}", {"force": "true"})
    report = await plugin_drain(rig)
    assert report.failed == [sale.uuid]  # type: ignore[attr-defined]
    order = get_order(rig.db.conn, sale.uuid)
    assert order.state == "failed" and "deleted" in (order.last_error or "")
    assert copies(rig, sale.uuid) == []


async def test_the_plugin_gone_sends_plainly_once(rig: Rig) -> None:
    sale = sell(rig.db, "SIMPLE-001")
    rig.store.config.plugin = False  # deactivated since the till last looked
    report = await plugin_drain(rig)
    assert report.synced == [sale.uuid]  # type: ignore[attr-defined]
    order = get_order(rig.db.conn, sale.uuid)
    assert len(copies(rig, sale.uuid)) == 1
    assert order.plugin_sends < order.attempts  # a plain send: later resends follow plain rules


async def test_an_order_sent_plainly_keeps_the_plain_rules(rig: Rig) -> None:
    """Sent through wc/v3 and lost: that request may still make an order late, so even with
    the plugin the order is looked up and waits for the resend age; no keyed resend."""
    sale = sell(rig.db, "SIMPLE-001")
    rig.faults.add("POST /orders*:reset@nth=1")
    await drain(rig.client, rig.db, settle_s=0, min_resend_age_s=120, rng=ZeroJitter())
    assert get_order(rig.db.conn, sale.uuid).state == "in_flight"
    waiting = get_order(rig.db.conn, sale.uuid)
    # Looked up already (settle 0), not found, too young to resend: the wait stands.
    report = await plugin_drain(rig, settle_s=0)
    order = get_order(rig.db.conn, sale.uuid)
    assert report.requests == 0 and order.state == "in_flight"  # type: ignore[attr-defined]
    assert order.next_attempt_at == waiting.next_attempt_at
    assert order.plugin_sends == 0 and copies(rig, sale.uuid) == []


async def test_a_plugin_route_that_keeps_failing_falls_back_to_plain_rules(rig: Rig) -> None:
    """Every keyed POST answers a PHP error page: after MAX_KEYED_ATTEMPTS keyed sends the
    order takes the plain path (looked up first, resent once old enough) and is made once."""
    from onetill.sync.outbox_plugin import MAX_KEYED_ATTEMPTS

    sale = sell(rig.db, "SIMPLE-001")
    rig.faults.add(f"{PLUGIN_POST}:html=500")
    looked_up = 0
    for _ in range(40):  # each drain, then the store's clock moved on to when it said
        report = await drain(
            rig.client, rig.db, plugin=True, idempotent=True, settle_s=0, min_resend_age_s=5,
            rng=ZeroJitter(), max_rounds=50,
        )  # fmt: skip
        looked_up += report.looked_up
        if get_order(rig.db.conn, sale.uuid).state == "synced":
            break
        rig.advance(max(report.retry_in_s or 0.0, 0.0) + 1.0)
    order = get_order(rig.db.conn, sale.uuid)
    assert order.state == "synced", order.last_error
    assert order.plugin_sends == MAX_KEYED_ATTEMPTS and order.attempts == MAX_KEYED_ATTEMPTS + 1
    assert looked_up >= 1 and len(copies(rig, sale.uuid)) == 1


class _InProgressOnce(httpx2.AsyncBaseTransport):
    """The plugin's answer to the first keyed POST: another request with this key is still
    creating the order (409 ``onetill_idempotency_in_progress``, ``Retry-After: 1``)."""

    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self.inner = inner
        self.answered = 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.method == "POST" and request.url.path.endswith(f"/{NS}/orders") and (
            self.answered == 0
        ):
            self.answered += 1
            body = {
                "code": "onetill_idempotency_in_progress",
                "message": "An order for this key is still being created.",
                "data": {"status": 409, "retry_after": 1},
            }
            headers = {"retry-after": "1", "date": formatdate(usegmt=True)}
            return httpx2.Response(409, json=body, headers=headers)
        return await self.inner.handle_async_request(request)


async def test_a_key_still_in_progress_is_sent_again_after_retry_after(rig: Rig) -> None:
    """409 in progress: nothing failed, nothing looked up; the same keyed POST goes again once
    Retry-After has passed and makes the one order."""
    network = _InProgressOnce(httpx2.ASGITransport(app=rig.app))
    client = WooClient(rig.client.url, DEFAULT_KEY, DEFAULT_SECRET, transport=network)
    sale = sell(rig.db, "SIMPLE-001")
    first = await drain(client, rig.db, plugin=True, idempotent=True, settle_s=60,
                        min_resend_age_s=120, rng=ZeroJitter())  # fmt: skip
    order = get_order(rig.db.conn, sale.uuid)
    assert network.answered == 1 and order.state == "in_flight" and copies(rig, sale.uuid) == []
    assert first.retry_in_s is not None and 0.5 <= first.retry_in_s <= 2.0
    await asyncio.sleep(first.retry_in_s + 0.2)
    second = await drain(client, rig.db, plugin=True, idempotent=True, settle_s=60,
                         min_resend_age_s=120, rng=ZeroJitter())  # fmt: skip
    order = get_order(rig.db.conn, sale.uuid)
    assert order.state == "synced" and second.looked_up == 0 and first.looked_up == 0
    assert copies(rig, sale.uuid) == [order.remote_id] and order.plugin_sends == 2
    await client.aclose()
