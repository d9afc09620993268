"""The outbox against the sandbox store: every sale in WooCommerce exactly once, in order."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from onetill.store.orders import get_order, list_orders, parse_ts, unsent_quantities
from onetill.store.outbox import mark_in_flight
from onetill.sync.outbox import PAUSE_KEY, backoff_delay, drain, paused_reason
from onetill.sync.outbox_payload import order_payload
from till_support import Rig, ZeroJitter, close_rig, make_rig, order_uuid, sell, stock_of

pytestmark = pytest.mark.anyio


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    r = make_rig(tmp_path)
    yield r
    await close_rig(r)


def _remote(rig: Rig) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for order in rig.store.list_orders():
        out.setdefault(order_uuid(order), []).append(order["id"])
    return out


async def test_sales_upload_in_fifo_order_with_the_full_payload(rig: Rig) -> None:
    """Three sales, one batch: synced, remote ids in sale order, payload fields as specified."""
    sales = [sell(rig.db, "SIMPLE-001", qty=2), sell(rig.db, "VAR-01-L"), sell(rig.db, "VAR-20-L")]
    report = await drain(rig.client, rig.db, settle_s=0)
    assert report.requests == 1  # one /orders/batch
    assert set(report.synced) == {s.uuid for s in sales}
    records = [get_order(rig.db.conn, s.uuid) for s in sales]
    assert [r.state for r in records] == ["synced"] * 3
    ids = [r.remote_id for r in records]
    assert ids == sorted(ids)
    remote = {o["id"]: o for o in rig.store.list_orders()}
    first = remote[records[0].remote_id]
    assert (first["status"], first["created_via"], first["payment_method"]) == (
        "completed", "onetill", "onetill_cash",
    )  # fmt: skip
    meta = {m["key"]: m["value"] for m in first["meta_data"]}
    assert meta["_onetill_order_uuid"] == sales[0].uuid
    assert meta["_onetill_till_id"] == "till-test"
    assert meta["_onetill_sold_at"] == records[0].created_at
    assert Decimal(first["total"]) == sales[0].total
    variation = remote[records[2].remote_id]["line_items"][0]
    assert (variation["product_id"], variation["variation_id"]) == (405, 408)


async def test_store_stock_is_reduced_once_and_read_back(rig: Rig) -> None:
    """WooCommerce reduces stock inside the request; the till takes the store's numbers after."""
    before = rig.store.stock_of([10, 405])
    sell(rig.db, "SIMPLE-001", qty=2)
    sell(rig.db, "VAR-20-L", qty=3)
    await drain(rig.client, rig.db, settle_s=0)
    after = rig.store.stock_of([10, 405])
    assert after == {10: before[10] - 2, 405: before[405] - 3}
    assert stock_of(rig.db, 10) == after[10]
    assert stock_of(rig.db, 405) == after[405]
    assert unsent_quantities(rig.db.conn, [10, 405]) == {}


async def test_online_sale_meanwhile_is_taken_from_the_store_and_logged(rig: Rig) -> None:
    """Store sold 1 online meanwhile: local stock becomes the store's; the difference is logged."""
    sell(rig.db, "SIMPLE-002")
    rig.store.place_online_order([{"product_id": 11, "quantity": 1}])
    await drain(rig.client, rig.db, settle_s=0)
    assert stock_of(rig.db, 11) == rig.store.stock_of([11])[11]
    logged = rig.db.conn.execute(
        "SELECT local_value, store_value FROM discrepancies WHERE object_id = '11'"
    ).fetchall()
    assert logged, "the stock difference must be in the discrepancy log"


async def test_commit_then_drop_is_looked_up_not_resent(rig: Rig) -> None:
    """The store created the order but the answer was lost: found by UUID, never sent twice."""
    sale = sell(rig.db, "SIMPLE-001")
    rig.faults.add("POST /orders*:commit_drop@nth=1")
    report = await drain(rig.client, rig.db, settle_s=0)
    assert report.found_by_lookup == [sale.uuid]
    assert _remote(rig)[sale.uuid] == [get_order(rig.db.conn, sale.uuid).remote_id]
    assert get_order(rig.db.conn, sale.uuid).state == "synced"


async def test_batch_commit_then_drop_finds_every_order(rig: Rig) -> None:
    """A batch whose answer was lost: every order in it is looked up and found once."""
    sales = [sell(rig.db, f"SIMPLE-00{i}") for i in range(1, 6)]
    rig.faults.add("POST /orders/batch:commit_drop@nth=1")
    report = await drain(rig.client, rig.db, settle_s=0)
    assert sorted(report.found_by_lookup) == sorted(s.uuid for s in sales)
    assert all(len(_remote(rig)[s.uuid]) == 1 for s in sales)


