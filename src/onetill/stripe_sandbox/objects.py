"""Object shapes, as Stripe publishes them (``../shared/stripe-fixtures``).

Each builder returns a fresh dict with every field of the published
example, filled for a card-present Terminal payment. Ids are Stripe's
prefixes (``pi_``, ``ch_``, ``pm_``, ``re_``, ``tmr_``, ``tml_``, ``evt_``).
"""

from __future__ import annotations

import secrets
from typing import Any

__all__ = [
    "CARDS",
    "TestCard",
    "charge",
    "event",
    "location",
    "new_id",
    "payment_intent",
    "payment_method",
    "reader",
    "refund",
]


def new_id(prefix: str) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return prefix + "_" + "".join(secrets.choice(alphabet) for _ in range(24))


class TestCard:
    """What presenting a test card number does (Stripe's published test numbers)."""

    def __init__(
        self, brand: str, last4: str, decline_code: str | None = None, funding: str = "credit"
    ) -> None:
        self.brand = brand
        self.last4 = last4
        self.decline_code = decline_code
        self.funding = funding


CARDS: dict[str, TestCard] = {
    "4242424242424242": TestCard("visa", "4242"),
    "4000056655665556": TestCard("visa", "5556", funding="debit"),
    "5555555555554444": TestCard("mastercard", "4444"),
    "378282246310005": TestCard("amex", "0005"),
    "6011111111111117": TestCard("discover", "1117"),
    "4000000000000002": TestCard("visa", "0002", "generic_decline"),
    "4000000000009995": TestCard("visa", "9995", "insufficient_funds"),
    "4000000000009987": TestCard("visa", "9987", "lost_card"),
    "4000000000009979": TestCard("visa", "9979", "stolen_card"),
    "4000000000000069": TestCard("visa", "0069", "expired_card"),
}

DECLINE_MESSAGES = {
    "generic_decline": "Your card was declined.",
    "insufficient_funds": "Your card has insufficient funds.",
    "lost_card": "Your card was declined.",
    "stolen_card": "Your card was declined.",
    "expired_card": "Your card has expired.",
}


def payment_intent(
    pid: str, amount: int, currency: str, params: dict[str, Any], created: int
) -> dict[str, Any]:
    capture = str(params.get("capture_method") or "automatic")
    types = params.get("payment_method_types") or ["card"]
    return {
        "id": pid,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": 0,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": None,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": capture,
        "client_secret": f"{pid}_secret_{secrets.token_hex(12)}",
        "confirmation_method": "automatic",
        "created": created,
        "currency": currency,
        "customer": None,
        "customer_account": None,
        "description": params.get("description"),
        "excluded_payment_method_types": None,
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "managed_payments": {"enabled": False},
        "metadata": dict(params.get("metadata") or {}),
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": None,
        "payment_method_configuration_details": None,
        "payment_method_options": {},
        "payment_method_types": list(types),
        "processing": None,
        "receipt_email": None,
        "review": None,
        "setup_future_usage": None,
        "shipping": None,
        "source": None,
        "statement_descriptor": params.get("statement_descriptor"),
        "statement_descriptor_suffix": None,
        "status": "requires_payment_method",
        "transfer_data": None,
        "transfer_group": None,
    }


def payment_method(pmid: str, card: TestCard, created: int) -> dict[str, Any]:
    return {
        "id": pmid,
        "object": "payment_method",
        "allow_redisplay": "unspecified",
        "billing_details": {
            "address": {"city": None, "country": None, "line1": None, "line2": None,
                        "postal_code": None, "state": None},
            "email": None, "name": None, "phone": None, "tax_id": None,
        },
        "card_present": _card_details(card),
        "created": created,
        "customer": None,
        "customer_account": None,
        "livemode": False,
        "metadata": {},
        "type": "card_present",
    }  # fmt: skip


def _card_details(card: TestCard) -> dict[str, Any]:
    return {
        "brand": card.brand,
        "cardholder_name": None,
        "country": "US",
        "exp_month": 12,
        "exp_year": 2030,
        "fingerprint": secrets.token_hex(8),
        "funding": card.funding,
        "last4": card.last4,
        "network": card.brand,
        "read_method": "contactless_emv",
    }


