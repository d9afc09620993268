"""The order outbox drainer: every sale into WooCommerce exactly once, in FIFO order.

The rules, and why:

* **In flight before sending.** Each order is marked ``in_flight`` (and
  committed) before its request leaves. Whatever happens next (a timeout,
  a reset, a 502 from a proxy, any 401/403, an exception we do not know,
  ``kill -9``), an ``in_flight`` order is *looked up by UUID* before it may
  be sent again: WooCommerce has no idempotency, and the same POST twice
  makes two orders and reduces stock twice.
* **A minimum age before a resend.** A lookup that finds nothing is not
  enough on an overloaded shared host (``outbox_resolve.py``): a missing
  order is resent only when its latest send is ``min_resend_age_s`` old by
  the store's clock. An attempt that provably never reached the store is
  resent without it.
* **The store's clock, never the till's.** Every due time and age is store
  time (``DrainContext.now``: the last ``Date`` heard, advanced by a
  monotonic clock), so an RTC kept in local time and then corrected by NTP,
  in either direction, neither stalls the queue nor ends a wait early.
  Before it acts a drain hears the store's ``Date`` (one cheap GET if the
  client has heard none). A due time beyond any wait the outbox schedules
  (``DrainContext.horizon``) counts as due: it was written by a clock that
  has been corrected since.
* **FIFO.** The queue head blocks the rest: nothing behind an order whose
  fate is unknown or that waits for its retry time is sent, so the store
  receives sales in the order they were made. A permanent refusal
  (``failed``) steps out of the way; the queue moves on.
* **One drainer.** An OS file lock next to the database makes a second
  drainer (a CLI ``drain`` beside the engine) back off: two drainers would
  look up each other's requests mid-flight and resend them. The kernel drops
  the lock when a process dies, even by ``kill -9``.
* **Outcomes** come from :func:`onetill.woo.classify` (``write=True`` for a
  send): success -> check the created order, ``synced`` (or
  ``synced_with_discrepancy``, never resent); transient -> the queue's
  backoff, ``Retry-After`` honoured, persisted; ambiguous -> look up;
  permanent -> ``failed`` with the store's message; keys refused (a 401/403,
  unless the till's clock explains it) -> the queue pauses, the order in
  flight, until the keys are fixed. The handlers that record each outcome
  are in ``outbox_outcomes.py``, the lookups in ``outbox_resolve.py``.
* **WooCommerce wins** on stock: after an upload the sold items' stock is
  read back (``sync.stock.refresh_stock``) and differences are logged.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from onetill.store.db import Database
from onetill.store.orders import OrderRecord, list_orders, parse_ts
from onetill.store.outbox import (
    DUE_NOW,
    due_pending,
    in_flight_orders,
    mark_in_flight,
    next_due_times,
    note_queue_head,
    waiting_orders,
)
from onetill.store.sync_state import set_state
from onetill.sync.outbox_outcomes import OutcomeRecorder
from onetill.sync.outbox_payload import order_payload
from onetill.sync.outbox_plugin import KeyedUploads, keyed_only
from onetill.sync.outbox_policy import (
    LAST_CONTACT_KEY,
    PAUSE_KEY,
    SKEW_KEY,
    DrainContext,
    DrainReport,
    Waiting,
    backoff_delay,
    batch_results,
    drain_lock,
    error_text,
    paused_reason,
    resume_queue,
)
from onetill.sync.outbox_resolve import Resolver
from onetill.woo import Outcome, WooClient, classify
from onetill.woo.errors import AmbiguousWriteError, PayloadError, WooError
from onetill.woo.models import OrderCreate, decode

__all__ = [
    "PAUSE_KEY",
    "DrainReport",
    "backoff_delay",
    "drain",
    "paused_reason",
    "resume_queue",
]


class _Drainer:
    """One drain: the queue walked in FIFO order, one send or lookup at a time."""

    def __init__(self, ctx: DrainContext, batch_size: int, *, idempotent: bool) -> None:
        self.ctx = ctx
        self.batch_size = batch_size
        self.outcomes = OutcomeRecorder(ctx)
        self.resolver = Resolver(ctx, self.outcomes)
        self.keyed = KeyedUploads(ctx, self.outcomes, enabled=idempotent)

    async def send(self, orders: list[OrderRecord]) -> None:
        """Upload the orders (one POST, or one batch), already marked in flight."""
        ctx, outcomes = self.ctx, self.outcomes
        payloads = [order_payload(o) for o in orders]
        ctx.report.requests += 1
        try:
            if len(orders) == 1:
                response = await ctx.client.post("orders", json=payloads[0])
                results: list[tuple[dict[str, Any] | None, WooError | None]] = [
                    (response.data, None)
                ]
            else:
                # Posted directly, not through WooClient.batch: its request
                # model drops fields equal to their defaults, and an order
                # without `status: completed` / `set_paid: true` would be
                # created pending, with no stock reduced.
                response = await ctx.client.post("orders/batch", json={"create": payloads})
                results = batch_results(response.data, len(payloads))
        except Exception as exc:  # the request may have left: anything unknown is ambiguous
            self._failed_send(orders, exc)
            return
        accepted: list[tuple[OrderRecord, dict[str, Any]]] = []
        for order, (data, error) in zip(orders, results, strict=False):
            if error is not None:
                self._failed_send([order], error, single=True)
            elif isinstance(data, dict) and isinstance(data.get("id"), int) and data["id"] > 0:
                accepted.append((order, data))
            else:
                # 2xx without an order: we cannot tell what happened; look it up.
                unusable = WooError(f"unusable answer {str(data)[:80]!r}")
                outcomes.retry([order], unusable, in_flight=True)
        if len(results) < len(orders):
            missing = orders[len(results) :]
            outcomes.retry(missing, WooError("the batch answer left orders out"), in_flight=True)
        await outcomes.accept(accepted)

    def _failed_send(
        self, orders: list[OrderRecord], exc: BaseException, *, single: bool = False
    ) -> None:
        outcomes = self.outcomes
        outcome = classify(exc, write=True)
        if outcome is Outcome.AMBIGUOUS:
            if isinstance(exc, AmbiguousWriteError) and exc.keys_refused:
                # Refused keys, or a replayed copy that got there first: the
                # codes are the same. Pause, and look the order up first.
                outcomes.pause(orders, exc, in_flight=True)
            else:
                outcomes.retry(orders, exc, in_flight=True)
        elif outcome is Outcome.TRANSIENT:
            outcomes.retry(orders, exc, in_flight=False)
        elif len(orders) == 1 or single:
            for order in orders:
                outcomes.fail(order, exc)
        else:
            # The whole batch was refused: send one by one to learn which.
            self.batch_size = 1
            outcomes.requeue(orders)

    async def _hear_store(self, orders: list[OrderRecord]) -> bool:
        """Make sure the store's clock is known before anything is decided."""
        try:
            await self.resolver.hear_store()
        except (WooError, OSError) as exc:  # nothing was sent
            if classify(exc) is Outcome.AUTH:
                self.outcomes.pause([], exc, in_flight=False)
            else:
                self.outcomes.unreachable(orders, exc)
            return False
        return True

    async def run(self, max_rounds: int) -> None:
        ctx = self.ctx
        for _ in range(max_rounds):
            if ctx.report.paused:
                return
            with ctx.db.lock:  # the connection may be shared with a till screen thread
                in_flight = in_flight_orders(ctx.db.conn)
                head = [] if in_flight else list_orders(ctx.db.conn, ["pending_sync"], limit=1)
            if not in_flight and not head:
                return
            if not await self._hear_store(in_flight or head):
                return
            now = ctx.now()
            if in_flight:
                due = [o for o in in_flight if ctx.is_due(o.next_attempt_at, now)]
                for order in in_flight:
                    if order not in due:
                        ctx.report.wait_until(parse_ts(order.next_attempt_at))
                if not due:
                    return
                # Sent only through the plugin: the same keyed request again is the
                # lookup (the plugin answers with the order the key made, if any).
                keyed = [o for o in due if self.keyed.keyed(o) and keyed_only(o)]
                for order in keyed:
                    self._mark_sent([order], keyed=True)
                    await self.keyed.send(order)
                rest = [o for o in due if o not in keyed]
                if rest:
                    await self.resolver.resolve(rest)
                continue
            size = 1 if self.keyed.enabled else self.batch_size  # the plugin takes one order
            with ctx.db.lock:
                batch = due_pending(ctx.db.conn, now, size, horizon=now + ctx.horizon)
            if not batch:
                ctx.report.wait_until(parse_ts(head[0].next_attempt_at))
                return
            good: list[OrderRecord] = []
            for order in batch:
                try:
                    decode(OrderCreate, order_payload(order), what=f"order {order.uuid}")
                except PayloadError as exc:
                    self.outcomes.fail(order, exc)
                    continue
                good.append(order)
            if not good:
                continue
            if self.keyed.keyed(good[0]):
                self._mark_sent(good[:1], keyed=True)
                await self.keyed.send(good[0])
                if len(good) > 1:  # the plugin route just went away mid-batch
                    self.outcomes.requeue(good[1:])
            else:
                self._mark_sent(good, keyed=False)
                await self.send(good)

    def _mark_sent(self, orders: list[OrderRecord], *, keyed: bool) -> None:
        ctx = self.ctx
        sent_at = ctx.now()
        # After a crash nobody waits for the answer: the lookup must not come
        # before the request could have timed out and settled, exactly as the
        # live path would wait. A keyed (plugin) send may simply go again.
        after = sent_at if keyed else (
            sent_at + ctx.settle + timedelta(seconds=ctx.client.timeout_s)
        )
        with ctx.db.write() as conn:
            mark_in_flight(
                conn, [o.uuid for o in orders], sent_at, ctx.store_offset_s,
                lookup_after=after, via_plugin=keyed,
            )  # fmt: skip

    async def refresh_sold_stock(self) -> None:
        if not self.ctx.sold_items:
            return
        try:
            from onetill.sync.stock import refresh_stock

            cause = "order uploaded: store stock read back"
            await refresh_stock(self.ctx.client, self.ctx.db, sorted(self.ctx.sold_items), cause)
        except (WooError, OSError) as exc:  # the orders are safe; stock catches up on delta sync
            self.ctx.report.errors.append(f"stock read-back failed: {error_text(exc)}")

    def finish(self) -> None:
        """Note what still waits, the head of the queue and the last contact (store time)."""
        ctx = self.ctx
        heard = ctx.client.last_heard_at
        now = ctx.now()
        with ctx.db.write() as conn:
            note_queue_head(conn, now)
            if heard is not None:
                set_state(conn, LAST_CONTACT_KEY, heard.isoformat().replace("+00:00", "Z"))
            if ctx.client.clock_skew_s is not None:  # for a status read without an engine
                set_state(conn, SKEW_KEY, f"{ctx.client.clock_skew_s:.0f}")
            rows = waiting_orders(conn)
            due = next_due_times(conn)
        ctx.report.waiting = [
            Waiting(
                o.uuid, o.state,
                None if o.next_attempt_at == DUE_NOW else parse_ts(o.next_attempt_at),
                o.last_error,
            )
            for o in rows
        ]  # fmt: skip
        if ctx.report.retry_in_s is not None or ctx.report.paused or not due:
            return  # the store could not be heard (the wait is set), paused, or nothing left
        # When to call again: the earliest time a row waits for (a time beyond
        # the horizon is due now, as the next drain will treat it).
        nxt = min(now if at > now + ctx.horizon else at for at in due)
        ctx.report.next_attempt_at = nxt
        ctx.report.retry_in_s = max(0.0, (nxt - now).total_seconds())


