"""Reading Stripe's objects: which PaymentIntent a reader is on, what a charge says.

The flow never assumes an outcome: whether a card was charged is read
from the PaymentIntent's ``status`` (Stripe's own answer, or a verified
webhook), and the card details from its ``latest_charge``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "CardDetails",
    "action_intent",
    "card_details",
    "intent_failure",
    "reader_text",
]

# PaymentIntent statuses in which it can still be charged by a reader.
CHARGEABLE = frozenset({"requires_payment_method", "requires_confirmation", "requires_action"})


@dataclass(frozen=True)
class CardDetails:
    charge_id: str
    brand: str
    last4: str


def action_intent(reader: dict[str, Any]) -> tuple[str | None, dict[str, Any] | None]:
    """The PaymentIntent id the reader's action is about, and the object when expanded."""
    action = reader.get("action") or {}
    process = action.get("process_payment_intent") or {}
    intent = process.get("payment_intent")
    if isinstance(intent, dict):
        return str(intent.get("id")), intent
    return (str(intent) if intent else None), None


def card_details(intent: dict[str, Any]) -> CardDetails:
    """Charge id, brand and last 4 of a paid PaymentIntent (``latest_charge`` expanded)."""
    charge = intent.get("latest_charge")
    if not isinstance(charge, dict):
        return CardDetails(str(charge or ""), "", "")
    details = charge.get("payment_method_details") or {}
    card = details.get("card_present") or details.get("interac_present") or details.get("card")
    card = card if isinstance(card, dict) else {}
    return CardDetails(
        str(charge.get("id") or ""), str(card.get("brand") or ""), str(card.get("last4") or "")
    )


def intent_failure(intent: dict[str, Any]) -> tuple[str | None, str | None, str]:
    """(code, decline_code, message) of the PaymentIntent's last failed attempt."""
    err = intent.get("last_payment_error") or {}
    if not isinstance(err, dict) or not err:
        return None, None, ""
    return (
        str(err.get("code") or "") or None,
        str(err.get("decline_code") or "") or None,
        str(err.get("message") or ""),
    )


def reader_text(reader: dict[str, Any]) -> str:
    """What the reader is doing, for the till's screen."""
    if reader.get("status") == "offline":
        return "reader offline"
    action = reader.get("action") or {}
    status = action.get("status")
    if status == "in_progress":
        return "waiting for the customer's card"
    if status == "succeeded":
        return "card accepted"
    if status == "failed":
        return f"card not accepted ({action.get('failure_code') or 'failed'})"
    return "reader idle"