async def test_reset_before_processing_is_looked_up_then_resent_once(rig: Rig) -> None:
    """Connection reset before the store saw it: the lookup finds nothing, one resend."""
    sale = sell(rig.db, "SIMPLE-001")
    rig.faults.add("POST /orders*:reset@nth=1")
    # No minimum age: the resend itself is what this test is about.
    report = await drain(rig.client, rig.db, settle_s=0, min_resend_age_s=0, rng=ZeroJitter())
    assert report.looked_up == 1 and report.found_by_lookup == []
    assert len(_remote(rig)[sale.uuid]) == 1
    assert get_order(rig.db.conn, sale.uuid).attempts == 2


async def test_unknown_outcome_waits_for_the_settle_time_before_lookup(rig: Rig) -> None:
    """With a settle time, an order whose fate is unknown stays in flight until then."""
    sale = sell(rig.db, "SIMPLE-001")
    sell(rig.db, "SIMPLE-002")
    rig.faults.add("POST /orders*:commit_drop@nth=1")
    report = await drain(rig.client, rig.db, batch_size=1, settle_s=60)
    rec = get_order(rig.db.conn, sale.uuid)
    assert rec.state == "in_flight" and report.looked_up == 0
    assert report.next_attempt_at is not None
    assert report.next_attempt_at >= datetime.now(UTC) + timedelta(seconds=50)
    assert len(rig.store.list_orders()) == 1  # FIFO: nothing behind it was sent


async def test_transient_503_backs_off_with_retry_after_and_keeps_fifo(rig: Rig) -> None:
    """503 + Retry-After 120: the head waits >= 120 s, the queue behind it waits too."""
    first = sell(rig.db, "SIMPLE-001")
    second = sell(rig.db, "SIMPLE-002")
    rig.faults.add("POST /orders*:status=503,retry_after=120@nth=1")
    report = await drain(rig.client, rig.db, settle_s=0)
    rec = get_order(rig.db.conn, first.uuid)
    assert rec.state == "pending_sync" and rec.last_error and "503" in rec.last_error
    assert parse_ts(rec.next_attempt_at) >= datetime.now(UTC) + timedelta(seconds=110)
    assert rig.store.list_orders() == []
    again = await drain(rig.client, rig.db, settle_s=0)
    assert again.requests == 0  # not due yet: nothing jumps the queue
    rig.advance(200)
    final = await drain(rig.client, rig.db, settle_s=0)
    assert report.retry_later == [first.uuid, second.uuid]
    assert final.synced == [first.uuid, second.uuid]


def test_backoff_is_full_jitter_doubling_to_five_minutes() -> None:
    """Delays stay within [0, 1 s * 2^(n-1)] capped at 300 s, and never below Retry-After."""
    import random

    rng = random.Random(7)
    for attempt in range(1, 20):
        ceiling = min(300.0, 2.0 ** (attempt - 1))
        assert 0 <= backoff_delay(attempt, rng) <= ceiling
    assert backoff_delay(1, rng, retry_after=42) >= 42


async def test_permanent_refusal_fails_the_order_and_the_queue_moves_on(rig: Rig) -> None:
    """A 400 from the store: failed with its message, kept; the next sale still uploads."""
    bad = sell(rig.db, "SIMPLE-001")
    good = sell(rig.db, "SIMPLE-002")
    rig.faults.add("POST /orders*:status=400@nth=1")
    report = await drain(rig.client, rig.db, batch_size=1, settle_s=0)
    assert report.failed == [bad.uuid] and report.synced == [good.uuid]
    failed = get_order(rig.db.conn, bad.uuid)
    assert failed.state == "failed" and "400" in (failed.last_error or "")
    assert unsent_quantities(rig.db.conn, [10]) == {10: 1}  # its units stay off the shelf


async def test_rejected_keys_pause_the_whole_queue(rig: Rig) -> None:
    """401: nothing is lost or failed, the queue pauses with a message about the keys."""
    sales = [sell(rig.db, "SIMPLE-001"), sell(rig.db, "SIMPLE-002")]
    rig.store.revoke_key(rig.client.key)
    report = await drain(rig.client, rig.db, settle_s=0)
    assert report.paused and "keys" in report.paused
    assert paused_reason(rig.db) == report.paused
    assert [get_order(rig.db.conn, s.uuid).state for s in sales] == ["pending_sync"] * 2
    again = await drain(rig.client, rig.db, settle_s=0)
    assert again.requests == 0 and again.paused  # paused: no hammering with bad keys
    assert (
        rig.db.conn.execute(
            "SELECT COUNT(*) FROM sync_state WHERE key = ?", (PAUSE_KEY,)
        ).fetchone()[0]
        == 1
    )


