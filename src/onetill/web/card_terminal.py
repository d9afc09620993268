"""The Card button on the till's Stripe reader (``onetill.pay``), for the till screen.

``TerminalCard`` is the ``CardPayments`` of a till whose card payments were
set up with ``onetill stripe connect`` (or by ``onetill demo``, on its
emulated Stripe with a simulated S710). Its ``kind`` is ``"terminal"``: the
screen does not record a card payment taken elsewhere (``charge`` refuses),
it runs the reader's flow through ``web.api_card``: start, watch what the
reader is doing, cancel, resume after a restart.

The payment itself is ``pay.service.PaymentService``: a worker thread per
payment on a database connection of its own, the paid sale recorded by
``pay`` in the same transaction that marks the attempt paid. The Stripe
settings are read again when ``stripe.json`` changes (``onetill readers
use`` on a running till, the demo's webhook secret), never in the middle
of a payment.

Every method here blocks (Stripe answers over the network): the routes
call them from a worker thread.
"""

from __future__ import annotations

import logging
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

from onetill.config import STRIPE_FILENAME, NotConnectedError, load_stripe
from onetill.pay import PayError, StripeSettings, connect_payments
from onetill.pay.service import PaymentService
from onetill.pay.test_cards import TEST_CARDS
from onetill.pos.tender import Payment, TenderError
from onetill.store.card_payments import CardPayment, decode_sale
from onetill.store.db import Database, open_database
from onetill.store.order_records import NewLine, NewOrder
from onetill.web.payments import CardRequest

__all__ = ["DEMO_TEST_CARDS", "CardUnavailable", "TerminalCard"]

log = logging.getLogger("onetill.web")

# What the demo's simulated customer may present (name for ``pay.test_cards``, label).
DEMO_TEST_CARDS = [
    ("success", "Visa, approved"),
    ("mastercard", "Mastercard, approved"),
    ("declined", "Declined"),
    ("insufficient_funds", "Insufficient funds"),
    ("timeout", "No card (the reader waits)"),
]


class CardUnavailable(Exception):
    """Card payments cannot be taken now; the message says why, for the cashier."""


