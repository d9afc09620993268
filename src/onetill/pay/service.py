"""Card payments for the till screen: each payment runs on a worker thread.

The screen calls :meth:`PaymentService.start` when the cashier presses
"Card", then polls :meth:`status` (state, what the reader is doing, the
reason when not paid) and may :meth:`cancel`. :meth:`recover` at start-up
settles what a crash left open. The database connection is shared with
the screen's other work, serialised by ``db.lock``.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from onetill.pay import reasons
from onetill.pay.errors import PayError, StripeAPIError, StripeUnreachableError
from onetill.pay.payments import CardPayments, PaymentResult
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

    def start(self, order: NewOrder, lines: list[NewLine]) -> dict[str, Any]:
        """Store the attempt and start taking the payment; returns its status at once."""
        attempt, settled = self.payments.begin(order, lines)
        thread = threading.Thread(
            target=self._run, args=(attempt.id,), name=f"card-{attempt.id[:8]}", daemon=True
        )
        self._threads[attempt.id] = thread
        thread.start()
        out = self.status(attempt.id)
        out["settled_before"] = [r.as_dict() for r in settled]
        return out

    def _run(self, payment_id: str) -> None:
        try:
            self.payments.pay(payment_id, test_card=self.test_card)
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

    def recover(self) -> list[PaymentResult]:
        return self.payments.recover()
