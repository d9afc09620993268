"""Stateful property test of the outbox against the sandbox store.

Random interleavings of sales, network faults (commit-then-drop, resets,
503s, 502 pages, timeouts), crashes (a row abandoned in flight, before or
after its request reached the store) and restarts (the database closed and
reopened). Invariants after every step: no sale lost, at most one store
order per UUID, store stock reduced exactly once per unit the store has an
order for, and FIFO among the orders the till knows are synced; at the end,
once the faults stop: every sale is in the store exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from onetill.store.orders import get_order, in_flight_orders, list_orders, mark_in_flight
from onetill.sync.outbox import drain
from onetill.sync.outbox_payload import order_payload
from onetill.woo.errors import WooError
from till_support import ZeroJitter, close_rig, make_rig, order_uuid, sell

# code -> the item whose stock it reduces in the store
ITEMS = {"SIMPLE-001": 10, "SIMPLE-002": 11, "VAR-01-L": 313, "VAR-20-L": 405}
FAULTS = ["commit_drop", "reset", "status=503", "html=502", "slow=5"]
TARGETS = ["POST /orders", "POST /orders/batch", "GET /orders"]


class OutboxMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="outbox-sm-"))
        self.loop = asyncio.new_event_loop()
        self.rig = make_rig(self.tmp)
        self.sold: dict[str, Counter[int]] = {}
        self.initial = self.rig.store.stock_of(sorted(set(ITEMS.values())))

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    # -- rules ----------------------------------------------------------------

    @rule(
        codes=st.lists(st.sampled_from(sorted(ITEMS)), min_size=1, max_size=3, unique=True),
        qty=st.integers(1, 3),
    )
    def sale(self, codes: list[str], qty: int) -> None:
        made = sell(self.rig.db, *codes, qty=qty)
        self.sold[made.uuid] = Counter({ITEMS[c]: qty for c in codes})

    @rule(kind=st.sampled_from(FAULTS), where=st.sampled_from(TARGETS))
    def fault(self, kind: str, where: str) -> None:
        self.rig.faults.add(f"{where}:{kind}@count=1")

    @rule(batch=st.sampled_from([1, 3, 10]))
    def drain_now(self, batch: int) -> None:
        report = self.run(
            drain(
                self.rig.client, self.rig.db, batch_size=batch, settle_s=0, rng=ZeroJitter(),
                # The in-process store answers or drops at once, never later:
                # no minimum age needed for the invariants checked here.
                min_resend_age_s=0, max_rounds=50,
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

    @precondition(lambda self: not in_flight_orders(self.rig.db.conn))
    @rule()
    def crash_before_sending(self) -> None:
        """The process marked the head in flight and died before the request left."""
        head = self._head()
        if head is not None:
            with self.rig.db.write() as conn:
                mark_in_flight(conn, [head], datetime.now(UTC), None)
        self.rig.reopen()

    @precondition(lambda self: not in_flight_orders(self.rig.db.conn))
    @rule()
    def crash_after_sending(self) -> None:
        """The process sent the head's request and died before recording the answer."""
        head = self._head()
        if head is not None:
            with self.rig.db.write() as conn:
                mark_in_flight(conn, [head], datetime.now(UTC), None)
            payload = order_payload(get_order(self.rig.db.conn, head))
            # A fault may hit the dead process's request: its fate is unknown too.
            with contextlib.suppress(WooError):
                self.run(self.rig.client.post("orders", json=payload))
        self.rig.reopen()

    @rule()
    def restart(self) -> None:
        self.rig.reopen()

    # -- invariants -----------------------------------------------------------

    def _store_orders(self) -> list[dict[str, Any]]:
        return [o for o in self.rig.store.list_orders() if order_uuid(o) is not None]

    @invariant()
    def no_sale_is_lost(self) -> None:
        here = {o.uuid for o in list_orders(self.rig.db.conn)}
        assert here == set(self.sold)

    @invariant()
    def at_most_one_store_order_per_uuid(self) -> None:
        counts = Counter(order_uuid(o) for o in self._store_orders())
        assert all(n == 1 for n in counts.values()), counts
        assert set(counts) <= set(self.sold)

    @invariant()
    def store_stock_reduced_once_per_unit(self) -> None:
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
            for _ in range(5):
                self.drain_now(10)
            states = Counter(o.state for o in list_orders(self.rig.db.conn))
            assert states == Counter({"synced": len(self.sold)}) or not self.sold, states
            counts = Counter(order_uuid(o) for o in self._store_orders())
            assert counts == Counter(dict.fromkeys(self.sold, 1))
            self.store_stock_reduced_once_per_unit()
        finally:
            self.run(close_rig(self.rig))
            self.loop.close()
            shutil.rmtree(self.tmp, ignore_errors=True)


OutboxMachine.TestCase.settings = settings(
    max_examples=30,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestOutboxStateMachine = OutboxMachine.TestCase