class TerminalCard:
    """Card payments on the Stripe reader set up in ``home``.

    ``test_card``: the till presents this test card itself after handing the
    payment to a simulated reader (the demo: its "customer"); with it, the
    screen may pick another one of ``DEMO_TEST_CARDS`` per payment.
    """

    kind = "terminal"
    label = "Card"

    def __init__(self, home: Path, *, test_card: str | None = None) -> None:
        if test_card is not None and test_card not in TEST_CARDS:
            raise ValueError(f"unknown test card {test_card!r}")
        self.home = home
        self.test_card = test_card
        self._lock = threading.Lock()
        self._db: Database | None = None
        self._service: PaymentService | None = None
        self._built_for: tuple[float, str] | None = None
        self._notified: set[str] = set()

    @property
    def test_cards(self) -> list[tuple[str, str]]:
        return DEMO_TEST_CARDS if self.test_card is not None else []

    async def charge(self, request: CardRequest) -> Payment:
        # A card sale here is recorded only when Stripe says the card was charged.
        raise TenderError(
            "this till takes card payments on its card reader: press Card and follow the reader"
        )

    # -- the payment service ---------------------------------------------------

    def service(self, till_id: str) -> PaymentService:
        """The payment service for the current Stripe settings (``CardUnavailable`` if none)."""
        try:
            mtime = (self.home / STRIPE_FILENAME).stat().st_mtime
        except OSError:
            mtime = -1.0
        with self._lock:
            current = self._service
            if current is not None and (
                self._built_for == (mtime, till_id) or current.running() is not None
            ):
                return current
            try:
                cfg = load_stripe(self.home)
            except NotConnectedError as exc:
                raise CardUnavailable(f"Card payments are not set up: {exc}.") from None
            except (OSError, ValueError) as exc:
                raise CardUnavailable(
                    f"The card reader's settings cannot be read ({exc}); run "
                    "`onetill stripe connect` again."
                ) from None
            settings = StripeSettings(
                key=cfg.key, api_base=cfg.api_base, location=cfg.location, reader=cfg.reader,
                webhook_secret=cfg.webhook_secret,
            )  # fmt: skip
            if self._db is None:
                self._db = open_database(self.home)
            # Stripe's webhooks reach this engine when it has their secret: poll the reader less.
            payments = connect_payments(self._db, settings, till_id=till_id,
                                        webhooks=bool(cfg.webhook_secret))  # fmt: skip
            self._service = PaymentService(payments, test_card=self.test_card)
            self._built_for = (mtime, till_id)
            if current is not None:
                current.payments.gateway.close()
            return self._service

    def close(self) -> None:
        with self._lock:
            if self._service is not None:
                self._service.payments.gateway.close()
                self._service = None
            if self._db is not None:
                self._db.close()
                self._db = None

    # -- what the routes call (each blocks: from a worker thread) ---------------

    def availability(self, till_id: str) -> dict[str, Any]:
        """Whether Card works now and why not; payments left on the reader."""
        try:
            service = self.service(till_id)
        except CardUnavailable as exc:
            return {"available": False, "reason": str(exc), "in_progress": []}
        out = dict(service.availability())
        running = service.running()
        out["in_progress"] = [
            self._view(service, p.id, running=p.id == running) for p in service.in_progress()
        ]
        return out

    def start(
        self, till_id: str, order: NewOrder, lines: list[NewLine], test_card: str | None
    ) -> dict[str, Any]:
        service = self.service(till_id)
        try:
            started = service.start(order, lines, test_card=self._test_card(test_card))
        except PayError as exc:
            raise CardUnavailable(exc.message) from None
        view = self._view(service, str(started["id"]))
        view["settled_before"] = started.get("settled_before", [])
        return view

    def status(self, till_id: str, payment_id: str) -> dict[str, Any]:
        service = self.service(till_id)
        return self._view(service, service.payments.get(payment_id).id)

    def cancel(self, till_id: str, payment_id: str) -> dict[str, Any]:
        """Stop the reader; the same cart can try again (on the same PaymentIntent)."""
        service = self.service(till_id)
        pid = service.payments.get(payment_id).id
        try:
            service.cancel(pid)
        except PayError as exc:
            raise CardUnavailable(exc.message) from None
        return self._view(service, pid)

    def resume(self, till_id: str, payment_id: str, test_card: str | None) -> dict[str, Any]:
        service = self.service(till_id)
        pid = service.payments.get(payment_id).id
        try:
            service.resume(pid, test_card=self._test_card(test_card))
        except PayError as exc:
            raise CardUnavailable(exc.message) from None
        return self._view(service, pid)

    def abandon(self, till_id: str, payment_id: str) -> dict[str, Any]:
        """Cancel a payment left in progress for good (recorded instead if it was paid)."""
        service = self.service(till_id)
        pid = service.payments.get(payment_id).id
        try:
            service.abandon(pid)
        except PayError as exc:
            raise CardUnavailable(exc.message) from None
        return self._view(service, pid)

    def newly_paid(self, payment_id: str) -> bool:
        """True the first time a paid payment is reported (the engine uploads it then)."""
        with self._lock:
            if payment_id in self._notified:
                return False
            self._notified.add(payment_id)
            return True

    # -- helpers ------------------------------------------------------------------

    def _test_card(self, wanted: str | None) -> str | None:
        if not wanted:
            return None
        if self.test_card is None:
            raise CardUnavailable("test cards are for the demo's simulated reader only")
        if wanted not in dict(DEMO_TEST_CARDS):
            raise CardUnavailable(f"unknown test card {wanted!r}")
        return wanted

    @staticmethod
    def _view(
        service: PaymentService, payment_id: str, *, running: bool | None = None
    ) -> dict[str, Any]:
        status = service.status(payment_id)
        p: CardPayment = service.payments.get(payment_id)
        order, _ = decode_sale(p.sale_json)
        state = str(status["state"])
        alive = bool(status["running"]) if running is None else running
        return {
            "id": p.id,
            "sale_uuid": p.sale_uuid,
            "state": state,
            "running": alive,
            "paid": state == "paid",
            # Handed to the reader (or maybe) and no longer watched: the outcome is Stripe's to say.
            "unsettled": state in ("starting", "processing") and not alive,
            "reader_text": p.reader_text,
            "reason": status.get("error") or p.failure_reason or "",
            "failure_code": p.failure_code,
            "total": str(Decimal(order.total)),
            "card_brand": p.card_brand,
            "card_last4": p.card_last4,
            "created_at": p.created_at,
        }
