"""Stateful property test of the outbox against the sandbox store.

Random interleavings of sales, network faults (commit-then-drop, resets,
503s, 502 pages, timeouts), uploads held by an overloaded host and
committed late (before the minimum resend age, or after it), steps of the
till's clock in both directions (an RTC kept in local time, then NTP),
time passing, crashes (a row abandoned in flight, before or after its
request reached the store) and restarts (the database closed and reopened),
with ``min_resend_age_s`` > 0.

Invariants after every step: no sale lost; a sale is in the store more
than once only if one of its uploads was committed after the minimum age;
store stock reduced exactly once per store order; FIFO among the orders
the till knows are synced. At the end, once the faults stop and time
passes: every sale is in the store, every sale the store holds twice is
flagged for attention (both numbers, a discrepancy), and nothing else is.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from onetill.store.discrepancies import list_discrepancies
from onetill.store.orders import get_order, list_orders
from onetill.store.outbox import in_flight_orders, mark_in_flight
from onetill.sync.duplicates import scan_for_copies
from onetill.sync.outbox import drain
from onetill.sync.outbox_payload import order_payload
from onetill.woo.errors import WooError
from till_support import ZeroJitter, close_rig, make_rig, order_uuid, sell

# code -> the item whose stock it reduces in the store
ITEMS = {"SIMPLE-001": 10, "SIMPLE-002": 11, "VAR-01-L": 313, "VAR-20-L": 405}
FAULTS = ["commit_drop", "reset", "status=503", "html=502", "slow=5"]
TARGETS = ["POST /orders", "POST /orders/batch", "GET /orders"]
MIN_AGE = 120.0  # the outbox's minimum resend age, in seconds
# Till clock steps: an RTC in local time corrected by NTP, both ways, and worse.
STEPS = [-86400.0, -7200.0, -1800.0, -90.0, 90.0, 1800.0, 7200.0, 86400.0]


class HoldingNetwork(httpx2.AsyncBaseTransport):
    """The sandbox behind an overloaded host: an order upload can be held (the till gets a
    read timeout) and committed later, when the test says, or never."""

    def __init__(self, app: Any, store: Any) -> None:
        self.inner = httpx2.ASGITransport(app=app)
        self.store = store
        self.hold_next = False
        self.held: list[tuple[httpx2.Request, float]] = []  # (request, store time held)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if self.hold_next and request.method == "POST" and "/orders" in request.url.path:
            self.hold_next = False
            await request.aread()
            self.held.append((request, self.store.now()))
            raise httpx2.ReadTimeout("the host's PHP queue holds the request", request=request)
        return await self.inner.handle_async_request(request)

    async def land(self, index: int) -> list[str]:
        """Commit one held upload now (a fault may still strike it); returns its UUIDs."""
        request, _ = self.held.pop(index)
        with contextlib.suppress(httpx2.HTTPError):
            response = await self.inner.handle_async_request(request)
            await response.aread()
        body = json.loads(request.content)
        items = body.get("create", [body])
        return [m["value"] for o in items for m in o["meta_data"] if m["key"].endswith("uuid")]


class OutboxMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="outbox-sm-"))
        self.loop = asyncio.new_event_loop()
        self.rig = make_rig(self.tmp, home_url="https://sandbox.test")
        self.net = HoldingNetwork(self.rig.app, self.rig.store)
        self.client = self.rig.client_for(self.net)
        self.sold: dict[str, Counter[int]] = {}
        self.initial = self.rig.store.stock_of(sorted(set(ITEMS.values())))
        self.till_offset = 0.0  # the till's wall clock minus true time
        self.late: set[str] = set()  # sales with an upload committed after the minimum age

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def till_clock(self) -> datetime:
        """The till's wall clock: true time (with what was skipped) plus its error."""
        true = time.time() + self.rig.elapsed.skipped
        return datetime.fromtimestamp(true + self.till_offset, UTC)

    # -- rules ----------------------------------------------------------------

    @rule(
        codes=st.lists(st.sampled_from(sorted(ITEMS)), min_size=1, max_size=3, unique=True),
        qty=st.integers(1, 3),
    )
    def sale(self, codes: list[str], qty: int) -> None:
        made = sell(self.rig.db, *codes, qty=qty, now=self.till_clock())
        self.sold[made.uuid] = Counter({ITEMS[c]: qty for c in codes})

    @rule(kind=st.sampled_from(FAULTS), where=st.sampled_from(TARGETS))
    def fault(self, kind: str, where: str) -> None:
        self.rig.faults.add(f"{where}:{kind}@count=1")

    @precondition(lambda self: self._head() is not None)
    @rule(batch=st.sampled_from([1, 3, 10]))
    def upload_held_by_the_host(self, batch: int) -> None:
        """The host holds the next upload (the till's request times out) while it drains."""
        self.net.hold_next = True
        self.drain_now(batch)
        self.net.hold_next = False

    @precondition(lambda self: bool(self.net.held))
    @rule(data=st.data(), after_resend=st.booleans())
    def commit_held(self, data: st.DataObject, after_resend: bool) -> None:
        """A held upload is committed now, or only after the minimum age, once the till
        (rightly, by its rules) looked it up, found nothing and sent it again."""
        index = data.draw(st.integers(0, len(self.net.held) - 1))
        held_at = self.net.held[index][1]
        if after_resend:
            self.rig.advance(max(0.0, held_at + MIN_AGE + 1 - self.rig.store.now()))
            self.drain_now(10)
        late = self.rig.store.now() - held_at >= MIN_AGE - 2  # Date has 1 s resolution
        uuids = self.run(self.net.land(index))
        if late:
            self.late.update(uuids)
        event("held upload committed " + ("late" if late else "in time"))

    @rule(seconds=st.sampled_from([1.0, 5.0, 30.0, 61.0, MIN_AGE + 1, 600.0, 4000.0]))
    def time_passes(self, seconds: float) -> None:
        self.rig.advance(seconds)

    @rule(step=st.sampled_from(STEPS))
    def till_clock_steps(self, step: float) -> None:
        self.till_offset += step

    @rule(
        batch=st.sampled_from([1, 3, 10]),
        wait=st.sampled_from([0.0, 0.0, 1.0, 61.0, MIN_AGE + 1, 4000.0]),
        step=st.sampled_from([0.0, 0.0, 0.0, *STEPS]),
        fault=st.sampled_from([None, None, "commit_drop", "slow=5", "reset", "html=502"]),
    )
    def time_passes_and_the_till_drains(
        self, batch: int, wait: float, step: float, fault: str | None
    ) -> None:
        """Some time passes, the till's clock may be stepped meanwhile, and the till drains,
        its first upload perhaps hit by a fault."""
        self.rig.advance(wait)
        self.till_offset += step
        if fault is not None:
            self.rig.faults.add(f"POST /orders*:{fault}@count=1")
        self.drain_now(batch)

    @rule(batch=st.sampled_from([1, 3, 10]))
    def drain_now(self, batch: int) -> None:
        report = self.run(
            drain(
                self.client, self.rig.db, batch_size=batch, settle_s=0, rng=ZeroJitter(),
                min_resend_age_s=MIN_AGE, max_rounds=50, clock=self.till_clock,
            )
        )  # fmt: skip
        # Shown by --hypothesis-show-statistics: proof the hard paths are taken.
        for name in ("synced", "retry_later", "found_by_lookup", "failed", "discrepancies"):
            if getattr(report, name):
                event(f"drain: {name}")
        if report.looked_up:
            event("drain: looked up")

    def _head(self) -> str | None:
        pending = list_orders(self.rig.db.conn, ["pending_sync"], limit=1)
        return pending[0].uuid if pending else None

    def _mark_head_in_flight(self) -> str | None:
        head = self._head()
        if head is not None:
            store_now = datetime.fromtimestamp(self.rig.store.now(), UTC)
            with self.rig.db.write() as conn:
                # As a drain writes it: store time, looked up after timeout + settle.
                mark_in_flight(conn, [head], store_now, 0.0,
                               lookup_after=store_now + timedelta(seconds=5))  # fmt: skip
        return head

    @precondition(lambda self: not in_flight_orders(self.rig.db.conn))
    @rule()
    def crash_before_sending(self) -> None:
        """The process marked the head in flight and died before the request left."""
        self._mark_head_in_flight()
        self.restart()

    @precondition(lambda self: not in_flight_orders(self.rig.db.conn))
    @rule()
    def crash_after_sending(self) -> None:
        """The process sent the head's request and died before recording the answer."""
        head = self._mark_head_in_flight()
        if head is not None:
            payload = order_payload(get_order(self.rig.db.conn, head))
            # A fault (or the host) may hold the dead process's request: its fate is unknown.
            with contextlib.suppress(WooError):
                self.run(self.client.post("orders", json=payload))
        self.restart()

    @rule()
    def restart(self) -> None:
        """The till process restarts: a new database handle and a client that heard nothing."""
        self.rig.reopen()
        self.run(self.client.aclose())
        self.client = self.rig.client_for(self.net)

    # -- invariants -----------------------------------------------------------

    def _store_orders(self) -> list[dict[str, Any]]:
        return [o for o in self.rig.store.list_orders() if order_uuid(o) is not None]

    @invariant()
    def no_sale_is_lost(self) -> None:
        here = {o.uuid for o in list_orders(self.rig.db.conn)}
        assert here == set(self.sold)

    @invariant()
    def twice_only_after_a_late_commit(self) -> None:
        counts = Counter(order_uuid(o) for o in self._store_orders())
        assert set(counts) <= set(self.sold)
        twice = {u for u, n in counts.items() if n > 1}
        assert twice <= self.late, counts

    @invariant()
    def store_stock_reduced_once_per_store_order(self) -> None:
        expected = Counter(self.initial)
        for order in self._store_orders():
            expected.subtract(self.sold[order_uuid(order)])
        assert self.rig.store.stock_of(sorted(self.initial)) == dict(expected)

    @invariant()
    def fifo_among_successes(self) -> None:
        synced = list_orders(self.rig.db.conn, ["synced", "synced_with_discrepancy"])
        ids = [o.remote_id for o in synced]
        assert ids == sorted(ids), ids

    def teardown(self) -> None:
        try:
            self.rig.faults.clear()
            self.net.hold_next = False
            for _ in range(6):  # every wait the outbox can schedule has passed
                self.rig.advance(4000)
                self.drain_now(10)
            self.twice_only_after_a_late_commit()
            self.fifo_among_successes()
            states = Counter(o.state for o in list_orders(self.rig.db.conn))
            counts = Counter(order_uuid(o) for o in self._store_orders())
            assert set(counts) == set(self.sold)
            twice = {u for u, n in counts.items() if n > 1}
            assert states["synced"] + states["synced_with_discrepancy"] == len(self.sold), states
            self.run(scan_for_copies(self.client, self.rig.db))
            for uuid in self.sold:
                row = get_order(self.rig.db.conn, uuid, with_lines=False)
                flagged = [d for d in list_discrepancies(self.rig.db.conn, object_id=uuid)
                           if d.field == "duplicate"]  # fmt: skip
                if uuid in twice:
                    event("a late commit made a second copy, and it was flagged")
                    assert row.state == "synced_with_discrepancy" and len(row.copies) == 2
                    assert flagged and row.discrepancy is not None
                else:
                    assert row.state == "synced" and not row.copies and not flagged, row
            self.store_stock_reduced_once_per_store_order()
        finally:
            self.run(self.client.aclose())
            self.run(close_rig(self.rig))
            self.loop.close()
            shutil.rmtree(self.tmp, ignore_errors=True)


OutboxMachine.TestCase.settings = settings(
    max_examples=30,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestOutboxStateMachine = OutboxMachine.TestCase