async def test_deleted_product_order_is_flagged_and_never_resent(rig: Rig) -> None:
    """Product force-deleted before upload: an empty 0.00 line in the store; the till flags it."""
    sale = sell(rig.db, "SIMPLE-001")
    rig.store.force_delete_product(10)
    report = await drain(rig.client, rig.db, settle_s=0)
    assert report.discrepancies == [sale.uuid]
    rec = get_order(rig.db.conn, sale.uuid)
    assert rec.state == "synced_with_discrepancy" and rec.discrepancy
    logged = rig.db.conn.execute(
        "SELECT cause FROM discrepancies WHERE object_type = 'order' AND object_id = ?",
        (sale.uuid,),
    ).fetchall()
    assert logged
    await drain(rig.client, rig.db, settle_s=0)
    assert len(_remote(rig)[sale.uuid]) == 1


async def test_crash_before_sending_is_looked_up_then_sent_once(rig: Rig) -> None:
    """A row left in flight by a dead process, never sent: lookup finds nothing, one upload."""
    sale = sell(rig.db, "SIMPLE-001")
    with rig.db.write() as conn:
        mark_in_flight(conn, [sale.uuid], datetime.now(UTC), None)
    rig.reopen()
    rig.advance(2)  # the restart takes a moment
    report = await drain(rig.client, rig.db, settle_s=0, min_resend_age_s=0)
    assert report.looked_up == 1
    assert len(_remote(rig)[sale.uuid]) == 1


async def test_crash_after_sending_is_found_not_duplicated(rig: Rig) -> None:
    """The dead process's request reached the store: after restart it is found, not resent."""
    sale = sell(rig.db, "SIMPLE-001", qty=2)
    with rig.db.write() as conn:
        mark_in_flight(conn, [sale.uuid], datetime.now(UTC), None)
    await rig.client.post("orders", json=order_payload(get_order(rig.db.conn, sale.uuid)))
    rig.reopen()
    rig.advance(2)  # the restart takes a moment
    before = rig.store.stock_of([10])[10]
    report = await drain(rig.client, rig.db, settle_s=0)
    assert report.found_by_lookup == [sale.uuid]
    assert len(_remote(rig)[sale.uuid]) == 1
    assert rig.store.stock_of([10])[10] == before  # reduced once, by the first request


async def test_lookup_pages_through_many_store_orders(rig: Rig) -> None:
    """With 150 online orders after ours, the UUID scan pages and still finds it."""
    sale = sell(rig.db, "SIMPLE-001")
    rig.faults.add("POST /orders*:commit_drop@nth=1")
    await drain(rig.client, rig.db, settle_s=3600)  # fate unknown, lookup later
    for _ in range(150):
        rig.store.place_online_order([{"product_id": 20, "quantity": 1}])
    rig.advance(2 * 3600)
    report = await drain(rig.client, rig.db, settle_s=0)
    assert report.found_by_lookup == [sale.uuid]
    assert len(_remote(rig)[sale.uuid]) == 1


async def test_lookup_uses_the_store_clock_not_the_till_clock(rig: Rig) -> None:
    """Store clock 3 h behind the till: the lookup window follows the store's clock."""
    rig.store.set_clock_offset(-3 * 3600)
    await rig.client.get("orders", {"per_page": 1})  # the client learns the store's clock
    sale = sell(rig.db, "SIMPLE-001")
    rig.faults.add("POST /orders*:commit_drop@nth=1")
    report = await drain(rig.client, rig.db, settle_s=0)
    assert report.found_by_lookup == [sale.uuid]
    assert len(_remote(rig)[sale.uuid]) == 1


