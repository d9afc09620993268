"""Taking a card payment on a Stripe Terminal reader (server-driven), exactly once.

The path of one payment, every step on disk before the request it guards:

1. :meth:`CardPayments.begin` stores an attempt: the priced sale (its UUID
   fixed), the amount in minor units, and an idempotency key made once for
   the attempt. Other open attempts of this till are settled first: one
   for the same cart is reused (its PaymentIntent is not charged twice),
   any other is cancelled at Stripe (or recorded, if it turns out paid).
2. :meth:`CardPayments.pay` creates the PaymentIntent (``card_present``,
   metadata: sale UUID, till id; key ``<key>:create``), hands it to the
   reader (``process_payment_intent``, key ``<key>:process:<n>``), presents
   a test card on a simulated reader, then waits (``waiting.py``).
3. The outcome is read from Stripe (the PaymentIntent's status), never
   assumed: ``succeeded`` -> the sale is recorded, in the same transaction
   that marks the attempt ``paid`` (``store.card_payments.record_paid_sale``);
   a decline, a timeout, an offline or busy reader, a cancel -> nothing is
   recorded, the attempt stays ``open`` (the same cart may try again on
   the same PaymentIntent) with the reason in plain words.

After a crash, :meth:`CardPayments.recover` asks Stripe about each stored
attempt: paid -> recorded once; still on the reader -> "payment in
progress" (resume with :meth:`pay`, or :meth:`cancel`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import uuid as _uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from onetill.pay import reasons
from onetill.pay.errors import (
    NotConfiguredError,
    Outcome,
    StripeAPIError,
    StripeError,
    StripeUnreachableError,
    classify,
)
from onetill.pay.gateway import StripeGateway
from onetill.pay.money import to_minor
from onetill.pay.reading import CHARGEABLE, action_intent, card_details, intent_failure
from onetill.pay.test_cards import card_number
from onetill.store.card_payments import (
    FINAL_STATES,
    CardPayment,
    decode_sale,
    encode_sale,
    get_payment,
    insert_payment,
    open_payments,
    record_paid_sale,
    update_payment,
)
from onetill.store.db import Database
from onetill.store.order_records import NewLine, NewOrder, format_ts

__all__ = ["CardPayments", "PaymentResult", "cart_key", "describe"]

log = logging.getLogger("onetill.pay")

META_SALE = "onetill_sale_uuid"
META_TILL = "onetill_till_id"
META_ATTEMPT = "onetill_attempt"


@dataclass(frozen=True)
class PaymentResult:
    """Where a payment stands, for the cashier (``reason`` in plain words)."""

    payment_id: str
    state: str  # paid | open | processing | starting | canceled
    sale_uuid: str
    intent_id: str | None
    reason: str = ""
    failure_code: str | None = None
    charge_id: str | None = None
    card_brand: str | None = None
    card_last4: str | None = None
    recorded_now: bool = False
    unknown: bool = False  # Stripe could not be asked: the outcome is not known

    @property
    def paid(self) -> bool:
        return self.state == "paid"

    def as_dict(self) -> dict[str, Any]:
        return {
            "payment_id": self.payment_id, "state": self.state, "paid": self.paid,
            "sale_uuid": self.sale_uuid, "intent_id": self.intent_id, "reason": self.reason,
            "failure_code": self.failure_code, "charge_id": self.charge_id,
            "card_brand": self.card_brand, "card_last4": self.card_last4,
            "unknown": self.unknown,
        }  # fmt: skip


def cart_key(order: NewOrder, lines: list[NewLine]) -> str:
    """What makes two carts "the same sale": till, lines, quantities, amounts, currency."""
    basis = [
        order.till_id, order.currency, order.total,
        [(x.product_id, x.variation_id, x.quantity, x.total, x.tax) for x in lines],
    ]  # fmt: skip
    return hashlib.sha256(json.dumps(basis).encode()).hexdigest()[:32]


def _result(p: CardPayment, **extra: Any) -> PaymentResult:
    return PaymentResult(
        payment_id=p.id, state=p.state, sale_uuid=p.sale_uuid, intent_id=p.intent_id,
        reason=p.failure_reason or "", failure_code=p.failure_code, charge_id=p.charge_id,
        card_brand=p.card_brand, card_last4=p.card_last4, **extra,
    )  # fmt: skip


class CardPayments:
    """Card payments of one till against one Stripe account and reader."""

    def __init__(
        self,
        db: Database,
        gateway: StripeGateway,
        *,
        till_id: str,
        reader_id: str | None,
        wait_s: float = 180.0,
        poll_min_s: float = 0.3,
        poll_max_s: float = 3.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_update: Callable[[CardPayment], None] | None = None,
    ) -> None:
        self.db = db
        self.gateway = gateway
        self.till_id = till_id
        self.reader_id = reader_id
        self.wait_s = wait_s
        self.poll_min_s = poll_min_s
        self.poll_max_s = poll_max_s
        self.clock = clock
        self.on_update = on_update
        self._cancels: dict[str, threading.Event] = {}
        self.wake = threading.Event()  # set by a webhook: read the reader now

    # -- storage ------------------------------------------------------------

    def get(self, payment_id: str) -> CardPayment:
        with self.db.lock:
            return get_payment(self.db.conn, payment_id)

    def open(self) -> list[CardPayment]:
        with self.db.lock:
            return open_payments(self.db.conn, self.till_id)

    def _update(self, p: CardPayment, **changes: Any) -> CardPayment:
        with self.db.write() as conn:
            fresh = update_payment(conn, p.id, self.clock(), **changes)
        if self.on_update is not None:
            try:
                self.on_update(fresh)
            except Exception:  # a display must never break a payment
                log.exception("payment update listener failed")
        return fresh

    def _reader(self) -> str:
        if not self.reader_id:
            raise NotConfiguredError(
                "no card reader is chosen for this till: run `onetill readers` and "
                "`onetill readers use tmr_...`"
            )
        return self.reader_id

    # -- 1. begin -------------------------------------------------------------

    def begin(
        self, order: NewOrder, lines: list[NewLine]
    ) -> tuple[CardPayment, list[PaymentResult]]:
        """Store the attempt for this priced sale; returns it and what happened to others.

        An open attempt for the same cart (same lines and amount) is reused;
        every other open attempt of this till is cancelled at Stripe first,
        or recorded if Stripe says it was paid (listed in the second value).
        """
        reader = self._reader()
        amount = to_minor(order.total, order.currency)
        key = cart_key(order, lines)
        settled: list[PaymentResult] = []
        reuse: CardPayment | None = None
        for other in self.open():
            same = (other.cart_key, other.amount, other.currency.upper()) == (
                key, amount, order.currency.upper())  # fmt: skip
            if same and reuse is None:
                reuse = other
                continue
            settled.append(self.abandon(other.id))
        now = self.clock()
        if reuse is not None:
            fresh = replace(order, uuid=reuse.sale_uuid)
            reused = self._update(reuse, sale_json=encode_sale(fresh, lines), reader_id=reader)
            return reused, settled
        attempt = str(_uuid.uuid4())
        p = CardPayment(
            id=attempt, sale_uuid=order.uuid, cart_key=key, till_id=self.till_id, amount=amount,
            currency=order.currency.lower(), reader_id=reader, idem_key=f"onetill-{attempt}",
            intent_id=None, handoffs=0, state="starting", reader_text="", failure_code=None,
            failure_reason=None, charge_id=None, card_brand=None, card_last4=None,
            sale_json=encode_sale(order, lines), created_at=format_ts(now),
            updated_at=format_ts(now),
        )  # fmt: skip
        with self.db.write() as conn:
            insert_payment(conn, p)
        return p, settled

    # -- 2. pay ---------------------------------------------------------------

    def pay(self, payment_id: str, *, test_card: str | None = None) -> PaymentResult:
        """Take the payment (or resume it) until paid, refused, cancelled or unknown."""
        number = card_number(test_card) if test_card else None
        p = self.get(payment_id)
        if p.state in FINAL_STATES:
            return _result(p)
        cancel = self._cancels.setdefault(p.id, threading.Event())
        cancel.clear()
        try:
            p = self._ensure_intent(p)
            if p.state in FINAL_STATES or p.intent_id is None:
                return _result(p)
            if p.state == "open":
                p, started = self._hand_off(p)
                if not started:
                    return _result(p)
            if number is not None:  # a simulated reader: tap the test card
                p = self._present(p, number)
                if p.state != "processing":
                    return _result(p)
            from onetill.pay.waiting import wait_for_reader

            return wait_for_reader(self, p, cancel)
        except StripeUnreachableError:
            p = self.get(payment_id)
            if p.state == "starting":
                p = self._update(p, failure_reason=reasons.STRIPE_UNREACHABLE)
                return _result(p, unknown=False)
            p = self._update(p, failure_reason=reasons.OUTCOME_UNKNOWN)
            return _result(p, unknown=p.state == "processing")
        finally:
            self._cancels.pop(p.id, None)

    def request_cancel(self, payment_id: str) -> None:
        """Ask a running :meth:`pay` to stop the reader (from another thread)."""
        event = self._cancels.get(payment_id)
        if event is not None:
            event.set()
        self.wake.set()

    def _ensure_intent(self, p: CardPayment) -> CardPayment:
        if p.intent_id is not None:
            return p
        params = {
            "amount": p.amount,
            "currency": p.currency,
            "payment_method_types": ["card_present"],
            "capture_method": "automatic",
            "description": f"OneTill sale {p.sale_uuid}",
            "metadata": {META_SALE: p.sale_uuid, META_TILL: p.till_id, META_ATTEMPT: p.id},
        }
        try:
            intent = self.gateway.create_intent(params, f"{p.idem_key}:create")
        except StripeAPIError as exc:
            if classify(exc) is Outcome.RETRY:
                raise
            # Refused (too small an amount, a currency Stripe does not take):
            # nothing exists at Stripe; the attempt is over.
            return self._update(
                p, state="canceled", failure_code=exc.code or exc.type,
                failure_reason=reasons.reason_for(exc.code, exc.decline_code, exc.message),
            )  # fmt: skip
        return self._update(p, intent_id=str(intent["id"]), state="open", failure_code=None,
                            failure_reason=None)  # fmt: skip

    def _hand_off(self, p: CardPayment) -> tuple[CardPayment, bool]:
        """``process_payment_intent``; (attempt, whether the reader may now be on it)."""
        intent_id = p.intent_id
        assert intent_id is not None
        reader = self._reader()
        p = self._update(p, handoffs=p.handoffs + 1, reader_id=reader, failure_code=None,
                         failure_reason=None, reader_text="sending to the reader")  # fmt: skip
        try:
            self.gateway.process(reader, intent_id, f"{p.idem_key}:process:{p.handoffs}")
        except StripeUnreachableError:
            # It may have reached the reader: wait and read what the reader shows.
            return self._update(p, state="processing"), True
        except StripeAPIError as exc:
            if exc.code == "terminal_reader_timeout":
                # Stripe could not confirm the reader got it: find out by reading it.
                return self._update(p, state="processing"), True
            if exc.code == "payment_intent_unexpected_state":
                return self.resolve(p.id, p), False
            p = self._update(
                p, state="open", failure_code=exc.code or exc.type, reader_text="",
                failure_reason=reasons.reason_for(exc.code, exc.decline_code, exc.message),
            )  # fmt: skip
            return p, False
        return self._update(p, state="processing",
                            reader_text="waiting for the customer's card"), True  # fmt: skip

    def _present(self, p: CardPayment, number: str) -> CardPayment:
        reader = self._reader()
        try:
            shown = self.gateway.present(reader, number, f"{p.idem_key}:present:{p.handoffs}")
        except StripeAPIError as exc:
            log.warning("presenting the test card failed: %s (%s)", exc.code, exc.message)
            return p
        intent_id, intent = action_intent(shown)
        status = (shown.get("action") or {}).get("status")
        if intent_id == p.intent_id and intent is not None and status in ("succeeded", "failed"):
            return self._settle(p, intent, shown.get("action"))
        return p

    # -- 3. settle (the PaymentIntent says what happened) ---------------------

    def _settle(
        self, p: CardPayment, intent: dict[str, Any], action: dict[str, Any] | None = None
    ) -> CardPayment:
        status = intent.get("status")
        if status == "requires_capture":
            intent = self.gateway.capture_intent(str(intent["id"]), f"{p.idem_key}:capture")
            status = intent.get("status")
        if status == "succeeded":
            return self._record(p, intent)
        if status == "canceled":
            reason = p.failure_reason or reasons.CANCELED_AT_TILL
            return self._update(p, state="canceled", reader_text="", failure_reason=reason)
        if status == "processing":
            return self._update(p, state="processing", reader_text="the bank is answering")
        code, decline, message = intent_failure(intent)
        if action is not None and action.get("status") == "failed":
            # The reader's action is this hand-off's outcome; the intent's
            # last_payment_error may be an earlier card's decline.
            failed = str(action.get("failure_code") or "") or None
            if failed != code:
                code, decline = failed, None
                message = str(action.get("failure_message") or "")
        if code is None and status in CHARGEABLE and p.failure_code is None:
            code = "action_gone"
        if code is None:
            return self._update(p, state="open", reader_text="")
        return self._update(
            p, state="open", reader_text="", failure_code=code,
            failure_reason=reasons.reason_for(code, decline, message),
        )  # fmt: skip

    def _record(self, p: CardPayment, intent: dict[str, Any]) -> CardPayment:
        if not isinstance(intent.get("latest_charge"), dict):
            intent = self.gateway.retrieve_intent(str(intent["id"]))
        card = card_details(intent)
        order, lines = decode_sale(p.sale_json)
        if int(intent.get("amount_received") or intent.get("amount") or 0) != p.amount:
            log.error("PaymentIntent %s received %s, the sale is for %s (minor units)",
                      intent["id"], intent.get("amount_received"), p.amount)  # fmt: skip
        paid = replace(
            order, uuid=p.sale_uuid, transaction_id=str(intent["id"]), charge_id=card.charge_id,
            card_brand=card.brand, card_last4=card.last4,
        )  # fmt: skip
        with self.db.write() as conn:
            recorded = record_paid_sale(
                conn, p.id, paid, lines, self.clock(), charge_id=card.charge_id,
                card_brand=card.brand, card_last4=card.last4, reader_text="",
                failure_code=None, failure_reason=None,
            )  # fmt: skip
        if recorded:
            log.info("card payment %s paid: sale %s recorded", intent["id"], p.sale_uuid)
        fresh = self.get(p.id)
        if self.on_update is not None:
            self.on_update(fresh)
        return fresh

    # -- cancel, resolve, recover ---------------------------------------------

    def cancel(self, payment_id: str) -> PaymentResult:
        """Stop the reader; the PaymentIntent stays open for the same cart to retry.

        If Stripe says the card was charged meanwhile, the sale is recorded.
        """
        p = self.get(payment_id)
        if p.state in FINAL_STATES or p.intent_id is None:
            return _result(p)
        if p.reader_id:
            try:
                self.gateway.cancel_action(p.reader_id, f"{p.idem_key}:cancel:{p.handoffs}")
            except StripeAPIError as exc:
                if exc.code not in ("terminal_reader_invalid_state", "terminal_reader_offline"):
                    raise
        intent = self.gateway.retrieve_intent(p.intent_id)
        p = self._update(p, failure_code="canceled", failure_reason=reasons.CANCELED_AT_TILL)
        p = self._settle(p, intent)
        if p.state == "open":
            p = self._update(p, failure_code="canceled", failure_reason=reasons.CANCELED_AT_TILL)
        return _result(p)

    def abandon(self, payment_id: str) -> PaymentResult:
        """Cancel the payment for good (the PaymentIntent too), unless it was paid."""
        p = self.get(payment_id)
        if p.state in FINAL_STATES:
            return _result(p)
        p = self._ensure_intent(p)
        if p.intent_id is None or p.state in FINAL_STATES:
            return _result(p)
        if p.state == "processing" and p.reader_id:
            try:
                self.gateway.cancel_action(p.reader_id, f"{p.idem_key}:cancel:{p.handoffs}")
            except StripeAPIError as exc:
                if classify(exc) is not Outcome.REFUSED:
                    raise
        try:
            intent = self.gateway.cancel_intent(p.intent_id, f"{p.idem_key}:void")
        except StripeAPIError as exc:
            if exc.code != "payment_intent_unexpected_state":
                raise
            intent = self.gateway.retrieve_intent(p.intent_id)  # paid (or already canceled)
        return _result(self._settle(p, intent))

    def resolve(self, payment_id: str, p: CardPayment | None = None) -> CardPayment:
        """Ask Stripe where the payment stands and record it if it was paid."""
        p = p or self.get(payment_id)
        if p.state in FINAL_STATES:
            return p
        p = self._ensure_intent(p)
        if p.intent_id is None or p.state in FINAL_STATES:
            return p
        intent = self.gateway.retrieve_intent(p.intent_id)
        if intent.get("status") in CHARGEABLE and p.reader_id:
            reader = self.gateway.retrieve_reader(p.reader_id)
            on_it, _ = action_intent(reader)
            status = (reader.get("action") or {}).get("status")
            if on_it == p.intent_id and status == "in_progress":
                return self._update(p, state="processing", reader_text="payment in progress")
            if on_it == p.intent_id and status == "failed":
                return self._settle(p, intent, reader.get("action"))
        return self._settle(p, intent)

    def recover(self) -> list[PaymentResult]:
        """After a restart: settle every open attempt of this till with Stripe's answer."""
        out: list[PaymentResult] = []
        for p in self.open():
            try:
                fresh = self.resolve(p.id, p)
            except StripeError as exc:
                log.warning("payment %s could not be checked with Stripe: %s", p.id, exc.message)
                out.append(_result(p, unknown=True, reason=reasons.OUTCOME_UNKNOWN))
                continue
            out.append(_result(fresh))
        return out


def describe(result: PaymentResult) -> str:
    """One line for the cashier."""
    if result.paid:
        last4 = f"•••• {result.card_last4}" if result.card_last4 else ""
        card = " ".join(x for x in (result.card_brand or "", last4) if x)
        return f"paid by card{(' (' + card + ')') if card else ''}"
    if result.state == "processing":
        return "payment in progress on the reader"
    return result.reason or "not paid"

