"""Card payments for the till screen: each payment runs on a worker thread.

The screen calls :meth:`PaymentService.start` when the cashier presses
"Card", then polls :meth:`status` (state, what the reader is doing, the
reason when not paid) and may :meth:`cancel`. :meth:`recover` at start-up
settles what a crash left open; :meth:`in_progress` lists what is still on
the reader, to :meth:`resume` or :meth:`abandon`. The database connection
is shared with the screen's other work, serialised by ``db.lock``.

One payment runs at a time: a second start for the same cart (a double
click, a retried request) answers the running one's status, and a start
for another cart while one runs is refused (the reader is busy), instead
of cancelling a payment the customer may be tapping for.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from onetill.pay import reasons
from onetill.pay.errors import (
    PayError,
    PaymentStateError,
    StripeAPIError,
    StripeUnreachableError,
)
from onetill.pay.payments import CardPayments, PaymentResult, cart_key
from onetill.store.card_payments import CardPayment
from onetill.store.order_records import NewLine, NewOrder

__all__ = ["PaymentService"]

log = logging.getLogger("onetill.pay")


AVAILABILITY_TTL_S = 15.0


class PaymentService:
    def __init__(
        self,
        payments: CardPayments,
        *,
        test_card: str | None = None,
        availability_ttl_s: float = AVAILABILITY_TTL_S,
    ) -> None:
        self.payments = payments
        self.availability_ttl_s = availability_ttl_s
        self.test_card = test_card
        self._threads: dict[str, threading.Thread] = {}
        self._errors: dict[str, str] = {}
        self._lock = threading.Lock()  # one start/resume at a time
        self._available: tuple[float, dict[str, Any]] | None = None

    def availability(self) -> dict[str, Any]:
        """Whether the Card button works now, and if not why (a reader read per 15 s at most).

        Server-driven Terminal has no offline mode: no Stripe, no card.
        """
        now = time.monotonic()
        if self._available is not None and now - self._available[0] < self.availability_ttl_s:
            return self._available[1]
        reader_id = self.payments.reader_id
        out: dict[str, Any] = {"available": False, "reason": "", "reader": reader_id}
        if not reader_id:
            out["reason"] = "no card reader is chosen (`onetill readers use tmr_...`)"
        else:
            try:
                reader = self.payments.gateway.retrieve_reader(reader_id, budget_s=3.0)
            except StripeUnreachableError:
                out["reason"] = reasons.STRIPE_UNREACHABLE
            except StripeAPIError as exc:
                out["reason"] = reasons.reason_for(exc.code, None, exc.message)
            else:
                if reader.get("status") == "offline":
                    out["reason"] = reasons.reason_for("terminal_reader_offline")
                else:
                    out.update(available=True, label=reader.get("label"))
        self._available = (now, out)
        return out

    def running(self) -> str | None:
        """The payment a worker thread is taking now, if any."""
        for payment_id, thread in list(self._threads.items()):
            if thread.is_alive():
                return payment_id
        return None

    def start(
        self, order: NewOrder, lines: list[NewLine], *, test_card: str | None = None
    ) -> dict[str, Any]:
        """Store the attempt and start taking the payment; returns its status at once.

        ``PaymentStateError`` while another cart's payment is on the reader.
        """
        with self._lock:
            busy = self.running()
            if busy is not None:
                if self.payments.get(busy).cart_key == cart_key(order, lines):
                    return self.status(busy)  # the same sale asked twice
                raise PaymentStateError(
                    "The card reader is taking another payment. Let it finish or cancel it, "
                    "then try again."
                )
            attempt, settled = self.payments.begin(order, lines)
            self._spawn(attempt.id, test_card)
        out = self.status(attempt.id)
        out["settled_before"] = [r.as_dict() for r in settled]
        return out

    def resume(self, payment_id: str, *, test_card: str | None = None) -> dict[str, Any]:
        """Carry on with a stored payment (after a restart: the reader may still be waiting)."""
        with self._lock:
            busy = self.running()
            if busy is None:
                self._spawn(self.payments.get(payment_id).id, test_card)
            elif busy != self.payments.get(payment_id).id:
                raise PaymentStateError(
                    "The card reader is taking another payment. Let it finish or cancel it, "
                    "then try again."
                )
        return self.status(payment_id)

    def _spawn(self, payment_id: str, test_card: str | None) -> None:
        for done in [k for k, t in self._threads.items() if not t.is_alive()]:
            del self._threads[done]
        self._errors.pop(payment_id, None)
        thread = threading.Thread(
            target=self._run, args=(payment_id, test_card or self.test_card),
            name=f"card-{payment_id[:8]}", daemon=True,
        )  # fmt: skip
        self._threads[payment_id] = thread
        thread.start()

    def _run(self, payment_id: str, test_card: str | None) -> None:
        try:
            self.payments.pay(payment_id, test_card=test_card)
        except PayError as exc:
            self._errors[payment_id] = exc.message
        except Exception as exc:  # reported through status(); the attempt stays on disk
            log.exception("card payment %s failed", payment_id)
            self._errors[payment_id] = f"unexpected error: {exc}"

    def status(self, payment_id: str) -> dict[str, Any]:
        p = self.payments.get(payment_id)
        thread = self._threads.get(payment_id)
        out = p.as_dict()
        out["running"] = thread is not None and thread.is_alive()
        out["paid"] = p.state == "paid"
        out["error"] = self._errors.get(payment_id)
        return out

    def cancel(self, payment_id: str) -> dict[str, Any]:
        """Stop the reader (a running payment notices within a moment)."""
        thread = self._threads.get(payment_id)
        if thread is not None and thread.is_alive():
            self.payments.request_cancel(payment_id)
            thread.join(timeout=30)
        else:
            self.payments.cancel(payment_id)
        return self.status(payment_id)

    def abandon(self, payment_id: str) -> dict[str, Any]:
        """Cancel a payment for good (the PaymentIntent too), unless Stripe says it was paid."""
        thread = self._threads.get(payment_id)
        if thread is not None and thread.is_alive():
            self.payments.request_cancel(payment_id)
            thread.join(timeout=30)
        self.payments.abandon(payment_id)
        return self.status(payment_id)

    def in_progress(self) -> list[CardPayment]:
        """Payments that may be on the reader (handed over, or their fate unknown)."""
        return [p for p in self.payments.open() if p.state in ("starting", "processing")]

    def recover(self) -> list[PaymentResult]:
        return self.payments.recover()
