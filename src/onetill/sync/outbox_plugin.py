"""Uploads through the companion plugin's idempotent ``POST wc-onetill/v1/orders``.

With the plugin, the sale UUID is the ``Idempotency-Key``: the store makes at
most one order per key and answers a repeat with the order it made
(docs/companion-api.md). So an upload whose fate is unknown (a timeout, a
reset, a 5xx: ``AmbiguousWriteError``; an unreadable 2xx) is simply sent
again, at once and without a lookup, the settle time or the minimum resend
age the plain outbox needs. The plugin also sets the order's date from the
sale's ``_onetill_sold_at`` (an offline sale keeps its time).

Answers and what the till does:

* 201 / 200 (replayed) + the order -> accepted as usual (checked against the sale);
* ``409 onetill_idempotency_in_progress`` -> the same request after ``Retry-After``;
* ``422 onetill_idempotency_key_reused`` -> failed, shown under "needs attention":
  the store holds a different order under this UUID (two sales with one UUID);
* ``410 onetill_idempotency_order_deleted`` -> failed, shown: the order this
  sale made was deleted in WooCommerce, and is not made again;
* ``404 rest_no_route`` -> the plugin is gone: nothing was created; the order
  goes back to the queue and the rest of the drain uses plain WooCommerce;
* WooCommerce's own refusals, auth and transient errors -> as the plain outbox.

Only an order whose every send went through the plugin (``plugin_sends ==
attempts``) is resent this way; one sent plainly before keeps the plain rules.
After ``MAX_KEYED_ATTEMPTS`` keyed sends without an answer (a plugin that keeps
failing) the order falls back to plain WooCommerce, which is safe because the
plain rules apply from then on: looked up first, resent only at the minimum age.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from onetill.store.orders import OrderRecord
from onetill.store.outbox import mark_pending
from onetill.sync.outbox_outcomes import OutcomeRecorder
from onetill.sync.outbox_payload import order_payload
from onetill.sync.outbox_policy import DrainContext, backoff_delay, error_text
from onetill.sync.plugin import PLUGIN_NAMESPACE
from onetill.woo import Outcome, classify
from onetill.woo.errors import (
    AmbiguousWriteError,
    NoRouteError,
    UnreadableAnswerError,
    WooAPIError,
    WooError,
)

__all__ = ["MAX_KEYED_ATTEMPTS", "KeyedUploads", "keyed_only"]

log = logging.getLogger("onetill.outbox")

IN_PROGRESS_WAIT_S = 2.0
MAX_KEYED_ATTEMPTS = 5


def keyed_only(order: OrderRecord) -> bool:
    """True when every send of ``order`` was the plugin's idempotent POST."""
    return order.attempts > 0 and order.plugin_sends >= order.attempts


class KeyedUploads:
    """The keyed send, and what each of its answers means (``enabled``: the
    plugin's order route is in use; it turns off when the route disappears)."""

    def __init__(self, ctx: DrainContext, outcomes: OutcomeRecorder, *, enabled: bool) -> None:
        self.ctx = ctx
        self.outcomes = outcomes
        self.enabled = enabled

    def keyed(self, order: OrderRecord) -> bool:
        """Whether ``order`` goes (again) through the plugin's keyed POST."""
        if not self.enabled:
            return False
        if order.plugin_sends < MAX_KEYED_ATTEMPTS:
            return True
        if keyed_only(order):  # stepping back to plain WooCommerce: say so
            log.warning(
                "order %s: the plugin's order route failed %d times; falling back to plain "
                "WooCommerce (looked up first, resent only at the minimum age)",
                order.uuid, order.plugin_sends,
            )  # fmt: skip
        return False

    async def send(self, order: OrderRecord) -> None:
        """POST one order (already marked in flight) with its UUID as the key."""
        ctx = self.ctx
        ctx.report.requests += 1
        try:
            response = await ctx.client.request(
                "POST", "orders", json=order_payload(order), namespace=PLUGIN_NAMESPACE,
                headers={"Idempotency-Key": order.uuid},
            )  # fmt: skip
        except NoRouteError:
            log.warning("the companion plugin is gone: order %s goes plain", order.uuid)
            self.enabled = False
            self.outcomes.requeue([order])
            return
        except (AmbiguousWriteError, UnreadableAnswerError) as exc:
            # The store may have made the order: the same request again is safe.
            self._again(order, exc, backoff_delay(order.attempts + 1, ctx.rng))
            return
        except WooAPIError as exc:
            if self._keyed_refusal(order, exc):
                return
            self._plain_outcome(order, exc)
            return
        except (WooError, OSError) as exc:
            self._plain_outcome(order, exc)
            return
        data: Any = response.data
        if isinstance(data, dict) and type(data.get("id")) is int and data["id"] > 0:
            if response.headers.get("Idempotent-Replayed") == "true":
                ctx.report.found_by_lookup.append(order.uuid)
            await self.outcomes.accept([(order, data)])
        else:
            self._again(order, WooError(f"unusable answer {str(data)[:80]!r}"), 1.0)

    def _keyed_refusal(self, order: OrderRecord, exc: WooAPIError) -> bool:
        """The plugin's own answers about the key; False for anything else."""
        data = exc.data if isinstance(exc.data, dict) else {}
        if exc.status == 409 and exc.code == "onetill_idempotency_in_progress":
            wait = exc.retry_after or data.get("retry_after") or IN_PROGRESS_WAIT_S
            self._again(order, exc, float(wait))
            return True
        if exc.status == 422 and exc.code == "onetill_idempotency_key_reused":
            self._fail_with(order, exc, (
                f"the store already holds a different order (#{data.get('order_id', '?')}) made "
                "with this sale's UUID: two sales share one UUID; compare them in WooCommerce"
            ))  # fmt: skip
            return True
        if exc.status == 410 and exc.code == "onetill_idempotency_order_deleted":
            self._fail_with(order, exc, (
                f"this sale's order (#{data.get('order_id', '?')}) was deleted in WooCommerce; "
                "it is not created again: re-enter the sale there if it should exist"
            ))  # fmt: skip
            return True
        return False

    def _plain_outcome(self, order: OrderRecord, exc: BaseException) -> None:
        # A keyed write may be sent again whatever happened to it, so unlike
        # a plain POST nothing here needs a lookup: ambiguity means "again".
        outcome = classify(exc)
        if outcome is Outcome.AUTH:
            self.outcomes.pause([order], exc, in_flight=False)
        elif outcome is Outcome.TRANSIENT:
            self.outcomes.retry([order], exc, in_flight=False)
        elif outcome is Outcome.AMBIGUOUS:
            self._again(order, exc, backoff_delay(order.attempts + 1, self.ctx.rng))
        else:  # WooCommerce refused the order: nothing was made and the key is free
            self.outcomes.fail(order, exc)

    def _again(self, order: OrderRecord, exc: BaseException, delay_s: float) -> None:
        """Stay in flight; the same keyed request goes again after ``delay_s``."""
        ctx = self.ctx
        at = ctx.now() + timedelta(seconds=min(max(delay_s, 1.0), 300.0))
        with ctx.db.write() as conn:
            mark_pending(conn, order.uuid, at, error_text(exc), in_flight=True)
        ctx.report.retry_later.append(order.uuid)
        ctx.report.wait_until(at)

    def _fail_with(self, order: OrderRecord, exc: WooAPIError, why: str) -> None:
        self.outcomes.fail(order, WooError(f"{why} (HTTP {exc.status} {exc.code})"))
