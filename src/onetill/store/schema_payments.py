"""Card payments (Stripe Terminal), refunds and Stripe's webhook events.

``card_payments``: one row per attempt to take a card payment for a cart.
It is written *before* any request to Stripe: the idempotency key (made
once per attempt) and the priced sale (``sale_json``: the order and lines
that are recorded when the card is charged) are on disk first, so a crash
at any point is recovered by asking Stripe about the stored PaymentIntent.
States: ``starting`` (the PaymentIntent may or may not exist) -> ``open``
(it exists; not on a reader: new, declined, reader offline/busy/timed
out) <-> ``processing`` (handed to the reader, or maybe) -> ``paid`` (the
sale is recorded, in the same transaction) | ``canceled`` (canceled at
Stripe: can never be charged).

``refunds``: one row per refund, its Stripe part first (``stripe_pending``
-> ``pending_sync``), then the WooCommerce refund through the outbox
(``pending_sync`` -> ``in_flight`` -> ``synced`` | ``failed``), drained
after the orders, FIFO. ``stripe_events``: verified webhook events by id
(a replay is ignored); a till waiting for its reader reads them here.
"""

from __future__ import annotations

__all__ = ["STATEMENTS"]

STATEMENTS: list[str] = [
    "ALTER TABLE orders ADD COLUMN charge_id TEXT NOT NULL DEFAULT ''",
    """
    CREATE TABLE card_payments (
        id TEXT PRIMARY KEY,              -- the attempt
        sale_uuid TEXT NOT NULL UNIQUE,   -- the order's UUID once paid
        cart_key TEXT NOT NULL,           -- what was sold, for "same cart again"
        till_id TEXT NOT NULL,
        amount INTEGER NOT NULL,          -- minor units of currency
        currency TEXT NOT NULL,           -- lowercase ISO 4217, as Stripe writes it
        reader_id TEXT NOT NULL DEFAULT '',
        idem_key TEXT NOT NULL UNIQUE,    -- made once per attempt, stored before the first call
        intent_id TEXT UNIQUE,
        handoffs INTEGER NOT NULL DEFAULT 0, -- process_payment_intent calls (each its own key)
        state TEXT NOT NULL,
        reader_text TEXT NOT NULL DEFAULT '',
        failure_code TEXT,
        failure_reason TEXT,
        charge_id TEXT,
        card_brand TEXT,
        card_last4 TEXT,
        sale_json TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )
    """,
    "CREATE INDEX card_payments_state ON card_payments(state, till_id)",
    """
    CREATE TABLE refunds (
        uuid TEXT PRIMARY KEY,
        seq INTEGER NOT NULL UNIQUE,
        order_uuid TEXT NOT NULL REFERENCES orders(uuid),
        state TEXT NOT NULL,
        amount TEXT NOT NULL,             -- gross, decimal string
        reason TEXT NOT NULL DEFAULT '',
        lines TEXT NOT NULL DEFAULT '[]', -- [{line_no, quantity}] returned (restocked)
        stripe_key TEXT,                  -- idempotency key of the Stripe refund
        stripe_refund_id TEXT,
        remote_id INTEGER,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        in_flight_since TEXT,
        last_error TEXT,
        created_at TEXT NOT NULL,
        synced_at TEXT
    )
    """,
    "CREATE INDEX refunds_state ON refunds(state, seq)",
    """
    CREATE TABLE stripe_events (
        id TEXT PRIMARY KEY,
        type TEXT NOT NULL,
        reader_id TEXT,
        intent_id TEXT,
        received_at TEXT NOT NULL
    )
    """,
    "CREATE INDEX stripe_events_reader ON stripe_events(reader_id, received_at)",
]