async def drain(
    client: WooClient,
    db: Database,
    *,
    batch_size: int = 10,
    plugin: bool = False,
    idempotent: bool = False,
    force: bool = False,
    settle_s: float = 30.0,
    min_resend_age_s: float = 120.0,
    refresh: bool = True,
    max_rounds: int = 10_000,
    clock: Callable[[], datetime] | None = None,
    rng: random.Random | None = None,
) -> DrainReport:
    """Upload what is due, in FIFO order; returns what happened.

    ``batch_size`` orders go per ``/orders/batch`` request (1 = one POST per
    order). ``settle_s``: after an unknown outcome, wait this long before
    the lookup, so a store still finishing the request is not missed.
    ``min_resend_age_s``: an order whose fate is unknown and that the lookup
    does not find is resent only once its latest send is at least this old
    (until then it is looked up again, and the queue behind it waits): an
    overloaded host may create it later than the lookup.
    ``force`` ignores an auth pause (a person asked to try now).
    ``clock`` is the till's clock, used only when the store sends no ``Date``.
    ``plugin``: look sales up with the companion plugin's ``orders/by-uuid``;
    ``idempotent``: upload them through its keyed ``POST orders``
    (``outbox_plugin.py``), one order a request.
    """
    if not 1 <= batch_size <= 100:
        raise ValueError(f"batch_size must be 1..100 (WooCommerce's batch limit), not {batch_size}")
    if min_resend_age_s < 0:
        raise ValueError(f"min_resend_age_s must be 0 or more seconds, not {min_resend_age_s}")
    ctx = DrainContext(
        client, db, plugin=plugin, settle=timedelta(seconds=settle_s),
        min_resend_age=timedelta(seconds=min_resend_age_s),
        till_clock=clock or (lambda: datetime.now(UTC)), rng=rng or random.Random(),
    )  # fmt: skip
    drainer = _Drainer(ctx, batch_size, idempotent=idempotent)
    with drain_lock(db) as mine:
        if not mine:
            ctx.report.busy = True
            return ctx.report
        reason = paused_reason(db)
        if reason is not None:
            if not force:
                ctx.report.paused = reason
                return ctx.report
            resume_queue(db)
        await drainer.run(max_rounds)
        if not ctx.report.paused:
            # Refunds after the orders: a refund needs its sale in the store.
            from onetill.sync.outbox_refunds import drain_refunds

            restocked = await drain_refunds(
                client, db, ctx.report, clock=ctx.now, rng=ctx.rng,
                settle_s=settle_s, min_resend_age_s=min_resend_age_s, horizon=ctx.horizon,
            )  # fmt: skip
            ctx.sold_items |= restocked
        if refresh:
            await drainer.refresh_sold_stock()
        drainer.finish()
    return ctx.report
