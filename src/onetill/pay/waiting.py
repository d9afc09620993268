"""Waiting for the reader: poll it with backoff, wake early on a webhook, never assume.

Each round reads the reader (its action, with the PaymentIntent and its
charge expanded: one request). The action still ``in_progress`` -> wait a
little longer (0.3 s growing to ``poll_max_s``); ``succeeded``/``failed``
or gone -> the PaymentIntent decides. A verified ``terminal.reader.
action_*`` webhook, stored by the engine in ``stripe_events`` (this
process or another), ends a wait at once: reading the local table costs
no request to Stripe.

A failed read (the network path changed, Stripe went silent) is retried
on new connections until ``wait_s`` has passed; the payment is then left
``processing`` with the outcome unknown, and :meth:`CardPayments.recover`
settles it later. After ``wait_s`` with the reader still waiting, the
till stops the reader and reads the PaymentIntent (a card tapped at the
last moment still counts).
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from onetill.pay import reasons
from onetill.pay.errors import StripeAPIError, StripeUnreachableError
from onetill.pay.reading import action_intent, reader_text
from onetill.store.card_payments import CardPayment

if TYPE_CHECKING:
    from onetill.pay.payments import CardPayments, PaymentResult

__all__ = ["wait_for_reader"]

READ_BUDGET_S = 10.0  # one reader read may retry this long before the loop takes over
STEP_S = 0.05


def _events_seen(payments: CardPayments, p: CardPayment) -> int:
    with payments.db.lock:
        row = payments.db.conn.execute(
            "SELECT COUNT(*) FROM stripe_events WHERE intent_id = ? OR reader_id = ?",
            (p.intent_id, p.reader_id),
        ).fetchone()
    return int(row[0])


def _pause(
    payments: CardPayments, p: CardPayment, seconds: float, cancel: threading.Event, seen: int
) -> int:
    """Sleep up to ``seconds``; return early on cancel, a wake-up or a new stored event."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if cancel.is_set() or payments.wake.is_set():
            payments.wake.clear()
            return seen
        now_seen = _events_seen(payments, p)
        if now_seen != seen:
            return now_seen
        time.sleep(min(STEP_S, max(0.0, end - time.monotonic())))
    return seen


def wait_for_reader(
    payments: CardPayments, p: CardPayment, cancel: threading.Event
) -> PaymentResult:
    from onetill.pay.payments import _result

    intent_id, reader_id = p.intent_id, p.reader_id
    assert intent_id is not None and reader_id
    deadline = time.monotonic() + payments.wait_s
    delay = payments.poll_min_s
    seen = _events_seen(payments, p)
    while True:
        if cancel.is_set():
            return payments.cancel(p.id)
        try:
            reader = payments.gateway.retrieve_reader(reader_id, budget_s=READ_BUDGET_S)
        except StripeUnreachableError:
            if time.monotonic() >= deadline:
                p = payments._update(p, failure_reason=reasons.OUTCOME_UNKNOWN)
                return _result(p, unknown=True)
            seen = _pause(payments, p, delay, cancel, seen)
            continue
        except StripeAPIError:
            # The reader is gone (deleted, another account): the intent decides.
            p = payments._settle(p, payments.gateway.retrieve_intent(intent_id))
            return _result(p)
        on_it, intent = action_intent(reader)
        action = reader.get("action") or {}
        status = action.get("status")
        if on_it != p.intent_id or status != "in_progress":
            if on_it != p.intent_id or intent is None:
                intent = payments.gateway.retrieve_intent(intent_id)
            p = payments._settle(p, intent, action if on_it == p.intent_id else None)
            if p.state == "processing" and time.monotonic() < deadline:
                seen = _pause(payments, p, delay, cancel, seen)
                continue
            return _result(p)
        text = reader_text(reader)
        if text != p.reader_text:
            p = payments._update(p, reader_text=text)
        if time.monotonic() >= deadline:
            result = payments.cancel(p.id)
            if result.state == "open":
                fresh = payments._update(payments.get(p.id), failure_code="wait_timeout",
                                         failure_reason=reasons.WAIT_TIMED_OUT)  # fmt: skip
                return _result(fresh)
            return result
        seen = _pause(payments, p, delay, cancel, seen)
        delay = min(delay * 1.6, payments.poll_max_s)
