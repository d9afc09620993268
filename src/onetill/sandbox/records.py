"""The records the sandbox keeps: one :class:`Item` per product, variation, order, refund, webhook.

``data`` holds the v3 fields WooCommerce stores (derived ones such as ``price``,
``on_sale``, ``stock_status`` of managed stock, ``variations`` and every date
string are computed when serialised); ``created`` / ``modified`` are UTC epoch
seconds (WooCommerce keeps one-second resolution); ``meta`` holds private
state (sale window, status before trashing, webhook secret ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["KINDS", "ORDER", "PRODUCT", "REFUND", "VARIATION", "WEBHOOK", "Item"]

PRODUCT = "product"
VARIATION = "variation"
ORDER = "order"
REFUND = "refund"
WEBHOOK = "webhook"
KINDS = (PRODUCT, VARIATION, ORDER, REFUND, WEBHOOK)


@dataclass(slots=True)
class Item:
    """One stored object of any kind."""

    kind: str
    id: int
    data: dict[str, Any]
    created: int
    modified: int
    meta: dict[str, Any] = field(default_factory=dict, repr=False)  # may hold a webhook secret
