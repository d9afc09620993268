"""What the outbox remembers about uploads through the companion plugin.

``outbox.plugin_sends`` counts the sends of an order that went through the
plugin's idempotent ``POST wc-onetill/v1/orders`` (keyed by the sale UUID);
``attempts - plugin_sends`` are plain ``POST wc/v3/orders`` sends. An order
whose every send went through the plugin may be sent again at once when its
fate is unknown (the plugin returns the order the key already made); one
with a plain send keeps the plain rules (lookup, then the minimum resend
age), because that plain request can still create an order late. Existing
rows start at 0: their sends were all plain.
"""

from __future__ import annotations

__all__ = ["STATEMENTS"]

STATEMENTS: list[str] = [
    "ALTER TABLE outbox ADD COLUMN plugin_sends INTEGER NOT NULL DEFAULT 0",
]
