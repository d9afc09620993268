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
from typing import Any

from onetill.pay.errors import PayError
from onetill.pay.payments import CardPayments, PaymentResult
from onetill.store.order_records import NewLine, NewOrder

__all__ = ["PaymentService"]

log = logging.getLogger("onetill.pay")


class PaymentService:
    def __init__(self, payments: CardPayments, *, test_card: str | None = None) -> None:
        self.payments = payments
        self.test_card = test_card
        self._threads: dict[str, threading.Thread] = {}
        self._errors: dict[str, str] = {}

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