def charge(
    chid: str, intent: dict[str, Any], card: TestCard, pmid: str, created: int
) -> dict[str, Any]:
    declined = card.decline_code is not None
    captured = not declined and intent["capture_method"] == "automatic"
    details = _card_details(card)
    details.update({
        "amount_authorized": None if declined else intent["amount"],
        "authorization_code": None if declined else secrets.token_hex(3),
        "generated_card": None,
        "incremental_authorization_supported": False,
        "overcapture_supported": False,
        "receipt": {"application_preferred_name": None, "dedicated_file_name": None,
                    "authorization_response_code": "05" if declined else "00"},
    })  # fmt: skip
    return {
        "id": chid,
        "object": "charge",
        "amount": intent["amount"],
        "amount_captured": intent["amount"] if captured else 0,
        "amount_refunded": 0,
        "application": None,
        "application_fee": None,
        "application_fee_amount": None,
        "balance_transaction": None if not captured else "txn_" + chid[3:],
        "billing_details": {
            "address": {"city": None, "country": None, "line1": None, "line2": None,
                        "postal_code": None, "state": None},
            "email": None, "name": None, "phone": None, "tax_id": None,
        },
        "calculated_statement_descriptor": None,
        "captured": captured,
        "created": created,
        "currency": intent["currency"],
        "customer": None,
        "description": intent.get("description"),
        "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": "card_declined" if declined else None,
        "failure_message": DECLINE_MESSAGES.get(card.decline_code or "") if declined else None,
        "fraud_details": {},
        "livemode": False,
        "metadata": dict(intent.get("metadata") or {}),
        "on_behalf_of": None,
        "outcome": {
            "advice_code": None, "network_advice_code": None, "network_decline_code": None,
            "network_status": "declined_by_network" if declined else "approved_by_network",
            "reason": card.decline_code, "risk_level": "normal",
            "seller_message": "The bank did not return any further details with this decline."
            if declined else "Payment complete.",
            "type": "issuer_declined" if declined else "authorized",
        },
        "paid": not declined,
        "payment_intent": intent["id"],
        "payment_method": pmid,
        "payment_method_details": {"card_present": details, "type": "card_present"},
        "receipt_email": None,
        "receipt_number": None,
        "receipt_url": None,
        "refunded": False,
        "refunds": {"object": "list", "data": [], "has_more": False,
                    "url": f"/v1/charges/{chid}/refunds"},
        "review": None,
        "shipping": None,
        "source": None,
        "source_transfer": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "failed" if declined else "succeeded",
        "transfer_data": None,
        "transfer_group": None,
    }  # fmt: skip


def refund(
    rid: str, ch: dict[str, Any], amount: int, params: dict[str, Any], created: int
) -> dict[str, Any]:
    return {
        "id": rid,
        "object": "refund",
        "amount": amount,
        "balance_transaction": "txn_" + rid[3:],
        "charge": ch["id"],
        "created": created,
        "currency": ch["currency"],
        "customer": None,
        "customer_account": None,
        "destination_details": {"card": {"type": "refund"}, "type": "card"},
        "metadata": dict(params.get("metadata") or {}),
        "payment_intent": ch["payment_intent"],
        "payment_method": ch["payment_method"],
        "reason": params.get("reason"),
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": "succeeded",
        "transfer_reversal": None,
    }


def location(lid: str, params: dict[str, Any]) -> dict[str, Any]:
    address = dict(params.get("address") or {})
    return {
        "id": lid,
        "object": "terminal.location",
        "address": {
            "city": address.get("city"), "country": address.get("country", "US"),
            "line1": address.get("line1"), "line2": address.get("line2"),
            "postal_code": address.get("postal_code"), "state": address.get("state"),
        },
        "display_name": str(params.get("display_name") or "Shop"),
        "livemode": False,
        "metadata": dict(params.get("metadata") or {}),
    }  # fmt: skip


def reader(
    rid: str, device_type: str, label: str, location_id: str | None, serial: str, ip: str
) -> dict[str, Any]:
    return {
        "id": rid,
        "object": "terminal.reader",
        "action": None,
        "device_sw_version": "2.42.1.0" if not device_type.startswith("simulated") else "",
        "device_type": device_type,
        "ip_address": ip,
        "label": label,
        "last_seen_at": None,
        "livemode": False,
        "location": location_id,
        "metadata": {},
        "serial_number": serial,
        "status": "online",
    }


def event(
    eid: str, kind: str, obj: dict[str, Any], created: int, request: dict[str, Any]
) -> dict[str, Any]:
    return {
        "id": eid,
        "object": "event",
        "api_version": "2026-08-27.dahlia",
        "created": created,
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 0,
        "request": request,
        "type": kind,
    }
