"""The outbox's second kind of work: WooCommerce refunds, drained after the orders.

A refund is sent only once its sale is in the store (the order's remote
id is known), FIFO by refund. ``POST orders/{id}/refunds`` with
``api_refund: false`` (the money went back through Stripe, or in cash: the
store must not call a gateway) and ``api_restock`` for returned lines
(WooCommerce 11's flag; it defaults to true). The refund carries its UUID
in ``meta_data`` (``_onetill_refund_uuid``): like orders, WooCommerce has
no idempotency, so a refund whose POST may have reached the store is
looked up in ``GET orders/{id}/refunds`` before it is ever sent again, and
resent only once its send is ``min_resend_age_s`` old.

Line amounts come from the store's own order (its line totals and per-rate
taxes), scaled to the quantity returned.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from onetill.store.db import Database
from onetill.store.order_records import format_ts
from onetill.store.orders import OrderRecord, get_order, parse_ts
from onetill.store.refunds import RefundRecord, due_refunds, update_refund
from onetill.store.sync_state import set_state
from onetill.sync.outbox_payload import meta_value
from onetill.sync.outbox_policy import PAUSE_KEY, DrainReport, backoff_delay, error_text
from onetill.woo import Outcome, WooClient, classify
from onetill.woo.errors import AmbiguousWriteError, WooError

__all__ = ["META_REFUND_UUID", "drain_refunds", "refund_payload"]

META_REFUND_UUID = "_onetill_refund_uuid"
META_STRIPE_REFUND = "_stripe_refund_id"


def _scaled(value: Any, part: int, whole: int) -> str:
    amount = Decimal(str(value or "0"))
    exponent = amount.as_tuple().exponent
    q = Decimal(1).scaleb(exponent if isinstance(exponent, int) and exponent < 0 else -2)
    return str((abs(amount) * part / whole).quantize(q, rounding=ROUND_HALF_UP))


def refund_payload(
    refund: RefundRecord, order: OrderRecord, remote: dict[str, Any] | None
) -> dict[str, Any]:
    """The ``POST orders/{id}/refunds`` body (``remote``: the store's order, for lines)."""
    meta = [{"key": META_REFUND_UUID, "value": refund.uuid}]
    if refund.stripe_refund_id:
        meta.append({"key": META_STRIPE_REFUND, "value": refund.stripe_refund_id})
    body: dict[str, Any] = {
        "amount": refund.amount,
        "reason": refund.reason,
        "api_refund": False,
        "api_restock": bool(refund.returned),
        "meta_data": meta,
    }
    if refund.returned and remote is not None:
        unused = [x for x in remote.get("line_items") or [] if isinstance(x, dict)]
        items = []
        for ret in refund.returned:
            line = next(x for x in order.lines if x.line_no == ret["line_no"])
            match = next(
                (x for x in unused if x.get("product_id") == line.product_id
                 and int(x.get("variation_id") or 0) == line.variation_id), None,
            )  # fmt: skip
            if match is None:
                continue
            unused.remove(match)
            whole = int(match.get("quantity") or line.quantity) or 1
            items.append({
                "id": match["id"],
                "quantity": ret["quantity"],
                "refund_total": _scaled(match.get("total"), ret["quantity"], whole),
                "refund_tax": [
                    {"id": t["id"], "refund_total": _scaled(t.get("total"), ret["quantity"], whole)}
                    for t in match.get("taxes") or [] if isinstance(t, dict)
                ],
            })  # fmt: skip
        body["line_items"] = items
    return body


async def _find(client: WooClient, remote_id: int, uuid: str) -> dict[str, Any] | None:
    answer = await client.get(f"orders/{remote_id}/refunds", {"per_page": 100})
    for refund in answer.data or []:
        if isinstance(refund, dict) and meta_value(refund, META_REFUND_UUID) == uuid:
            return refund
    return None


async def drain_refunds(
    client: WooClient,
    db: Database,
    report: DrainReport,
    *,
    clock: Callable[[], datetime],
    rng: random.Random,
    settle_s: float,
    min_resend_age_s: float,
    horizon: timedelta,
) -> set[int]:
    """Send (or look up) every due refund; returns the stock items to read back.

    ``clock`` is the drain's (the store's time); a due time further ahead
    than ``horizon`` was written under a clock since corrected and is due now.
    """
    restocked: set[int] = set()
    with db.lock:
        now = clock()
        due = due_refunds(db.conn, now, horizon=now + horizon)
    for refund in due:
        with db.lock:
            order = get_order(db.conn, refund.order_uuid)
        remote_id = order.remote_id
        assert remote_id is not None
        was_in_flight, posted = refund.state == "in_flight", False
        try:
            if refund.state == "in_flight":
                found = await _find(client, remote_id, refund.uuid)
                if found is not None:
                    _synced(db, refund, found, clock, report)
                    restocked |= _items(order, refund)
                    continue
                sent = parse_ts(refund.in_flight_since or refund.next_attempt_at)
                again = sent + timedelta(seconds=min_resend_age_s)
                if clock() < again <= clock() + horizon:
                    with db.write() as conn:
                        update_refund(conn, refund.uuid, next_attempt_at=format_ts(again))
                    report.wait_until(again)
                    continue
            remote = (await client.get(f"orders/{remote_id}")).data if refund.returned else None
            body = refund_payload(refund, order, remote if isinstance(remote, dict) else None)
            now = clock()
            with db.write() as conn:
                refund = update_refund(conn, refund.uuid, state="in_flight",
                                       in_flight_since=format_ts(now),
                                       attempts=refund.attempts + 1)  # fmt: skip
            posted = True
            answer = await client.post(f"orders/{remote_id}/refunds", json=body)
        except (WooError, OSError) as exc:
            # After the POST left, anything that does not prove the store refused
            # it is ambiguous (a 401/403 too: a copy may have got through).
            outcome = classify(exc, write=posted)
            keys_refused = isinstance(exc, AmbiguousWriteError) and exc.keys_refused
            if outcome is Outcome.AUTH or keys_refused:  # the refund stays as it was
                # (in flight when it was sent: looked up before any resend)
                with db.write() as conn:
                    reason = f"WooCommerce rejected the API keys: {error_text(exc)}"
                    set_state(conn, PAUSE_KEY, reason)
                report.paused = "WooCommerce rejected the API keys"
                return restocked
            if outcome is Outcome.PERMANENT:  # refused (4xx): nothing was made
                with db.write() as conn:
                    update_refund(conn, refund.uuid, state="failed", last_error=error_text(exc))
                report.refunds_failed.append(refund.uuid)
                continue
            # Unknown fate: a POST that may have arrived, or an earlier one not yet
            # found: stays in flight (looked up before any resend).
            ambiguous = posted and outcome is Outcome.AMBIGUOUS
            unknown = ambiguous or (was_in_flight and not posted)
            delay = settle_s if ambiguous else backoff_delay(max(1, refund.attempts), rng)
            at = clock() + timedelta(seconds=delay)
            with db.write() as conn:
                update_refund(conn, refund.uuid, next_attempt_at=format_ts(at),
                              state="in_flight" if unknown else "pending_sync",
                              last_error=error_text(exc))  # fmt: skip
            report.wait_until(at)
            continue
        data = answer.data if isinstance(answer.data, dict) else {}
        _synced(db, refund, data, clock, report)
        restocked |= _items(order, refund)
    return restocked


def _items(order: OrderRecord, refund: RefundRecord) -> set[int]:
    lines = {x.line_no: x for x in order.lines}
    return {lines[r["line_no"]].stock_item_id for r in refund.returned if r["line_no"] in lines}


def _synced(
    db: Database,
    refund: RefundRecord,
    data: dict[str, Any],
    clock: Callable[[], datetime],
    report: DrainReport,
) -> None:
    remote = data.get("id") if isinstance(data.get("id"), int) else None
    with db.write() as conn:
        update_refund(conn, refund.uuid, state="synced", remote_id=remote, last_error=None,
                      synced_at=format_ts(clock()))  # fmt: skip
    report.refunds_synced.append(refund.uuid)
