"""Card payments on a Stripe Terminal reader (server-driven), through the official library.

The small API the till (CLI and screen) uses::

    from onetill.pay import CardPayments, StripeGateway, StripeSettings, connect_payments
    payments = connect_payments(db, settings, till_id=cfg.till_id)
    attempt, settled = payments.begin(prepared.order, prepared.lines)   # stored before any call
    result = payments.pay(attempt.id, test_card=None)    # blocks until paid/refused/unknown
    payments.get(attempt.id)                              # status (state, reader_text, reason)
    payments.request_cancel(attempt.id)                   # from another thread; or .cancel(id)
    payments.recover()                                    # after a restart

``PaymentService`` (``service.py``) runs ``pay`` on a worker thread for the
till screen: ``start(order, lines)``, ``status(id)``, ``cancel(id)``,
``recover()``. May import ``store`` only.
"""

from __future__ import annotations

from onetill.pay.errors import (
    NotConfiguredError,
    PayError,
    PaymentStateError,
    StripeAPIError,
    StripeAuthError,
    StripeError,
    StripeUnreachableError,
)
from onetill.pay.gateway import StripeGateway
from onetill.pay.payments import CardPayments, PaymentResult, cart_key, describe
from onetill.pay.settings import DEFAULT_API_BASE, StripeSettings
from onetill.store.db import Database

__all__ = [
    "DEFAULT_API_BASE",
    "CardPayments",
    "NotConfiguredError",
    "PayError",
    "PaymentResult",
    "PaymentStateError",
    "StripeAPIError",
    "StripeAuthError",
    "StripeError",
    "StripeGateway",
    "StripeSettings",
    "StripeUnreachableError",
    "cart_key",
    "connect_payments",
    "describe",
]


# With Stripe's webhooks arriving (the engine runs and has a webhook secret),
# a verified event ends the wait at once: the reader is read less often.
POLL_WITH_WEBHOOKS = (1.0, 10.0)
POLL_WITHOUT = (0.3, 3.0)


def connect_payments(
    db: Database,
    settings: StripeSettings,
    *,
    till_id: str,
    wait_s: float = 180.0,
    webhooks: bool = False,
) -> CardPayments:
    """Card payments for this till with the saved Stripe settings.

    ``webhooks``: Stripe's events reach this till's engine (poll the reader
    less, since an event wakes the wait).
    """
    poll_min, poll_max = POLL_WITH_WEBHOOKS if webhooks else POLL_WITHOUT
    return CardPayments(
        db, StripeGateway(settings), till_id=till_id, reader_id=settings.reader, wait_s=wait_s,
        poll_min_s=poll_min, poll_max_s=poll_max,
    )  # fmt: skip