async def test_second_drainer_backs_off(rig: Rig) -> None:
    """While one drain holds the lock, another returns busy and sends nothing."""
    import fcntl
    import os

    sell(rig.db, "SIMPLE-001")
    fd = os.open(f"{rig.db.path}.drain-lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        report = await drain(rig.client, rig.db, settle_s=0)
        assert report.busy and report.requests == 0
    finally:
        os.close(fd)
    assert (await drain(rig.client, rig.db, settle_s=0)).synced


async def test_list_orders_shows_every_state(rig: Rig) -> None:
    """After a mixed drain, orders list each sale once with its state and remote number."""
    sell(rig.db, "SIMPLE-001")
    sell(rig.db, "SIMPLE-002")
    await drain(rig.client, rig.db, settle_s=0)
    rows = [o.as_dict() for o in list_orders(rig.db.conn)]
    assert [r["state"] for r in rows] == ["synced", "synced"]
    assert all(r["number"] for r in rows)


async def test_lookup_falls_back_to_the_scan_without_the_plugin_route(rig: Rig) -> None:
    """Config says plugin, but its route is missing (404 rest_no_route): the scan still finds it."""
    sale = sell(rig.db, "SIMPLE-001")
    rig.faults.add("POST /orders*:commit_drop@nth=1")
    report = await drain(rig.client, rig.db, settle_s=0, plugin=True)
    assert report.found_by_lookup == [sale.uuid]
    assert len(_remote(rig)[sale.uuid]) == 1


async def test_order_trashed_in_the_store_is_still_found(rig: Rig) -> None:
    """The merchant trashed the created order before the lookup: found in the trash, not resent."""
    sale = sell(rig.db, "SIMPLE-001")
    rig.faults.add("POST /orders*:commit_drop@nth=1")
    await drain(rig.client, rig.db, settle_s=3600)
    (created,) = rig.store.list_orders()
    await rig.client.delete(f"orders/{created['id']}")  # no force: to the trash
    rig.advance(2 * 3600)
    report = await drain(rig.client, rig.db, settle_s=0)
    assert report.found_by_lookup == [sale.uuid]
    assert get_order(rig.db.conn, sale.uuid).remote_id == created["id"]
    assert len(rig.store.list_orders()) == 1


async def test_batch_with_one_refused_item_syncs_the_rest(tmp_path: Path) -> None:
    """HTTP 200 with a per-item error: that order fails with the store's message, others sync."""
    import httpx2

    from onetill.woo import WooClient
    from till_support import seeded_db

    db = seeded_db(tmp_path / "till.db")
    first, second = sell(db, "SIMPLE-001"), sell(db, "SIMPLE-002")
    seen: list[dict[str, object]] = []

    def store(request: httpx2.Request) -> httpx2.Response:
        import json

        if request.method == "GET":  # the store-clock probe before the first send
            return httpx2.Response(200, json=[])
        body = json.loads(request.content)
        seen.append(body)
        ok = dict(body["create"][0], id=501, number="501", total="63.48")
        ok["line_items"] = [{"product_id": 10, "variation_id": 0, "quantity": 1, "total": "59.33"}]
        refused = {
            "id": 0,
            "error": {
                "code": "woocommerce_rest_invalid_product_id",
                "message": "Invalid product ID.",
                "data": {"status": 400},
            },
        }
        return httpx2.Response(200, json={"create": [ok, refused]})

    client = WooClient("https://shop.test", "ck_x", "cs_x", transport=httpx2.MockTransport(store))
    try:
        report = await drain(client, db, settle_s=0, refresh=False)
    finally:
        await client.aclose()
    assert report.synced == [first.uuid] and report.failed == [second.uuid]
    failed = get_order(db.conn, second.uuid)
    assert failed.state == "failed" and "Invalid product ID." in (failed.last_error or "")
    sent = seen[0]["create"]
    assert isinstance(sent, list) and sent[0]["status"] == "completed" and sent[0]["set_paid"]
    db.close()


@pytest.mark.parametrize("hours", [-3, 3])
async def test_lookup_window_follows_a_skewed_store_clock(tmp_path: Path, hours: int) -> None:
    """HTTPS (no signed timestamps), store clock hours off, nothing heard from it before the
    lost answer: the lookup still finds the order and it is not sent twice."""
    https = make_rig(tmp_path, home_url="https://sandbox.test")
    try:
        https.store.set_clock_offset(hours * 3600)
        sale = sell(https.db, "SIMPLE-001")
        https.faults.add("POST /orders*:commit_drop@nth=1")
        report = await drain(https.client, https.db, settle_s=0)
        assert report.found_by_lookup == [sale.uuid]
        assert len(_remote(https)[sale.uuid]) == 1
    finally:
        await close_rig(https)


async def test_timeout_over_real_http_is_looked_up(tmp_path: Path, start_sandbox: Any) -> None:
    """Real server: the store saves the order but answers after the client's timeout."""
    from onetill.woo import WooClient
    from till_support import seeded_db

    server = start_sandbox(faults="POST /orders:slow=3@nth=1")
    db = seeded_db(tmp_path / "till.db")
    sale = sell(db, "SIMPLE-001")
    async with WooClient(server.url, server.key, server.secret, timeout=1.0) as client:
        report = await drain(client, db, settle_s=0)
    assert report.found_by_lookup == [sale.uuid]
    mine = [o for o in server.store.list_orders() if order_uuid(o) == sale.uuid]
    assert len(mine) == 1 and get_order(db.conn, sale.uuid).remote_id == mine[0]["id"]
    db.close()
