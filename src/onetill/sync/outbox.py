"""The order outbox drainer: every sale into WooCommerce exactly once, in FIFO order.

The rules, and why:

* **In flight before sending.** Each order is marked ``in_flight`` (and
  committed) before its request leaves. Whatever happens next (a timeout,
  a reset, a 502 from a proxy, ``kill -9``), an ``in_flight`` order is
  *looked up by UUID* before it may be sent again: WooCommerce has no
  idempotency, and the same POST twice makes two orders and reduces stock
  twice.
* **A minimum age before a resend.** A lookup that finds nothing is not
  enough on an overloaded shared host: PHP-FPM may still hold the POST in
  its queue after the proxy answered 504 or the till gave up, and create the
  order after the lookup. So a missing order is resent only when its latest
  unknown-fate send is ``min_resend_age_s`` old (120 s); a younger one is
  looked up again at that age, still in flight, the queue waiting behind it.
  An attempt that provably never reached the store is resent without it.
* **The store's clock first.** Before its first send a drain hears the
  store's ``Date`` (one cheap GET if the client has heard none), and each
  in-flight row keeps the store-minus-till offset of its earliest send: the
  lookup's ``after`` is store time, and a till clock corrected between the
  send and the lookup must not move the window past the order.
* **FIFO.** The queue head blocks the rest: nothing behind an order whose
  fate is unknown or that waits for its retry time is sent, so the store
  receives sales in the order they were made. A permanent refusal
  (``failed``) steps out of the way; the queue moves on.
* **One drainer.** An OS file lock next to the database makes a second
  drainer (a CLI ``drain`` beside the engine) back off: two drainers would
  look up each other's requests mid-flight and resend them. The kernel drops
  the lock when a process dies, even by ``kill -9``.
* **Outcomes** come from :func:`onetill.woo.classify`: success -> check the
  created order, ``synced`` (or ``synced_with_discrepancy``, never resent);
  transient -> backoff with full jitter (1 s doubling to 5 minutes),
  ``Retry-After`` honoured, persisted; permanent -> ``failed`` with the
  store's message; auth -> the queue pauses until the keys are fixed.
  The handlers that record each outcome are in ``outbox_outcomes.py``.
* **WooCommerce wins** on stock: after an upload the sold items' stock is
  read back (``sync.stock.refresh_stock``) and differences are logged.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from onetill.store.db import Database
from onetill.store.orders import (
    OrderRecord,
    due_pending,
    in_flight_orders,
    list_orders,
    mark_in_flight,
    mark_pending,
    parse_ts,
)
from onetill.sync.outbox_lookup import lookup_many
from onetill.sync.outbox_payload import order_payload
from onetill.sync.outbox_plugin import IdempotentUploads, keyed_only
from onetill.sync.outbox_policy import (
    PAUSE_KEY,
    DrainReport,
    backoff_delay,
    batch_results,
    drain_lock,
    error_text,
    paused_reason,
    resume_queue,
)
from onetill.woo import Outcome, WooClient, classify
from onetill.woo.errors import PayloadError, WooAPIError, WooError
from onetill.woo.models import OrderCreate, decode

__all__ = [
    "PAUSE_KEY",
    "DrainReport",
    "backoff_delay",
    "drain",
    "paused_reason",
    "resume_queue",
]

# How far before the first send a lookup looks, on top of the store/till
# clock difference: covers clock drift between measurements and the
# strict, one-second `after` filter.
LOOKUP_MARGIN = timedelta(minutes=10)
# Without any measurement of the store's clock, look back a day.
LOOKUP_MARGIN_UNKNOWN_CLOCK = timedelta(days=1)


class _Drainer(IdempotentUploads):
    """One drain: the queue walked in FIFO order, one send or lookup at a time."""

    # -- steps ------------------------------------------------------------

    def _earliest(self, orders: list[OrderRecord]) -> datetime:
        """The store-clock time before which none of ``orders`` can have been created."""
        skew = self.client.clock_skew_s
        bounds: list[datetime] = []
        for order in orders:
            first = parse_ts(order.first_sent_at or order.created_at)
            if order.server_offset_s is not None:
                # The store's clock as measured when the order was sent.
                offset = timedelta(seconds=order.server_offset_s)
                bounds.append(first + offset - LOOKUP_MARGIN)
            elif skew is not None:
                # Sent before the store's clock was known: today's difference
                # says nothing about a till clock corrected since, so look a
                # whole day further back (a longer scan beats a duplicate).
                bounds.append(first + timedelta(seconds=skew) - LOOKUP_MARGIN_UNKNOWN_CLOCK)
            else:  # the store sends no Date header at all
                bounds.append(first - LOOKUP_MARGIN_UNKNOWN_CLOCK)
        return min(bounds)

    async def _measure_store_clock(self) -> None:
        """Hear the store's ``Date`` once, if the client has not yet (one cheap GET).

        Before a send, so the row records the store's clock: a lookup after a
        crash or lost answer then knows where in the store's time to look,
        even if the till's clock is corrected in between.
        """
        if self.client.clock_skew_s is None and not self.clock_probed:
            self.clock_probed = True
            await self.client.get("orders", {"per_page": 1, "_fields": "id"})

    async def resolve_in_flight(self, orders: list[OrderRecord]) -> None:
        """Look the orders up by UUID: found -> accepted; missing -> back to the queue."""
        self.report.looked_up += len(orders)
        started = self.clock()  # the scan below runs at or after this moment
        try:
            if any(o.server_offset_s is None for o in orders):
                await self._measure_store_clock()
            duplicates: dict[str, list[int]] = {}
            found = await lookup_many(
                self.client, [o.uuid for o in orders], self._earliest(orders),
                plugin=self.plugin, duplicates=duplicates,
            )  # fmt: skip
        except (WooError, OSError) as exc:
            outcome = classify(exc)
            if outcome is Outcome.AUTH:
                self._pause(orders, exc, in_flight=True)
            else:
                self._retry(orders, exc, in_flight=True, sent=False)
            return
        hits = [(o, found[o.uuid]) for o in orders if o.uuid in found]
        self.report.found_by_lookup.extend(o.uuid for o, _ in hits)
        await self._accept(hits, duplicates)
        now = self.clock()
        with self.db.write() as conn:
            for order in orders:
                if order.uuid in found:
                    continue
                again_at = self._too_young_to_resend(order, started)
                if again_at is None:
                    reason = "not in the store after an unknown outcome; sending again"
                    mark_pending(conn, order.uuid, now, reason)
                    continue
                # FIFO: the row stays in flight, so nothing behind it is sent.
                reason = (
                    "not in the store yet after an unknown outcome; looked up again at "
                    f"{again_at:%H:%M:%S} UTC before any resend (the store may still be "
                    "working on the request)"
                )
                mark_pending(conn, order.uuid, again_at, reason, in_flight=True)
                if order.uuid not in self.report.retry_later:
                    self.report.retry_later.append(order.uuid)
                if self.report.next_attempt_at is None or again_at < self.report.next_attempt_at:
                    self.report.next_attempt_at = again_at

    def _too_young_to_resend(self, order: OrderRecord, looked_at: datetime) -> datetime | None:
        """When to look again, if the order's unknown-fate send is younger than the minimum age.

        An overloaded host can keep a POST in PHP-FPM's queue after the proxy
        answered 504 or the client gave up, and create the order minutes
        later: a lookup soon after the send proves nothing. ``in_flight_since``
        is the latest send (every earlier unknown-fate send is older), so once
        it is old enough, so are they all. A send that provably never reached
        the store (refused connection, 429, 4xx) left the row ``pending_sync``
        and is resent without any lookup, so this rule never delays it.
        """
        if self.min_resend_age <= timedelta(0):
            return None
        sent = parse_ts(order.in_flight_since or order.first_sent_at or order.created_at)
        # A till clock set back since the send must not stretch the wait without
        # bound: never more than the whole minimum age from this lookup.
        due = min(sent + self.min_resend_age, looked_at + self.min_resend_age)
        return due if due > looked_at else None

    async def send(self, orders: list[OrderRecord]) -> None:
        """Upload the orders (one POST, or one batch), already marked in flight."""
        payloads = [order_payload(o) for o in orders]
        self.report.requests += 1
        try:
            if len(orders) == 1:
                response = await self.client.post("orders", json=payloads[0])
                results: list[tuple[dict[str, Any] | None, WooAPIError | None]] = [
                    (response.data, None)
                ]
            else:
                # Posted directly, not through WooClient.batch: its request
                # model drops fields equal to their defaults, and an order
                # without `status: completed` / `set_paid: true` would be
                # created pending, with no stock reduced.
                response = await self.client.post("orders/batch", json={"create": payloads})
                results = batch_results(response.data, len(payloads))
        except (WooError, OSError) as exc:
            outcome = classify(exc)
            if isinstance(exc, PayloadError):
                outcome = Outcome.AMBIGUOUS  # the answer was unusable, the request went through
            if outcome is Outcome.AMBIGUOUS:
                self._retry(orders, exc, in_flight=True)
            elif outcome is Outcome.AUTH:
                self._pause(orders, exc, in_flight=False)
            elif outcome is Outcome.TRANSIENT:
                self._retry(orders, exc, in_flight=False)
            elif len(orders) == 1:
                self._fail(orders[0], exc)
            else:
                # The whole batch was refused: send one by one to learn which.
                self.batch_size = 1
                self._requeue(orders)
            return
        accepted: list[tuple[OrderRecord, dict[str, Any]]] = []
        for order, (data, error) in zip(orders, results, strict=False):
            if error is not None:
                outcome = classify(error)
                if error.status >= 500:
                    # WooCommerce saves the order, then completes the payment:
                    # an error raised in between is reported for an order that
                    # exists. Only a 4xx proves nothing was created.
                    self._retry([order], error, in_flight=True)
                elif outcome is Outcome.TRANSIENT:
                    self._retry([order], error, in_flight=False)
                elif outcome is Outcome.AUTH:
                    self._pause([order], error, in_flight=False)
                else:
                    self._fail(order, error)
            elif isinstance(data, dict) and isinstance(data.get("id"), int) and data["id"] > 0:
                accepted.append((order, data))
            else:
                # 2xx without an order: we cannot tell what happened; look it up.
                unusable = WooError(f"unusable answer {str(data)[:80]!r}")
                self._retry([order], unusable, in_flight=True)
        if len(results) < len(orders):
            missing = orders[len(results) :]
            self._retry(missing, WooError("the batch answer left orders out"), in_flight=True)
        await self._accept(accepted)

    async def run(self, max_rounds: int) -> None:
        for _ in range(max_rounds):
            if self.report.paused:
                return
            now = self.clock()
            with self.db.lock:  # the connection may be shared with a till screen thread
                in_flight = in_flight_orders(self.db.conn)
            if in_flight:
                due = [o for o in in_flight if parse_ts(o.next_attempt_at) <= now]
                if len(due) < len(in_flight):
                    waits = [parse_ts(o.next_attempt_at) for o in in_flight]
                    self.report.next_attempt_at = min(waits)
                    if not due:
                        return
                # Sent only through the plugin: the same keyed request again is the
                # lookup (the plugin answers with the order the key made, if any).
                keyed = [o for o in due if self.keyed(o) and keyed_only(o)]
                for order in keyed:
                    self._mark_sent([order], keyed=True)
                    await self.send_keyed(order)
                rest = [o for o in due if o not in keyed]
                if rest:
                    await self.resolve_in_flight(rest)
                continue
            with self.db.lock:
                size = 1 if self.idempotent else self.batch_size  # the plugin takes one order
                batch = due_pending(self.db.conn, now, size)
                # Nothing due: when the head comes due (only then worth a query).
                head = [] if batch else list_orders(self.db.conn, ["pending_sync"], limit=1)
            if not batch:
                if head:
                    self.report.next_attempt_at = parse_ts(head[0].next_attempt_at)
                return
            good: list[OrderRecord] = []
            for order in batch:
                try:
                    decode(OrderCreate, order_payload(order), what=f"order {order.uuid}")
                except PayloadError as exc:
                    self._fail(order, exc)
                    continue
                good.append(order)
            if not good:
                continue
            try:
                await self._measure_store_clock()
            except (WooError, OSError) as exc:  # nothing was sent: an ordinary retry
                if classify(exc) is Outcome.AUTH:
                    self._pause(good, exc, in_flight=False)
                else:
                    self._retry(good, exc, in_flight=False, sent=False)
                return
            if self.keyed(good[0]):
                self._mark_sent(good, keyed=True)
                await self.send_keyed(good[0])
            else:
                self._mark_sent(good, keyed=False)
                await self.send(good)

    def _mark_sent(self, orders: list[OrderRecord], *, keyed: bool) -> None:
        sent_at = self.clock()
        # After a crash nobody waits for the answer: the lookup must not come
        # before the request could have timed out and settled, exactly as the
        # live path would wait. A keyed (plugin) send may simply go again.
        after = sent_at if keyed else (
            sent_at + self.settle + timedelta(seconds=self.client.timeout_s)
        )
        with self.db.write() as conn:
            mark_in_flight(
                conn, [o.uuid for o in orders], sent_at, self.client.clock_skew_s,
                lookup_after=after, via_plugin=keyed,
            )  # fmt: skip

    async def refresh_sold_stock(self) -> None:
        if not self.sold_items:
            return
        try:
            from onetill.sync.stock import refresh_stock

            cause = "order uploaded: store stock read back"
            await refresh_stock(self.client, self.db, sorted(self.sold_items), cause)
        except (WooError, OSError) as exc:  # the orders are safe; stock catches up on delta sync
            self.report.errors.append(f"stock read-back failed: {error_text(exc)}")


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
    ``plugin``: look sales up with the companion plugin's ``orders/by-uuid``;
    ``idempotent``: upload them through its keyed ``POST orders``
    (``outbox_plugin.py``), one order a request.
    """
    if not 1 <= batch_size <= 100:
        raise ValueError(f"batch_size must be 1..100 (WooCommerce's batch limit), not {batch_size}")
    if min_resend_age_s < 0:
        raise ValueError(f"min_resend_age_s must be 0 or more seconds, not {min_resend_age_s}")
    drainer = _Drainer(
        client,
        db,
        batch_size=batch_size,
        plugin=plugin,
        idempotent=idempotent,
        settle_s=settle_s,
        min_resend_age_s=min_resend_age_s,
        clock=clock or (lambda: datetime.now(UTC)),
        rng=rng or random.Random(),
    )
    with drain_lock(db) as mine:
        if not mine:
            drainer.report.busy = True
            return drainer.report
        reason = paused_reason(db)
        if reason is not None:
            if not force:
                drainer.report.paused = reason
                return drainer.report
            resume_queue(db)
        await drainer.run(max_rounds)
        if not drainer.report.paused:
            # Refunds after the orders: a refund needs its sale in the store.
            from onetill.sync.outbox_refunds import drain_refunds

            restocked = await drain_refunds(
                client, db, drainer.report, clock=drainer.clock, rng=drainer.rng,
                settle_s=settle_s, min_resend_age_s=min_resend_age_s,
            )  # fmt: skip
            drainer.sold_items |= restocked
        if refresh:
            await drainer.refresh_sold_stock()
    return drainer.report
