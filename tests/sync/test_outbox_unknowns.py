"""The outbox when an upload's fate is unknown: never a second store order for one UUID.

Each test here reproduces a path that once created a duplicate: a store
clock never measured before a lost answer, a till clock corrected between
the send and the lookup, a batch item answered with a server error.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest

from onetill.sandbox.config import DEFAULT_KEY, DEFAULT_SECRET
from onetill.store.orders import get_order, parse_ts
from onetill.store.outbox import mark_in_flight
from onetill.sync.outbox import drain
from onetill.sync.outbox_payload import order_payload
from onetill.woo import WooClient
from till_support import Rig, close_rig, make_rig, order_uuid, seeded_db, sell

pytestmark = pytest.mark.anyio

TWO_DAYS = 2 * 86400


def _fresh_client(rig: Rig) -> WooClient:
    """A new process's client: it has heard nothing from the store yet."""
    return rig.client_for()


def _copies(rig: Rig, uuid: str) -> int:
    return sum(1 for o in rig.store.list_orders() if order_uuid(o) == uuid)


async def test_crash_with_store_clock_days_off_and_never_measured_is_found(
    tmp_path: Path,
) -> None:
    """A dead till's request reached a store whose clock is 2 days behind, and the row holds
    no clock measurement: the restarted till measures the store's clock before the lookup
    and finds the order instead of sending it again."""
    rig = make_rig(tmp_path, home_url="https://sandbox.test")
    try:
        rig.store.set_clock_offset(-TWO_DAYS)
        sale = sell(rig.db, "SIMPLE-001")
        with rig.db.write() as conn:
            mark_in_flight(conn, [sale.uuid], datetime.now(UTC), None)
        await rig.client.post("orders", json=order_payload(get_order(rig.db.conn, sale.uuid)))
        rig.reopen()
        async with _fresh_client(rig) as client:
            report = await drain(client, rig.db, settle_s=0, refresh=False)
        assert report.found_by_lookup == [sale.uuid]
        assert _copies(rig, sale.uuid) == 1
    finally:
        await close_rig(rig)


async def test_store_clock_is_measured_before_the_first_send(tmp_path: Path) -> None:
    """The store's clock is measured before an order leaves and the row keeps the send in
    the store's time: with the till's clock two days ahead at the send and corrected before
    the lookup, the order is still found."""
    rig = make_rig(tmp_path, home_url="https://sandbox.test")
    try:
        # The store 2 days behind real time = the till's clock 2 days ahead.
        rig.store.set_clock_offset(-TWO_DAYS)
        ahead = datetime.now(UTC) + timedelta(seconds=TWO_DAYS)
        sale = sell(rig.db, "SIMPLE-001")
        rig.faults.add("POST /orders*:commit_drop@nth=1")
        async with rig.client_for() as client:
            await drain(client, rig.db, settle_s=3600, refresh=False, clock=lambda: ahead)
        row = get_order(rig.db.conn, sale.uuid)
        assert row.state == "in_flight"
        assert row.server_offset_s == 0 and row.first_sent_at is not None
        store_then = datetime.fromtimestamp(rig.store.now(), UTC)
        assert abs((parse_ts(row.first_sent_at) - store_then).total_seconds()) < 60
        rig.advance(2 * 3600)  # the settle time passes; the till's clock is corrected
        async with rig.client_for() as client:
            report = await drain(
                client, rig.db, settle_s=0, refresh=False, clock=lambda: datetime.now(UTC)
            )
        assert report.found_by_lookup == [sale.uuid]
        assert _copies(rig, sale.uuid) == 1
    finally:
        await close_rig(rig)


