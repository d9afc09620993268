"""What the outbox records when the store answers (or does not): the outcome handlers.

Each handler writes its orders' new state in one commit and notes it in the
drain's :class:`DrainReport`:

* **retry** -> a ``next_attempt_at``: a send whose fate is unknown stays
  ``in_flight`` and waits only the settle time, because the next step is a
  lookup, not a resend; otherwise backoff with full jitter.
* **pause** -> the queue waits until the keys are fixed
  (``sync_state[PAUSE_KEY]`` holds the message).
* **fail** -> ``failed`` with the store's message; the queue moves on.
* **accept** -> ``synced`` (or ``synced_with_discrepancy``): the created
  order is compared with its sale, fetched in full first when the answer
  was trimmed (a lookup asks for a few fields only). A sale the lookup
  found more than once is ``synced_with_discrepancy`` too, with an
  ``order``/``duplicate`` discrepancy naming the copies; none is cancelled.

The drain loop that decides which handler applies is in ``outbox.py``.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from onetill.store.db import Database
from onetill.store.discrepancies import log_discrepancy
from onetill.store.orders import OrderRecord, mark_failed, mark_pending, mark_synced
from onetill.store.sync_state import set_state
from onetill.sync.outbox_payload import compare_created
from onetill.sync.outbox_policy import PAUSE_KEY, DrainReport, backoff_delay, error_text
from onetill.woo import WooClient
from onetill.woo.errors import ResponseError, WooError
from onetill.woo.transport import path_died

__all__ = ["OutcomeRecorder"]

# How soon an order is looked up after its connection's path died.
DEAD_PATH_LOOKUP_S = 1.0

# The outbox's logger (its name is what operators filter on).
log = logging.getLogger("onetill.outbox")


class OutcomeRecorder:
    """A drain's state (client, database, clock, report) and what it does with each outcome."""

    def __init__(
        self,
        client: WooClient,
        db: Database,
        *,
        batch_size: int,
        plugin: bool,
        settle_s: float,
        min_resend_age_s: float = 0.0,
        clock: Callable[[], datetime],
        rng: random.Random,
    ) -> None:
        self.client = client
        self.db = db
        self.batch_size = batch_size
        self.plugin = plugin
        self.settle = timedelta(seconds=settle_s)
        self.min_resend_age = timedelta(seconds=min_resend_age_s)
        self.clock = clock
        self.rng = rng
        self.report = DrainReport()
        self.sold_items: set[int] = set()
        self.clock_probed = False

    # -- outcomes ---------------------------------------------------------

    def _retry(
        self, orders: list[OrderRecord], exc: BaseException, *, in_flight: bool, sent: bool = True
    ) -> None:
        """Try again later; ``sent``: the orders were just sent (their attempt counts)."""
        retry_after = exc.retry_after if isinstance(exc, ResponseError) else None
        now = self.clock()
        with self.db.write() as conn:
            for order in orders:
                attempts = max(1, order.attempts + (1 if sent else 0))
                if in_flight and sent:
                    # Fate unknown: the next step is a cheap lookup, once the
                    # store has had time to finish the request. When the
                    # network path died (the kernel cut the connection) the
                    # store was not slow: look at once. A lookup never resends;
                    # the minimum resend age still guards that.
                    delay = self.settle.total_seconds()
                    if path_died(exc):
                        delay = min(delay, DEAD_PATH_LOOKUP_S)
                else:
                    delay = backoff_delay(attempts, self.rng, retry_after)
                at = now + timedelta(seconds=delay)
                mark_pending(conn, order.uuid, at, error_text(exc), in_flight=in_flight)
                self.report.retry_later.append(order.uuid)
                if self.report.next_attempt_at is None or at < self.report.next_attempt_at:
                    self.report.next_attempt_at = at

    def _pause(self, orders: list[OrderRecord], exc: BaseException, *, in_flight: bool) -> None:
        reason = (
            "WooCommerce rejected the API keys; orders are kept and wait until the keys "
            f"are fixed (`onetill connect`): {error_text(exc)}"
        )
        now = self.clock()
        with self.db.write() as conn:
            set_state(conn, PAUSE_KEY, reason)
            for order in orders:
                mark_pending(conn, order.uuid, now, error_text(exc), in_flight=in_flight)
        self.report.paused = reason

    def _fail(self, order: OrderRecord, exc: BaseException) -> None:
        with self.db.write() as conn:
            mark_failed(conn, order.uuid, error_text(exc))
        self.report.failed.append(order.uuid)
        log.warning("order %s refused by the store: %s", order.uuid, error_text(exc))

    async def _full_orders(self, ids: list[int]) -> dict[int, dict[str, Any]]:
        """The store's full order objects (lines, totals) for ``ids``, fetched in bulk."""
        out: dict[int, dict[str, Any]] = {}
        for start in range(0, len(ids), 100):
            chunk = ids[start : start + 100]
            page = await self.client.get("orders", {"include": chunk, "per_page": 100})
            for obj in page.data or []:
                if isinstance(obj, dict) and isinstance(obj.get("id"), int):
                    out[obj["id"]] = obj
        for missing in [i for i in ids if i not in out]:  # e.g. trashed: not in listings
            out[missing] = (await self.client.get(f"orders/{missing}")).data
        return out

    async def _accept(
        self,
        pairs: list[tuple[OrderRecord, dict[str, Any]]],
        duplicates: dict[str, list[int]] | None = None,
    ) -> None:
        """The store has these orders: check each against its sale, record all in one commit.

        ``duplicates`` (uuid -> store ids) names sales the store holds more
        than once: each is recorded ``synced_with_discrepancy`` (so it shows
        under "needs attention") with a discrepancy naming the copies. Which
        copy to cancel is the merchant's call: nothing is cancelled here.
        """
        if not pairs:
            return
        partial = [
            int(created["id"])
            for _, created in pairs
            if "line_items" not in created or "total" not in created
        ]
        try:
            full = await self._full_orders(partial) if partial else {}
        except (WooError, OSError) as exc:
            # They are in the store; the next lookup finds them again.
            self._retry([o for o, _ in pairs], exc, in_flight=True, sent=False)
            return
        now = self.clock()
        copies = duplicates or {}
        # (order, created, how it differs from its sale, what to show for it)
        checked: list[tuple[OrderRecord, dict[str, Any], str | None, str | None]] = []
        for order, created in pairs:
            created = full.get(int(created["id"]), created)
            differs = compare_created(order, created)
            problem = differs
            if order.uuid in copies:
                twice = _duplicate_text(copies[order.uuid])
                problem = twice if differs is None else f"{twice}; {differs}"
            checked.append((order, created, differs, problem))
        with self.db.write() as conn:
            for order, created, differs, problem in checked:
                number = str(created.get("number") or created["id"])
                mark_synced(conn, order.uuid, int(created["id"]), number, now, discrepancy=problem)
                if order.uuid in copies:
                    ids = copies[order.uuid]
                    log_discrepancy(
                        conn, "order", order.uuid, "duplicate", "1 store order",
                        ", ".join(f"#{i}" for i in ids), _duplicate_text(ids),
                    )  # fmt: skip
                if differs is not None:
                    log_discrepancy(
                        conn, "order", order.uuid, "order", f"total {order.total}",
                        f"order #{number} total {created.get('total')}",
                        f"created differently from the sale: {differs}",
                    )  # fmt: skip
        for order, created, _, problem in checked:
            if problem is None:
                self.report.synced.append(order.uuid)
            else:
                self.report.discrepancies.append(order.uuid)
                log.error(
                    "order %s created as #%s with differences: %s",
                    order.uuid, created.get("number"), problem,
                )  # fmt: skip
            for line in order.lines:
                self.sold_items.add(line.variation_id or line.product_id)

    def _requeue(self, orders: list[OrderRecord]) -> None:
        now = self.clock()
        with self.db.write() as conn:
            for order in orders:
                mark_pending(conn, order.uuid, now, None)


def _duplicate_text(ids: list[int]) -> str:
    return (
        f"the store holds this sale {len(ids)} times (orders "
        + ", ".join(f"#{i}" for i in ids)
        + "); cancel or refund the extra copies in WooCommerce (stock was reduced for each)"
    )
