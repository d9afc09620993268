"""Refunds: money back through Stripe once, then a WooCommerce refund once, with restock."""

from __future__ import annotations

import uuid as _uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from onetill.pay.refunds import stripe_refund
from onetill.pos.refund import RefundError, plan_refund
from onetill.store.orders import get_order
from onetill.store.refunds import RefundRecord, get_refund, insert_refund
from onetill.stripe_sandbox.server import RunningStripeSandbox
from onetill.sync.outbox import drain
from stripe_support import card_payments, priced, stripe_account
from till_support import Rig, ZeroJitter, close_rig, make_rig, sell

pytestmark = pytest.mark.anyio


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    r = make_rig(tmp_path)
    yield r
    await close_rig(r)


@pytest.fixture
def account() -> Iterator[RunningStripeSandbox]:
    with stripe_account() as sandbox:
        yield sandbox


async def _paid_card_sale(rig: Rig, account: RunningStripeSandbox, qty: int = 2) -> Any:
    payments = card_payments(rig.db, account)
    sale = priced(rig.db, "SIMPLE-031", qty=qty)
    attempt, _ = payments.begin(sale.order, sale.lines)
    assert payments.pay(attempt.id, test_card="success").paid
    await drain(rig.client, rig.db, settle_s=0)
    return get_order(rig.db.conn, sale.order.uuid), payments


def _refund(rig: Rig, order: Any, *, stripe: bool, **plan_kw: Any) -> RefundRecord:
    plan = plan_refund(rig.db.conn, order, **plan_kw)
    refund_id = str(_uuid.uuid4())
    with rig.db.write() as conn:
        return insert_refund(
            conn, uuid=refund_id, order_uuid=order.uuid,
            state="stripe_pending" if stripe else "pending_sync", amount=plan.amount,
            reason="customer returned it", lines=plan.lines,
            stripe_key=f"onetill-refund-{refund_id}" if stripe else None,
            now=datetime.now(UTC),
        )  # fmt: skip


def _store_refunds(rig: Rig, remote_id: int) -> list[dict[str, Any]]:
    order = rig.store.orders[remote_id]
    return [rig.store.refunds[r].data for r in order.meta.get("refunds", [])]


async def test_full_card_refund_goes_to_stripe_then_to_the_store_with_restock(
    rig: Rig, account: RunningStripeSandbox
) -> None:
    """Whole refund: one Stripe refund of the total, one store refund (api_refund false)
    carrying its UUID, stock back in the store, the order refunded."""
    order, payments = await _paid_card_sale(rig, account)
    stock_before = rig.store.stock_of([40])[40]
    record = _refund(rig, order, stripe=True)
    record = stripe_refund(payments.gateway, rig.db, record, order.transaction_id, "eur")
    report = await drain(rig.client, rig.db, settle_s=0)
    done = get_refund(rig.db.conn, record.uuid)
    stripe_refunds = account.control.list("refunds")
    assert [(r["amount"], r["payment_intent"]) for r in stripe_refunds] == [
        (5576, order.transaction_id)]  # fmt: skip
    assert stripe_refunds[0]["metadata"]["onetill_refund_uuid"] == record.uuid
    assert done.state == "synced" and report.refunds_synced == [record.uuid]
    store_refunds = _store_refunds(rig, int(order.remote_id))
    assert len(store_refunds) == 1 and store_refunds[0]["amount"] == "55.76"
    meta = {m["key"]: m["value"] for m in store_refunds[0]["meta_data"]}
    assert meta["_onetill_refund_uuid"] == record.uuid
    assert meta["_stripe_refund_id"] == stripe_refunds[0]["id"]
    assert rig.store.stock_of([40])[40] == stock_before + 2
    assert rig.store.orders[int(order.remote_id)].data["status"] == "refunded"


async def test_a_refund_whose_answer_was_lost_is_found_not_sent_twice(
    rig: Rig, account: RunningStripeSandbox
) -> None:
    """Stripe's answer reset after commit, then the store's: one refund at each."""
    order, payments = await _paid_card_sale(rig, account)
    account.control.add_faults("POST /v1/refunds:commit_reset@nth=1")
    rig.faults.add("POST /orders/*/refunds:commit_drop@nth=1")
    record = _refund(rig, order, stripe=True)
    record = stripe_refund(payments.gateway, rig.db, record, order.transaction_id, "eur")
    first = await drain(rig.client, rig.db, settle_s=0, min_resend_age_s=0, rng=ZeroJitter())
    second = await drain(rig.client, rig.db, settle_s=0, min_resend_age_s=0, rng=ZeroJitter())
    assert len(account.control.list("refunds")) == 1
    assert len(_store_refunds(rig, int(order.remote_id))) == 1
    assert get_refund(rig.db.conn, record.uuid).state == "synced"
    assert first.refunds_synced + second.refunds_synced == [record.uuid]


