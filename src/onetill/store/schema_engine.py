"""Tables the engine process needs: webhook deliveries already handled.

WooCommerce gives every delivery an ``X-WC-Webhook-Delivery-ID``; a delivery
seen before (a replay, or a retry by a proxy) is acknowledged and ignored.
The table is kept on disk so that a restart does not reopen the door to
replays.
"""

from __future__ import annotations

__all__ = ["STATEMENTS"]

STATEMENTS: list[str] = [
    """
    CREATE TABLE webhook_deliveries (
        delivery_id TEXT PRIMARY KEY,
        webhook_id TEXT NOT NULL DEFAULT '',
        topic TEXT NOT NULL,
        resource_id INTEGER,
        outcome TEXT NOT NULL,            -- applied | stale | ignored | refreshed
        received_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    )
    """,
    "CREATE INDEX webhook_deliveries_received ON webhook_deliveries(received_at)",
]
