"""Orders, their lines and the outbox.

A sale writes one ``orders`` row, its ``order_lines`` and one ``outbox`` row
in the same transaction as the optimistic stock decrement. Rows are never
deleted: a voided order stays, with its reason.

Order states: ``pending_sync`` -> ``in_flight`` -> ``synced`` |
``synced_with_discrepancy`` | ``failed`` (-> ``pending_sync`` on retry,
``voided`` on void). ``in_flight`` means "may have reached the store":
whether after a crash, a timeout or a reset, the order is looked up by UUID
before any resend. ``outbox.status`` always equals ``orders.state``.
Timestamps are UTC ISO strings of fixed width (``...T..:..:..ssssssZ``) so
that text comparison is time comparison.
"""

from __future__ import annotations

__all__ = ["STATEMENTS", "STORE_COPIES"]

STATEMENTS: list[str] = [
    """
    CREATE TABLE orders (
        uuid TEXT PRIMARY KEY,
        seq INTEGER NOT NULL UNIQUE,      -- FIFO order, assigned at sale time
        state TEXT NOT NULL,
        created_at TEXT NOT NULL,         -- sale time, UTC ISO with offset (till clock)
        till_id TEXT NOT NULL,
        currency TEXT NOT NULL,
        payment_method TEXT NOT NULL,     -- e.g. onetill_cash | onetill_card
        payment_title TEXT NOT NULL,
        transaction_id TEXT NOT NULL DEFAULT '',
        card_brand TEXT NOT NULL DEFAULT '',
        card_last4 TEXT NOT NULL DEFAULT '',
        subtotal TEXT NOT NULL,           -- net, decimal string
        total_tax TEXT NOT NULL,
        total TEXT NOT NULL,              -- gross, what the customer paid
        tendered TEXT NOT NULL DEFAULT '',
        change TEXT NOT NULL DEFAULT '',
        remote_id INTEGER,
        remote_number TEXT,
        void_reason TEXT,
        discrepancy TEXT,
        tax_lines TEXT NOT NULL DEFAULT '{}', -- rate id -> tax, JSON of decimal strings
        synced_at TEXT,
        raw_response TEXT
    )
    """,
    "CREATE INDEX orders_state ON orders(state, seq)",
    """
    CREATE TABLE order_lines (
        order_uuid TEXT NOT NULL REFERENCES orders(uuid),
        line_no INTEGER NOT NULL,
        product_id INTEGER NOT NULL,      -- the parent for a variation
        variation_id INTEGER NOT NULL DEFAULT 0,
        stock_item_id INTEGER NOT NULL,   -- the row whose stock it reduces (parent when 'parent')
        sku TEXT NOT NULL DEFAULT '',
        name TEXT NOT NULL,
        quantity INTEGER NOT NULL,
        unit_price TEXT NOT NULL,         -- as shown on the shelf (incl. or excl. tax per settings)
        subtotal TEXT NOT NULL,           -- net, before discounts
        total TEXT NOT NULL,              -- net, charged
        tax TEXT NOT NULL,
        tax_class TEXT NOT NULL DEFAULT '',
        stock_decremented INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (order_uuid, line_no)
    )
    """,
    "CREATE INDEX order_lines_stock ON order_lines(stock_item_id)",
    """
    CREATE TABLE outbox (
        order_uuid TEXT PRIMARY KEY REFERENCES orders(uuid),
        status TEXT NOT NULL,             -- mirrors orders.state
        created_at TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,    -- UTC ISO; the drainer waits for the head row
        in_flight_since TEXT,             -- set before sending; in_flight after a crash = ambiguous
        first_sent_at TEXT,               -- till clock, first time it may have reached the store
        server_offset_s REAL,             -- store clock minus till clock, measured before sending
        last_error TEXT
    )
    """,
    "CREATE INDEX outbox_status ON outbox(status, next_attempt_at)",
]

# Migration 0004: a sale the store holds more than once (a held POST that
# landed after a resend), or holds although the till voided or failed it.
# JSON list of the store's order ids; NULL when nothing is wrong. Nothing is
# ever cancelled automatically: the merchant decides which copy goes.
STORE_COPIES: list[str] = [
    "ALTER TABLE orders ADD COLUMN store_copies TEXT",
]
