"""What the cashier reads when a card is not paid: plain words, chosen by Stripe's codes.

The choice comes from ``failure_code``/``decline_code``/error ``code``;
Stripe's own message is shown only for a code this table does not know.
"""

from __future__ import annotations

__all__ = [
    "CANCELED_AT_TILL",
    "OUTCOME_UNKNOWN",
    "STRIPE_UNREACHABLE",
    "WAIT_TIMED_OUT",
    "reason_for",
]

_DECLINES = {
    "insufficient_funds": "The card was declined: insufficient funds.",
    "expired_card": "The card was declined: it has expired.",
    "incorrect_pin": "The card was declined: wrong PIN.",
    "pin_try_exceeded": "The card was declined: too many wrong PINs.",
    "call_issuer": "The card was declined: the customer should call their bank.",
}
_CODES = {
    "terminal_reader_offline": (
        "The card reader is offline. Check that it is switched on and connected, then try "
        "again, or take cash."
    ),
    "terminal_reader_busy": (
        "The card reader is busy with another payment. Let it finish or cancel it on the "
        "reader, then try again."
    ),
    "terminal_reader_timeout": (
        "The reader timed out waiting for a card. Try again when the customer is ready, or "
        "take cash."
    ),
    "customer_canceled": "The customer canceled the payment on the reader.",
    "amount_too_small": "Card payments must be at least 0.50; take cash for this sale.",
    "amount_too_large": "The amount is above what card payments allow; split the payment.",
    "action_gone": "The reader stopped the payment (canceled on the reader); nothing was charged.",
    "resource_missing": (
        "The card reader is not known to Stripe; run `onetill readers` and "
        "`onetill readers use tmr_...`."
    ),
}
STRIPE_UNREACHABLE = (
    "Stripe can't be reached, so card payments are unavailable right now (a Stripe reader "
    "has no offline mode). Take cash, or try again when the till is online."
)
OUTCOME_UNKNOWN = (
    "The till lost contact with Stripe while the reader was taking the payment, so it is not "
    "known yet whether the card was charged. Do not take another payment for this sale: the "
    "till checks again when Stripe is reachable (`onetill payments`)."
)
WAIT_TIMED_OUT = "No card was presented in time; the payment was stopped on the reader."
CANCELED_AT_TILL = "Canceled at the till; the card was not charged."
_DECLINED = "The card was declined. Ask for another card, or take cash."


def reason_for(code: str | None, decline_code: str | None = None, message: str = "") -> str:
    if code == "card_declined" or decline_code:
        return _DECLINES.get(decline_code or "", _DECLINED)
    if code and code in _CODES:
        return _CODES[code]
    if message:
        return f"Stripe did not take the payment: {message}"
    return "The card was not charged."