def _batch_store(item_status: int) -> tuple[Callable[[httpx2.Request], httpx2.Response], list[Any]]:
    """A WooCommerce stand-in that creates every batch item, but answers the second one with
    a per-item error of ``item_status`` (an exception after the order was saved)."""
    orders: list[dict[str, Any]] = []

    def created(body: dict[str, Any]) -> dict[str, Any]:
        order = dict(body, id=500 + len(orders), number=str(500 + len(orders)), total="0.00")
        order["line_items"] = []
        orders.append(order)
        return order

    def handle(request: httpx2.Request) -> httpx2.Response:
        headers = {"Date": datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")}
        path = request.url.path
        if request.method == "POST" and path.endswith("/orders/batch"):
            answers: list[dict[str, Any]] = []
            for i, body in enumerate(json.loads(request.content)["create"]):
                order = created(body)
                if i == 1:
                    error = {"code": "boom", "message": "Internal error.",
                             "data": {"status": item_status}}  # fmt: skip
                    answers.append({"id": 0, "error": error})
                else:
                    answers.append(order)
            return httpx2.Response(200, json={"create": answers}, headers=headers)
        if request.method == "POST" and path.endswith("/orders"):
            return httpx2.Response(201, json=created(json.loads(request.content)), headers=headers)
        if request.method == "GET" and path.endswith("/orders"):
            listing = {**headers, "X-WP-Total": str(len(orders)), "X-WP-TotalPages": "1"}
            page = orders if request.url.params.get("page", "1") == "1" else []
            if request.url.params.get("status") == "trash":
                page = []
            return httpx2.Response(200, json=page, headers=listing)
        return httpx2.Response(404, json={"code": "rest_no_route", "message": "No route",
                                          "data": {"status": 404}}, headers=headers)  # fmt: skip

    return handle, orders


async def test_batch_item_answered_with_a_server_error_is_looked_up_not_resent(
    tmp_path: Path,
) -> None:
    """A batch item answered with a 500 may have been saved before the error (WooCommerce
    saves, then completes the payment): it is looked up by UUID, not sent again."""
    db = seeded_db(tmp_path / "till.db")
    sales = [sell(db, "SIMPLE-001"), sell(db, "SIMPLE-002")]
    handle, orders = _batch_store(500)
    client = WooClient("https://shop.test", "ck_x", "cs_x", transport=httpx2.MockTransport(handle))
    try:
        report = await drain(client, db, settle_s=0, refresh=False)
    finally:
        await client.aclose()
        db.close()
    uuids = [order_uuid(o) for o in orders]
    assert sorted(uuids) == sorted(s.uuid for s in sales)  # each exactly once
    assert sales[1].uuid in report.found_by_lookup


def test_row_keeps_the_earliest_send_in_store_time(tmp_path: Path) -> None:
    """Two sends with the till's clock corrected by two days between them: the row keeps the
    till time and store offset of the same send (the earlier in store time), so the lookup
    window starts before both instead of two days after the first."""
    from onetill.store.outbox import mark_pending

    db = seeded_db(tmp_path / "till.db")
    try:
        sale = sell(db, "SIMPLE-001")
        t = datetime(2026, 11, 26, 12, tzinfo=UTC)
        with db.write() as conn:
            # The till's clock 2 days ahead at the first send (store time t) ...
            mark_in_flight(conn, [sale.uuid], t + timedelta(days=2), -TWO_DAYS)
            mark_pending(conn, sale.uuid, t, "reset before the store saw it")
            # ... corrected before the second, an hour later (store time t + 1 h).
            mark_in_flight(conn, [sale.uuid], t + timedelta(hours=1), 0.0)
        row = get_order(db.conn, sale.uuid)
        assert row.first_sent_at is not None and row.server_offset_s is not None
        store_time = parse_ts(row.first_sent_at) + timedelta(seconds=row.server_offset_s)
        assert store_time == t
        assert row.attempts == 2
    finally:
        db.close()


class _MerchantTrashesDuringScan(httpx2.AsyncBaseTransport):
    """The sandbox, with a merchant who trashes an older order while the till's UUID scan
    is between its first and second page (WooCommerce pages by offset)."""

    def __init__(self, rig: Rig, victim: int) -> None:
        self.inner = httpx2.ASGITransport(app=rig.app)
        self.rig = rig
        self.victim = victim
        self.armed = True

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self.inner.handle_async_request(request)
        params = request.url.params
        scan = request.method == "GET" and "after" in params and params.get("page") == "1"
        if self.armed and scan and request.url.path.endswith("/orders"):
            self.armed = False
            await self.rig.client.delete(f"orders/{self.victim}")  # no force: to the trash
        return response


async def test_order_shifted_off_its_page_by_a_trashing_merchant_is_not_resent(
    tmp_path: Path,
) -> None:
    """Our order is the 101st in the lookup window; an older one is trashed while the scan
    reads page 1, so page 2 comes back empty: a miss is scanned once more before the order
    may be sent again, and it is found."""
    rig = make_rig(tmp_path)
    try:
        online = [rig.store.place_online_order([{"product_id": 20, "quantity": 1}])
                  for _ in range(100)]  # fmt: skip
        sale = sell(rig.db, "SIMPLE-001")
        rig.faults.add("POST /orders*:commit_drop@nth=1")
        await drain(rig.client, rig.db, settle_s=3600, refresh=False)
        assert get_order(rig.db.conn, sale.uuid).state == "in_flight"
        victim = min(int(o["id"]) for o in online)
        transport = _MerchantTrashesDuringScan(rig, victim)
        rig.advance(2 * 3600)
        async with rig.client_for(transport) as client:
            report = await drain(client, rig.db, settle_s=0, refresh=False)
        assert not transport.armed, "the merchant's trash happened mid-scan"
        assert report.found_by_lookup == [sale.uuid]
        assert _copies(rig, sale.uuid) == 1
    finally:
        await close_rig(rig)


async def test_unreadable_plugin_lookup_answer_never_leads_to_a_resend(tmp_path: Path) -> None:
    """The plugin's by-uuid route answers 200 with something that is not a list (a changed
    plugin, a caching proxy): that is no proof of absence, so the order stays in flight."""
    db = seeded_db(tmp_path / "till.db")
    sale = sell(db, "SIMPLE-001")
    with db.write() as conn:
        mark_in_flight(conn, [sale.uuid], datetime.now(UTC), 0.0)
    posts: list[str] = []

    def handle(request: httpx2.Request) -> httpx2.Response:
        if request.method == "POST":
            posts.append(request.url.path)
            return httpx2.Response(500, json={"code": "x", "message": "x", "data": {}})
        if request.url.path.endswith("/orders/by-uuid"):
            return httpx2.Response(200, json={"orders": [{"uuid": sale.uuid, "id": 7}]})
        return httpx2.Response(200, json=[])

    client = WooClient("https://shop.test", "ck_x", "cs_x", transport=httpx2.MockTransport(handle))
    try:
        report = await drain(client, db, settle_s=0, refresh=False, plugin=True)
        assert posts == []
        assert report.found_by_lookup == [] and report.retry_later == [sale.uuid]
        assert get_order(db.conn, sale.uuid).state == "in_flight"
    finally:
        await client.aclose()
        db.close()


async def test_a_crash_with_a_request_out_waits_for_its_timeout_before_the_lookup(
    tmp_path: Path,
) -> None:
    """A till killed while its POST is still out: the row it left says to look the order up
    no sooner than send time + client timeout + settle, as long as a live till would have
    waited, so a store still working on the request is never sent a second copy."""
    import anyio

    class _SilentNetwork(httpx2.AsyncBaseTransport):
        """Reads reach the store; a POST goes out and no answer ever comes back."""

        def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
            self.inner = inner

        async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
            if request.method == "POST":
                await anyio.sleep_forever()
            return await self.inner.handle_async_request(request)

    rig = make_rig(tmp_path, home_url="https://sandbox.test")
    try:
        sale = sell(rig.db, "SIMPLE-001")
        before = datetime.fromtimestamp(rig.store.now(), UTC)  # the store's clock
        transport = _SilentNetwork(httpx2.ASGITransport(app=rig.app))
        async with WooClient(
            "https://sandbox.test", DEFAULT_KEY, DEFAULT_SECRET, transport=transport, timeout=5.0
        ) as client:
            with anyio.move_on_after(1.0):  # the "crash": nothing of the drain runs after this
                await drain(client, rig.db, settle_s=2, refresh=False)
        row = rig.db.conn.execute(
            "SELECT status, next_attempt_at FROM outbox WHERE order_uuid = ?", (sale.uuid,)
        ).fetchone()
        assert row["status"] == "in_flight"
        lookup_at = datetime.fromisoformat(str(row["next_attempt_at"]).replace("Z", "+00:00"))
        assert lookup_at >= before + timedelta(seconds=5 + 2)
    finally:
        await close_rig(rig)


class _LateDelivery(httpx2.AsyncBaseTransport):
    """The network edge of an overloaded shared host: the first order POST gets no answer
    (the proxy gave up on it) but is not lost either; it waits in PHP-FPM's queue and
    reaches the store only when :meth:`deliver` says, later than the till's lookup."""

    def __init__(self, rig: Rig) -> None:
        self.inner = httpx2.ASGITransport(app=rig.app)
        self.held: httpx2.Request | None = None
        self.posts = 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.method == "POST" and request.url.path.endswith("/orders"):
            self.posts += 1
            if self.posts == 1:
                await request.aread()
                self.held = request
                raise httpx2.ReadTimeout("the proxy gave up waiting", request=request)
        return await self.inner.handle_async_request(request)

    async def deliver(self) -> None:
        """The queued POST is finally processed (its answer goes nowhere)."""
        assert self.held is not None, "no POST was held back"
        response = await self.inner.handle_async_request(self.held)
        await response.aread()
        assert response.status_code == 201


@pytest.mark.parametrize("min_age", [120.0, 0.0])
async def test_post_processed_after_the_lookup_is_not_duplicated_thanks_to_min_age(
    tmp_path: Path, min_age: float
) -> None:
    """A lost POST that the store creates only after the till's first lookup: with a minimum
    resend age, the empty lookup is rescheduled (no resend, the queue waits) and the next
    lookup finds the one order. With no minimum age the same story makes a duplicate,
    which is why the rule exists."""
    rig = make_rig(tmp_path, home_url="https://sandbox.test")
    try:
        sale = sell(rig.db, "SIMPLE-001")
        behind = sell(rig.db, "SIMPLE-002")
        edge = _LateDelivery(rig)
        async with rig.client_for(edge) as client:
            first = await drain(
                client, rig.db, batch_size=1, settle_s=0, min_resend_age_s=min_age,
                refresh=False,
            )  # fmt: skip
            assert first.looked_up == 1 and first.found_by_lookup == []
            await edge.deliver()  # the store gets to the queued request at last
            if min_age:
                row = get_order(rig.db.conn, sale.uuid)
                assert edge.posts == 1, "nothing resent before the minimum age"
                assert row.state == "in_flight"
                assert get_order(rig.db.conn, behind.uuid).state == "pending_sync"  # FIFO
                assert row.in_flight_since is not None and first.next_attempt_at is not None
                due = datetime.fromisoformat(row.next_attempt_at.replace("Z", "+00:00"))
                sent = datetime.fromisoformat(row.in_flight_since.replace("Z", "+00:00"))
                assert due == sent + timedelta(seconds=min_age) == first.next_attempt_at
                # Not yet due: a drain now does nothing at all.
                early = await drain(client, rig.db, settle_s=0, min_resend_age_s=min_age,
                                    refresh=False)  # fmt: skip
                assert early.looked_up == 0 and early.requests == 0
                rig.advance(min_age + 1)
                second = await drain(client, rig.db, batch_size=1, settle_s=0,
                                     min_resend_age_s=min_age, refresh=False)  # fmt: skip
                assert second.found_by_lookup == [sale.uuid]
                assert _copies(rig, sale.uuid) == 1
                assert get_order(rig.db.conn, behind.uuid).state == "synced"
            else:
                assert edge.posts >= 2  # resent right after the empty lookup ...
                assert _copies(rig, sale.uuid) == 2  # ... and the late POST made a second
    finally:
        await close_rig(rig)


async def test_empty_lookup_after_the_minimum_age_resends_once(tmp_path: Path) -> None:
    """A lost POST that never reaches the store at all: once the minimum age has passed, an
    empty lookup leads to exactly one resend, so the rule delays a sale, never loses it."""
    rig = make_rig(tmp_path, home_url="https://sandbox.test")
    try:
        sale = sell(rig.db, "SIMPLE-001")
        edge = _LateDelivery(rig)  # the held POST is never delivered
        async with rig.client_for(edge) as client:
            first = await drain(client, rig.db, settle_s=0, min_resend_age_s=60, refresh=False)
            assert first.requests == 1 and first.retry_later == [sale.uuid]
            rig.advance(61)
            second = await drain(client, rig.db, settle_s=0, min_resend_age_s=60,
                                 refresh=False)  # fmt: skip
        assert second.looked_up == 1 and second.synced == [sale.uuid]
        assert edge.posts == 2
        assert _copies(rig, sale.uuid) == 1
    finally:
        await close_rig(rig)


class _RefusedOnce(httpx2.AsyncBaseTransport):
    """The sandbox behind a network that refuses the first order POST's connection."""

    def __init__(self, rig: Rig) -> None:
        self.inner = httpx2.ASGITransport(app=rig.app)
        self.posts = 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.method == "POST" and request.url.path.endswith("/orders"):
            self.posts += 1
            if self.posts == 1:
                raise httpx2.ConnectError("connection refused", request=request)
        return await self.inner.handle_async_request(request)


@pytest.mark.parametrize("refusal", ["connect", "429", "503 with Retry-After"])
async def test_send_that_provably_never_reached_the_store_is_resent_without_waiting(
    tmp_path: Path, refusal: str
) -> None:
    """A refused connection, a 429 or a 503 with Retry-After prove the store never saw the
    order: it is resent on its ordinary backoff, with no lookup and no minimum age."""
    from till_support import ZeroJitter

    rig = make_rig(tmp_path, home_url="https://sandbox.test")
    try:
        sale = sell(rig.db, "SIMPLE-001")
        edge = _RefusedOnce(rig) if refusal == "connect" else httpx2.ASGITransport(app=rig.app)
        if refusal == "429":
            rig.faults.add("POST /orders*:status=429@nth=1")
        elif refusal != "connect":
            rig.faults.add("POST /orders*:status=503,retry_after=1@nth=1")
        reports = []
        async with rig.client_for(edge) as client:
            reports.append(await drain(client, rig.db, settle_s=0, min_resend_age_s=3600,
                                       refresh=False, rng=ZeroJitter()))  # fmt: skip
            rig.advance(5)  # far less than the minimum age
            reports.append(await drain(client, rig.db, settle_s=0, min_resend_age_s=3600,
                                       refresh=False, rng=ZeroJitter()))  # fmt: skip
        assert sum(r.looked_up for r in reports) == 0
        assert sum(r.requests for r in reports) == 2
        assert get_order(rig.db.conn, sale.uuid).state == "synced"
        assert _copies(rig, sale.uuid) == 1
    finally:
        await close_rig(rig)


async def test_duplicate_found_by_the_lookup_is_logged_and_needs_attention(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store holds one sale twice (made here directly in the sandbox): the lookup that
    finds it records the order as needing attention (`onetill orders --failed` lists it),
    logs an 'order'/'duplicate' discrepancy with both store ids, and cancels nothing."""
    import sqlite3

    from click.testing import CliRunner

    from onetill.cli import cli
    from onetill.config import Config, save_config
    from onetill.store.discrepancies import list_discrepancies

    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    rig = make_rig(tmp_path, home_url="https://sandbox.test")
    try:
        sale = sell(rig.db, "SIMPLE-001")
        with rig.db.write() as conn:
            mark_in_flight(conn, [sale.uuid], datetime.now(UTC), 0.0)
        payload = order_payload(get_order(rig.db.conn, sale.uuid))
        ids = [int((await rig.client.post("orders", json=payload)).data["id"]) for _ in range(2)]
        statuses = [o["status"] for o in rig.store_orders_for(sale.uuid)]
        rig.reopen()
        rig.advance(2)  # the restart takes a moment
        async with _fresh_client(rig) as client:
            report = await drain(client, rig.db, settle_s=0, refresh=False)
        assert report.found_by_lookup == [sale.uuid] and report.discrepancies == [sale.uuid]
        row = get_order(rig.db.conn, sale.uuid)
        assert row.state == "synced_with_discrepancy" and row.remote_id == min(ids)
        assert row.discrepancy is not None and all(f"#{i}" in row.discrepancy for i in ids)
        logged = [d for d in list_discrepancies(rig.db.conn, object_id=sale.uuid)
                  if d.field == "duplicate"]  # fmt: skip
        assert len(logged) == 1 and logged[0].object_type == "order"
        assert logged[0].store_value == ", ".join(f"#{i}" for i in sorted(ids))
        # Nothing cancelled or changed in the store: which copy goes is the merchant's call.
        assert [o["status"] for o in rig.store_orders_for(sale.uuid)] == statuses
        assert len(statuses) == 2

        home = tmp_path / "home"
        home.mkdir(mode=0o700)
        save_config(home, Config(url="http://127.0.0.1:9", key="ck_x", secret="cs_x"))
        with sqlite3.connect(home / "onetill.db") as copy:
            rig.db.conn.backup(copy)
        copy.close()
        shown = CliRunner().invoke(
            cli, ["orders", "--failed", "--json", "--home", str(home)], catch_exceptions=False
        )
        assert shown.exit_code == 0, shown.output
        assert [o["uuid"] for o in json.loads(shown.output)] == [sale.uuid]
    finally:
        await close_rig(rig)