async def test_store_unreachable_keeps_the_refund_for_the_outbox(
    rig: Rig, account: RunningStripeSandbox
) -> None:
    """The store answers 503 (fate unknown): the refund waits in flight (its Stripe part
    done), is looked up, then sent once."""
    order, payments = await _paid_card_sale(rig, account)
    rig.faults.add("POST /orders/*/refunds:status=503@nth=1")
    record = _refund(rig, order, stripe=True)
    record = stripe_refund(payments.gateway, rig.db, record, order.transaction_id, "eur")
    await drain(rig.client, rig.db, settle_s=0, min_resend_age_s=0, rng=ZeroJitter())
    waiting = get_refund(rig.db.conn, record.uuid)
    await drain(rig.client, rig.db, settle_s=0, min_resend_age_s=0, rng=ZeroJitter())
    assert waiting.state == "in_flight" and "503" in str(waiting.last_error)
    assert get_refund(rig.db.conn, record.uuid).state == "synced"
    assert len(_store_refunds(rig, int(order.remote_id))) == 1


async def test_returning_one_item_refunds_its_share_and_restocks_one(
    rig: Rig, account: RunningStripeSandbox
) -> None:
    """--item SKU:1 of two: half the gross line, one unit back in stock, order stays."""
    order, payments = await _paid_card_sale(rig, account)
    stock_before = rig.store.stock_of([40])[40]
    record = _refund(rig, order, stripe=True, items=[("SIMPLE-031", 1)])
    assert Decimal(record.amount) == Decimal("27.88")
    stripe_refund(payments.gateway, rig.db, record, order.transaction_id, "eur")
    await drain(rig.client, rig.db, settle_s=0)
    [refund] = _store_refunds(rig, int(order.remote_id))
    assert refund["line_items"][0]["quantity"] == -1
    assert rig.store.stock_of([40])[40] == stock_before + 1
    assert rig.store.orders[int(order.remote_id)].data["status"] == "completed"
    with pytest.raises(RefundError, match="more than what is left"):
        plan_refund(rig.db.conn, get_order(rig.db.conn, order.uuid), amount=Decimal("30"))


async def test_cash_sale_refund_skips_stripe(rig: Rig) -> None:
    """A cash sale's refund is only the store's record (hand the cash back)."""
    sale = sell(rig.db, "SIMPLE-032")
    await drain(rig.client, rig.db, settle_s=0)
    order = get_order(rig.db.conn, sale.uuid)
    record = _refund(rig, order, stripe=False, amount=Decimal("5.00"))
    await drain(rig.client, rig.db, settle_s=0)
    [refund] = _store_refunds(rig, int(order.remote_id))
    assert refund["amount"] == "5.00" and not refund["line_items"]
    assert get_refund(rig.db.conn, record.uuid).state == "synced"


async def test_a_refund_waits_for_its_sale_to_reach_the_store(rig: Rig) -> None:
    """Refund recorded before the sale was uploaded: sent only after the order exists."""
    sale = sell(rig.db, "SIMPLE-032")
    order = get_order(rig.db.conn, sale.uuid)
    record = _refund(rig, order, stripe=False)
    rig.faults.add("POST /orders*:status=503,retry_after=5@nth=1")
    await drain(rig.client, rig.db, settle_s=0, rng=ZeroJitter())  # the order must wait
    assert get_order(rig.db.conn, sale.uuid).state == "pending_sync"
    assert get_refund(rig.db.conn, record.uuid).state == "pending_sync"
    rig.advance(60)  # on the store's clock, which the outbox keeps time by
    await drain(rig.client, rig.db, settle_s=0, rng=ZeroJitter())
    order = get_order(rig.db.conn, sale.uuid)
    assert get_refund(rig.db.conn, record.uuid).state == "synced"
    assert len(_store_refunds(rig, int(order.remote_id))) == 1
