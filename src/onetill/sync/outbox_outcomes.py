"""What the outbox records when the store answers (or does not): the outcome handlers.

Each handler writes its orders' new state in one commit and notes it in the
drain's :class:`DrainReport`:

* **retry** -> a ``next_attempt_at`` (store time): a send whose fate is
  unknown stays ``in_flight`` and waits only the settle time, because the
  next step is a lookup, not a resend; otherwise the queue's backoff.
* **unreachable** -> nothing could be asked (the store's clock could not
  even be heard): the orders keep their times, their ``last_error`` says why.
* **pause** -> the queue waits until the keys are fixed
  (``sync_state[PAUSE_KEY]`` holds the message).
* **fail** -> ``failed`` with the store's message; the queue moves on.
* **accept** -> ``synced`` (or ``synced_with_discrepancy``): the created
  order is compared with its sale, fetched in full first when the answer
  was trimmed (a lookup asks for a few fields only). A sale the lookup
  found more than once is flagged too (``store.outbox.record_store_copies``);
  none is cancelled.

The drain loop that decides which handler applies is in ``outbox.py``.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from onetill.store.discrepancies import log_discrepancy
from onetill.store.orders import OrderRecord
from onetill.store.outbox import (
    mark_failed,
    mark_pending,
    mark_synced,
    note_error,
    record_store_copies,
)
from onetill.store.sync_state import set_state
from onetill.sync.outbox_payload import compare_created
from onetill.sync.outbox_policy import (
    PAUSE_KEY,
    QUEUE_BACKOFF,
    DrainContext,
    error_text,
)
from onetill.woo.errors import ResponseError, WooError
from onetill.woo.transport import path_died

__all__ = ["OutcomeRecorder"]

# The shortest wait after the store's clock could not even be heard.
UNREACHABLE_WAIT_S = 5.0
# How soon an order is looked up after its connection's path died.
DEAD_PATH_LOOKUP_S = 1.0

# The outbox's logger (its name is what operators filter on).
log = logging.getLogger("onetill.outbox")


class OutcomeRecorder:
    """Records each outcome of one drain (``ctx``) in the database and its report."""

    def __init__(self, ctx: DrainContext) -> None:
        self.ctx = ctx

    def retry(
        self, orders: list[OrderRecord], exc: BaseException, *, in_flight: bool, sent: bool = True
    ) -> None:
        """Try again later; ``sent``: the orders were just sent (their attempt counts)."""
        ctx = self.ctx
        retry_after = exc.retry_after if isinstance(exc, ResponseError) else None
        now = ctx.now()
        with ctx.db.write() as conn:
            for order in orders:
                attempts = max(1, order.attempts + (1 if sent else 0))
                if in_flight and sent:
                    # Fate unknown: the next step is a cheap lookup, once the
                    # store has had time to finish the request. When the
                    # network path died (the kernel cut the connection) the
                    # store was not slow: look at once. A lookup never resends;
                    # the minimum resend age still guards that.
                    delay = ctx.settle.total_seconds()
                    if path_died(exc):
                        delay = min(delay, DEAD_PATH_LOOKUP_S)
                else:
                    delay = QUEUE_BACKOFF.delay(attempts, ctx.rng, retry_after)
                at = now + timedelta(seconds=delay)
                mark_pending(conn, order.uuid, at, error_text(exc), in_flight=in_flight)
                ctx.report.retry_later.append(order.uuid)
                ctx.report.wait_until(at)

    def unreachable(self, orders: list[OrderRecord], exc: BaseException) -> None:
        """The store could not be heard at all: nothing moves, the reason is kept.

        Without the store's clock there is no time to write; the caller's
        next drain (a reconnect, the engine's next try) starts afresh.
        """
        ctx = self.ctx
        with ctx.db.write() as conn:
            note_error(conn, [o.uuid for o in orders], error_text(exc))
        ctx.report.retry_later.extend(o.uuid for o in orders)
        ctx.report.errors.append(f"the store could not be reached: {error_text(exc)}")
        retry_after = exc.retry_after if isinstance(exc, ResponseError) else None
        # Nothing persisted counts these failures: wait a few seconds at least,
        # so a store answering errors is not asked again at once.
        delay = QUEUE_BACKOFF.delay(max(1, max(o.attempts for o in orders)), ctx.rng, retry_after)
        ctx.report.retry_in_s = max(UNREACHABLE_WAIT_S, delay)

    def pause(self, orders: list[OrderRecord], exc: BaseException, *, in_flight: bool) -> None:
        reason = (
            "WooCommerce rejected the API keys; orders are kept and wait until the keys "
            f"are fixed (`onetill connect`): {error_text(exc)}"
        )
        ctx = self.ctx
        now = ctx.now()
        with ctx.db.write() as conn:
            set_state(conn, PAUSE_KEY, reason)
            for order in orders:
                mark_pending(conn, order.uuid, now, error_text(exc), in_flight=in_flight)
        ctx.report.paused = reason

    def fail(self, order: OrderRecord, exc: BaseException) -> None:
        with self.ctx.db.write() as conn:
            mark_failed(conn, order.uuid, error_text(exc))
        self.ctx.report.failed.append(order.uuid)
        log.warning("order %s refused by the store: %s", order.uuid, error_text(exc))

    def requeue(self, orders: list[OrderRecord]) -> None:
        now = self.ctx.now()
        with self.ctx.db.write() as conn:
            for order in orders:
                mark_pending(conn, order.uuid, now, None)

    async def _full_orders(self, ids: list[int]) -> dict[int, dict[str, Any]]:
        """The store's full order objects (lines, totals) for ``ids``, fetched in bulk."""
        client = self.ctx.client
        out: dict[int, dict[str, Any]] = {}
        for start in range(0, len(ids), 100):
            chunk = ids[start : start + 100]
            page = await client.get("orders", {"include": chunk, "per_page": 100})
            for obj in page.data or []:
                if isinstance(obj, dict) and isinstance(obj.get("id"), int):
                    out[obj["id"]] = obj
        for missing in [i for i in ids if i not in out]:  # e.g. trashed: not in listings
            out[missing] = (await client.get(f"orders/{missing}")).data
        return out

    async def accept(
        self,
        pairs: list[tuple[OrderRecord, dict[str, Any]]],
        duplicates: dict[str, list[tuple[int, str]]] | None = None,
    ) -> None:
        """The store has these orders: check each against its sale, record all in one commit.

        ``duplicates`` (uuid -> (store id, number) of every copy) names sales
        the store holds more than once: each is flagged for attention with a
        discrepancy naming the copies. Which copy to cancel is the merchant's
        call: nothing is cancelled here.
        """
        if not pairs:
            return
        ctx = self.ctx
        partial = [
            int(created["id"])
            for _, created in pairs
            if "line_items" not in created or "total" not in created
        ]
        try:
            full = await self._full_orders(partial) if partial else {}
        except (WooError, OSError) as exc:
            # They are in the store; the next lookup finds them again.
            self.retry([o for o, _ in pairs], exc, in_flight=True, sent=False)
            return
        now = ctx.now()
        copies = duplicates or {}
        checked: list[tuple[OrderRecord, dict[str, Any], str | None]] = []
        for order, created in pairs:
            created = full.get(int(created["id"]), created)
            checked.append((order, created, compare_created(order, created)))
        with ctx.db.write() as conn:
            for order, created, differs in checked:
                number = str(created.get("number") or created["id"])
                mark_synced(conn, order.uuid, int(created["id"]), number, now, discrepancy=differs)
                if differs is not None:
                    log_discrepancy(
                        conn, "order", order.uuid, "order", f"total {order.total}",
                        f"order #{number} total {created.get('total')}",
                        f"created differently from the sale: {differs}",
                    )  # fmt: skip
                if order.uuid in copies:
                    record_store_copies(conn, order.uuid, copies[order.uuid], "found by lookup")
        for order, created, differs in checked:
            if differs is None and order.uuid not in copies:
                ctx.report.synced.append(order.uuid)
            else:
                ctx.report.discrepancies.append(order.uuid)
                log.error(
                    "order %s created as #%s with differences: %s",
                    order.uuid, created.get("number"), differs or "held more than once",
                )  # fmt: skip
            for line in order.lines:
                ctx.sold_items.add(line.variation_id or line.product_id)
