"""The Stripe part of a refund: money back to the card, exactly once.

The refund row (with its idempotency key) is stored before Stripe is
asked. When the answer is lost, the refund stays ``stripe_pending`` and
finishing it later first lists the PaymentIntent's refunds for this
refund's UUID in their metadata (idempotency keys expire after a day),
then sends the same request with the same key.
"""

from __future__ import annotations

from decimal import Decimal

from onetill.pay.errors import StripeAPIError
from onetill.pay.gateway import StripeGateway
from onetill.pay.money import to_minor
from onetill.pay.reasons import reason_for
from onetill.store.db import Database
from onetill.store.order_records import DUE_NOW
from onetill.store.refunds import RefundRecord, update_refund

__all__ = ["META_REFUND", "stripe_refund"]

META_REFUND = "onetill_refund_uuid"


def stripe_refund(
    gateway: StripeGateway, db: Database, refund: RefundRecord, intent_id: str, currency: str
) -> RefundRecord:
    """Refund ``refund.amount`` on the PaymentIntent; the row moves on to ``pending_sync``
    (or ``failed`` when Stripe refuses). Raises ``StripeUnreachableError`` when the
    outcome stays unknown (the row stays ``stripe_pending``)."""
    key = refund.stripe_key
    assert key is not None
    found = None
    if refund.attempts > 0:  # asked before and the answer was lost
        for earlier in gateway.list_refunds(intent_id):
            if (earlier.get("metadata") or {}).get(META_REFUND) == refund.uuid:
                found = earlier
                break
    with db.write() as conn:
        refund = update_refund(conn, refund.uuid, attempts=refund.attempts + 1)
    if found is None:
        params = {
            "payment_intent": intent_id,
            "amount": to_minor(Decimal(refund.amount), currency),
            "reason": "requested_by_customer",
            "metadata": {META_REFUND: refund.uuid, "onetill_sale_uuid": refund.order_uuid},
        }
        try:
            found = gateway.create_refund(params, key)
        except StripeAPIError as exc:
            if exc.status < 500 and exc.status not in (409, 429):
                text = reason_for(exc.code, None, exc.message)
                with db.write() as conn:
                    return update_refund(conn, refund.uuid, state="failed",
                                         last_error=f"Stripe refused the refund: {text}")
            raise
    with db.write() as conn:  # the store part is due now, whatever any clock says
        return update_refund(
            conn, refund.uuid, state="pending_sync", stripe_refund_id=str(found["id"]),
            last_error=None, next_attempt_at=DUE_NOW,
        )  # fmt: skip
