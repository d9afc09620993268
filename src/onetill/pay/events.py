"""Stripe webhooks delivered to the engine: verified, stored once, then they wake waiters.

``Stripe-Signature`` is checked with the library's ``WebhookSignature``
(HMAC-SHA256 of ``"<t>.<raw body>"``, 5 minutes' tolerance) over the bytes
as received, before the body is parsed. A verified event is stored in
``stripe_events`` by its id (a replay is acknowledged and ignored); a till
waiting for its reader, in this process or another, sees it there and
reads the PaymentIntent at once instead of at its next poll.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import stripe

from onetill.store.db import Database
from onetill.store.order_records import format_ts

__all__ = ["WATCHED_EVENTS", "receive_event"]

log = logging.getLogger("onetill.pay.webhooks")

KEEP_EVENTS_DAYS = 7
TOLERANCE_S = stripe.Webhook.DEFAULT_TOLERANCE  # 5 minutes, as Stripe recommends
WATCHED_EVENTS = [
    "terminal.reader.action_succeeded",
    "terminal.reader.action_failed",
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.canceled",
]


def receive_event(
    db: Database, body: bytes, signature: str | None, secret: str | None
) -> tuple[int, str]:
    """(HTTP status, outcome) for one delivery: 400 unverified, 200 stored or duplicate."""
    if not secret:
        return 400, "no Stripe webhook secret configured"
    try:
        # The library checks the timestamp only when given a tolerance: without
        # it, a captured delivery could be replayed for ever.
        stripe.WebhookSignature.verify_header(
            body.decode("utf-8"), signature or "", secret, tolerance=TOLERANCE_S
        )
    except (stripe.SignatureVerificationError, UnicodeDecodeError):
        log.warning("Stripe webhook refused: bad or missing Stripe-Signature")
        return 400, "invalid signature"
    try:
        event = json.loads(body)
        obj: dict[str, Any] = event["data"]["object"]
        kind = str(event["type"])
        event_id = str(event["id"])
    except (ValueError, KeyError, TypeError):
        return 400, "not a Stripe event"
    reader_id = intent_id = None
    if obj.get("object") == "terminal.reader":
        reader_id = obj.get("id")
        process = (obj.get("action") or {}).get("process_payment_intent") or {}
        intent = process.get("payment_intent")
        intent_id = intent.get("id") if isinstance(intent, dict) else intent
    elif obj.get("object") == "payment_intent":
        intent_id = obj.get("id")
    with db.write() as conn:
        cur = conn.execute(
            "INSERT OR IGNORE INTO stripe_events (id, type, reader_id, intent_id, received_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (event_id, kind, reader_id, intent_id, format_ts(datetime.now(UTC))),
        )
        # Bounded history: Stripe stops retrying an event after three days.
        cutoff = format_ts(datetime.now(UTC) - timedelta(days=KEEP_EVENTS_DAYS))
        conn.execute("DELETE FROM stripe_events WHERE received_at < ?", (cutoff,))
    if cur.rowcount == 0:
        return 200, "duplicate"
    log.info("Stripe event %s %s (reader %s, intent %s)", event_id, kind, reader_id, intent_id)
    return 200, "stored"
