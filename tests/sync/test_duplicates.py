"""Duplicates that happen anyway are found and shown: a held upload committed after a resend
leaves the store with two orders for one sale. The order.created webhook and the periodic
scan of the till's recent orders flag the sale with both numbers and a discrepancy; the
status counts it; nothing is cancelled; a copy the merchant cancels stops counting."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from onetill.engine.apply import CatalogWebhookHandler
from onetill.status import collect_status
from onetill.store.discrepancies import list_discrepancies
from onetill.store.orders import get_order
from onetill.store.outbox import mark_failed, void_order
from onetill.sync.duplicates import scan_for_copies
from onetill.sync.outbox import drain
from onetill.sync.outbox_payload import order_payload
from till_support import Rig, close_rig, make_rig, sell

pytestmark = pytest.mark.anyio


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    r = make_rig(tmp_path, home_url="https://sandbox.test")
    yield r
    await close_rig(r)


async def _synced_then_committed_again(rig: Rig) -> tuple[str, dict[str, Any]]:
    """A sale uploaded once, then its held first upload committed late: a second order."""
    sale = sell(rig.db, "SIMPLE-001")
    report = await drain(rig.client, rig.db, settle_s=0, refresh=False)
    assert report.synced == [sale.uuid]
    payload = order_payload(get_order(rig.db.conn, sale.uuid))
    late = (await rig.client.post("orders", json=payload)).data
    return sale.uuid, late


def _statuses(rig: Rig, uuid: str) -> list[str]:
    return [o["status"] for o in rig.store_orders_for(uuid)]


async def test_the_scan_flags_a_sale_the_store_holds_twice_and_cancels_nothing(rig: Rig) -> None:
    uuid, late = await _synced_then_committed_again(rig)
    rig.store.place_online_order([{"product_id": 20, "quantity": 1}])  # not the till's
    before = _statuses(rig, uuid)
    assert await scan_for_copies(rig.client, rig.db) == [uuid]
    row = get_order(rig.db.conn, uuid)
    first = row.remote_id
    assert row.state == "synced_with_discrepancy" and row.copies == sorted([first, late["id"]])
    assert row.discrepancy is not None
    assert f"#{late['number']}" in row.discrepancy and f"#{row.remote_number}" in row.discrepancy
    (logged,) = [d for d in list_discrepancies(rig.db.conn, object_id=uuid)
                 if d.field == "duplicate"]  # fmt: skip
    assert logged.store_value == f"#{row.remote_number}, #{late['number']}"
    assert _statuses(rig, uuid) == before  # the merchant decides which copy goes
    assert collect_status(rig.db).duplicates == 1
    assert await scan_for_copies(rig.client, rig.db) == []  # known: not logged again
    assert len([d for d in list_discrepancies(rig.db.conn) if d.field == "duplicate"]) == 1


async def test_a_copy_the_merchant_cancels_stops_counting(rig: Rig) -> None:
    uuid, late = await _synced_then_committed_again(rig)
    await scan_for_copies(rig.client, rig.db)
    await rig.client.put(f"orders/{late['id']}", json={"status": "cancelled"})
    await scan_for_copies(rig.client, rig.db)
    assert get_order(rig.db.conn, uuid).copies == []
    assert collect_status(rig.db).duplicates == 0


async def test_the_order_created_webhook_of_a_second_copy_flags_the_sale(rig: Rig) -> None:
    uuid, late = await _synced_then_committed_again(rig)
    handler = CatalogWebhookHandler(rig.client, rig.db, till_id="till-test")
    (delivered,) = [o for o in rig.store_orders_for(uuid) if o["id"] == late["id"]]
    assert await handler.order_changed("order.created", delivered) == "flagged"
    row = get_order(rig.db.conn, uuid)
    assert row.state == "synced_with_discrepancy" and late["id"] in row.copies
    # The delivery of the first copy (the one the till recorded) is nothing new.
    (first,) = [o for o in rig.store_orders_for(uuid) if o["id"] == row.remote_id]
    assert await handler.order_changed("order.created", first) == "ignored"


async def test_a_voided_sale_found_in_the_store_is_flagged(rig: Rig) -> None:
    """Voided on the till (its stock put back), yet a held upload of it landed: flagged."""
    sale = sell(rig.db, "SIMPLE-001")
    payload = order_payload(get_order(rig.db.conn, sale.uuid))
    with rig.db.write() as conn:
        mark_failed(conn, sale.uuid, "HTTP 400 refused")
        void_order(conn, sale.uuid, "entered twice")
    created = (await rig.client.post("orders", json=payload)).data
    assert await scan_for_copies(rig.client, rig.db) == [sale.uuid]
    row = get_order(rig.db.conn, sale.uuid)
    assert row.state == "voided" and row.copies == [created["id"]]
    assert collect_status(rig.db).duplicates == 1
