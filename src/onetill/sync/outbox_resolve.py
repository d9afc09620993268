"""Settling the fate of orders that may be in the store: the lookup by UUID.

The drain resolves its ``in_flight`` orders here when their lookup time
comes; ``lookup_orders`` does the same now, whatever the timers say, for a
person who asks (``onetill lookup UUID``, ``onetill void`` of an order in
flight).

* **Where to look.** Each in-flight row keeps the store time of its earliest
  send (``first_sent_at`` + ``server_offset_s``): the lookup lists orders
  created since then, less a margin; a row whose store time was never
  measured is searched a day further back (a longer scan beats a duplicate).
* **A minimum age before a resend.** A lookup that finds nothing is not
  enough on an overloaded shared host: PHP-FPM may still hold the POST and
  create the order after the lookup. So a missing order is resent only when
  its latest send is ``min_resend_age`` old by the store's clock; a younger
  one stays in flight (the queue waiting behind it) and is looked up again
  at that age. A send dated after the lookup (the store's clock went back
  since) counts as made at the lookup: the wait restarts from there, once,
  instead of never ending.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from onetill.store.db import Database
from onetill.store.orders import OrderRecord, get_order, parse_ts
from onetill.store.outbox import DUE_NOW, mark_pending, record_store_copies
from onetill.sync.outbox_lookup import lookup_many
from onetill.sync.outbox_outcomes import OutcomeRecorder
from onetill.sync.outbox_policy import DrainContext, drain_lock, error_text
from onetill.woo import Outcome, WooClient, classify
from onetill.woo.errors import WooError

__all__ = ["LOOKUP_MARGIN", "LOOKUP_MARGIN_UNKNOWN_CLOCK", "Fate", "Resolver", "lookup_orders"]

# How far before the first send a lookup looks, on top of the store/till
# clock difference: covers clock drift between measurements and the
# strict, one-second `after` filter.
LOOKUP_MARGIN = timedelta(minutes=10)
# Without any measurement of the store's clock, look back a day.
LOOKUP_MARGIN_UNKNOWN_CLOCK = timedelta(days=1)


class Fate:
    """What a lookup settled about one order."""

    FOUND = "found"  # in the store (recorded synced, or flagged as a copy)
    ABSENT = "absent"  # not in the store, and its latest send is old enough to be resent
    TOO_YOUNG = "too_young"  # not in the store yet; looked up again at ``due_at``
    UNKNOWN = "unknown"  # the lookup itself failed


class Resolver:
    """Looks orders up by UUID for one drain (``ctx``), recording what it learns."""

    def __init__(self, ctx: DrainContext, outcomes: OutcomeRecorder) -> None:
        self.ctx = ctx
        self.outcomes = outcomes
        self.fates: dict[str, str] = {}
        self.due: dict[str, datetime] = {}

    def earliest(self, orders: Sequence[OrderRecord]) -> datetime:
        """The store-clock time before which none of ``orders`` can have been created."""
        skew = self.ctx.client.clock_skew_s
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
                # whole day further back.
                bounds.append(first + timedelta(seconds=skew) - LOOKUP_MARGIN_UNKNOWN_CLOCK)
            else:  # the store sends no Date header at all
                bounds.append(first - LOOKUP_MARGIN_UNKNOWN_CLOCK)
        return min(bounds)

    async def hear_store(self) -> None:
        """Hear the store's ``Date`` once, if the client has not yet (one cheap GET).

        Before a send, so the row records the store's time: a lookup after a
        crash or a lost answer then knows where in the store's time to look,
        and every due time is measured with the store's clock.
        """
        if self.ctx.client.server_now() is None and not self.ctx.clock_probed:
            self.ctx.clock_probed = True
            await self.ctx.client.get("orders", {"per_page": 1, "_fields": "id"})

    async def resolve(self, orders: list[OrderRecord]) -> None:
        """Look the orders up: found -> accepted; missing -> resent once old enough.

        Orders in flight follow the outbox's rules; others (a person asked)
        are recorded as found when the store has them (a voided one, or a
        second copy of a synced one, is flagged instead) and left as they
        are when it does not.
        """
        ctx = self.ctx
        ctx.report.looked_up += len(orders)
        flying = [o for o in orders if o.state == "in_flight"]
        duplicates: dict[str, list[tuple[int, str]]] = {}
        try:
            await self.hear_store()
            started = ctx.now()  # the scan below runs at or after this moment
            found = await lookup_many(
                ctx.client, [o.uuid for o in orders], self.earliest(orders),
                plugin=ctx.plugin, duplicates=duplicates,
            )  # fmt: skip
        except (WooError, OSError) as exc:
            self.fates.update(dict.fromkeys((o.uuid for o in orders), Fate.UNKNOWN))
            if classify(exc) is Outcome.AUTH:
                self.outcomes.pause(flying, exc, in_flight=True)
            else:
                self.outcomes.retry(flying, exc, in_flight=True, sent=False)
            ctx.report.errors.append(f"lookup failed: {error_text(exc)}")
            return
        for order in orders:
            if order.uuid in found:
                self.fates[order.uuid] = Fate.FOUND
        settled = ("synced", "synced_with_discrepancy", "voided")
        hits = [(o, found[o.uuid]) for o in orders if o.uuid in found and o.state not in settled]
        ctx.report.found_by_lookup.extend(o.uuid for o, _ in hits)
        await self.outcomes.accept(hits, duplicates)
        self._flag_copies([o for o in orders if o.state in settled], found, duplicates)
        self._missing([o for o in flying if o.uuid not in found], started)

    def _flag_copies(
        self,
        orders: list[OrderRecord],
        found: dict[str, dict[str, Any]],
        duplicates: dict[str, list[tuple[int, str]]],
    ) -> None:
        """Copies in the store of sales the till already settled (synced or voided)."""
        if not any(o.uuid in found for o in orders):
            return
        with self.ctx.db.write() as conn:
            for order in orders:
                if order.uuid not in found:
                    continue
                hit = found[order.uuid]
                copies = duplicates.get(order.uuid) or [_copy(hit)]
                expected = {order.remote_id} if order.state != "voided" else set()
                if {i for i, _ in copies} != expected:
                    record_store_copies(conn, order.uuid, copies, "found by lookup")

    def _missing(self, orders: list[OrderRecord], looked_at: datetime) -> None:
        """In-flight orders the store does not have: back to the queue, or wait for their age."""
        if not orders:
            return
        ctx = self.ctx
        with ctx.db.write() as conn:
            for order in orders:
                sent = parse_ts(order.in_flight_since or order.first_sent_at or order.created_at)
                restart = sent > looked_at
                if restart:
                    # Sent "after" this lookup: the store's clock (or, for an
                    # old row, the till's) went back since. The send was
                    # surely before now, so its age counts from here.
                    sent = looked_at
                again_at = sent + ctx.min_resend_age
                if again_at <= looked_at:
                    self.fates[order.uuid] = Fate.ABSENT
                    reason = "not in the store after an unknown outcome; sending again"
                    mark_pending(conn, order.uuid, DUE_NOW, reason)
                    continue
                self.fates[order.uuid] = Fate.TOO_YOUNG
                self.due[order.uuid] = again_at
                # FIFO: the row stays in flight, so nothing behind it is sent.
                reason = (
                    "not in the store yet after an unknown outcome; looked up again at "
                    f"{again_at:%H:%M:%S} UTC (store time) before any resend (the store may "
                    "still be working on the request)"
                )
                mark_pending(
                    conn, order.uuid, again_at, reason, in_flight=True,
                    in_flight_since=looked_at if restart else None,
                )  # fmt: skip
                if order.uuid not in ctx.report.retry_later:
                    ctx.report.retry_later.append(order.uuid)
                ctx.report.wait_until(again_at)


async def lookup_orders(
    client: WooClient,
    db: Database,
    uuids: Sequence[str],
    *,
    plugin: bool = False,
    min_resend_age_s: float = 120.0,
    lock_wait_s: float = 10.0,
    then: Callable[[Resolver], None] | None = None,
) -> Resolver | None:
    """Look these orders up in the store now, whatever their timers say.

    For ``onetill lookup`` and ``onetill void`` of an order in flight. Runs
    under the drain lock (so no drainer sends meanwhile), waiting up to
    ``lock_wait_s`` for it; None when another drainer kept it that long.
    The result's ``fates`` says, per UUID, what was settled; ``then`` runs
    with it before the lock is released (a void must not race a resend).
    """
    ctx = DrainContext(
        client, db, plugin=plugin, settle=timedelta(0),
        min_resend_age=timedelta(seconds=min_resend_age_s),
        till_clock=lambda: datetime.now(UTC), rng=random.Random(),
    )  # fmt: skip
    deadline = time.monotonic() + lock_wait_s
    while True:
        with drain_lock(db) as mine:
            if mine:
                with db.lock:
                    orders = [get_order(db.conn, u) for u in uuids]
                resolver = Resolver(ctx, OutcomeRecorder(ctx))
                await resolver.resolve(orders)
                if then is not None:
                    then(resolver)
                return resolver
        if time.monotonic() >= deadline:
            return None
        await asyncio.sleep(0.2)


def _copy(order: dict[str, Any]) -> tuple[int, str]:
    return int(order["id"]), str(order.get("number") or order["id"])
