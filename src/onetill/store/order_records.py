"""The records of a sale as stored: what ``insert_sale`` takes and ``get_order`` returns.

Timestamps are fixed-width UTC text (``2026-11-26T16:00:00.000000Z``) so that
SQLite's text comparison is time comparison (the queue's ``next_attempt_at``
checks rely on it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "DUE_NOW",
    "NewLine",
    "NewOrder",
    "OrderLine",
    "OrderRecord",
    "OrderStateError",
    "format_ts",
    "parse_ts",
]

# ``next_attempt_at`` of an order (or refund) that may go now, whatever any
# clock says: a sale made while the till's clock ran ahead must not wait for
# that clock.
DUE_NOW = "1970-01-01T00:00:00.000000Z"


class OrderStateError(ValueError):
    """An action that the order's state does not allow (says which and why)."""


def format_ts(moment: datetime) -> str:
    """Fixed-width UTC text, so that string order is time order."""
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_ts(text: str) -> datetime:
    """The aware UTC datetime of a stored timestamp."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


@dataclass(frozen=True)
class NewLine:
    """One line of a sale, as recorded."""

    product_id: int
    variation_id: int
    stock_item_id: int
    sku: str
    name: str
    quantity: int
    unit_price: str
    subtotal: str
    total: str
    tax: str
    tax_class: str
    decrement_stock: bool


@dataclass(frozen=True)
class NewOrder:
    """A sale, as recorded."""

    uuid: str
    created_at: datetime
    till_id: str
    currency: str
    payment_method: str
    payment_title: str
    subtotal: str
    total_tax: str
    total: str
    tax_lines: str = "{}"
    transaction_id: str = ""
    card_brand: str = ""
    card_last4: str = ""
    tendered: str = ""
    change: str = ""
    charge_id: str = ""  # Stripe charge (ch_...) of a card sale paid through the till


@dataclass(frozen=True)
class OrderLine:
    """A stored order line."""

    line_no: int
    product_id: int
    variation_id: int
    stock_item_id: int
    sku: str
    name: str
    quantity: int
    unit_price: str
    subtotal: str
    total: str
    tax: str
    tax_class: str
    stock_decremented: bool


@dataclass(frozen=True)
class OrderRecord:
    """A stored order with its outbox row."""

    uuid: str
    seq: int
    state: str
    created_at: str
    till_id: str
    currency: str
    payment_method: str
    payment_title: str
    transaction_id: str
    card_brand: str
    card_last4: str
    subtotal: str
    total_tax: str
    total: str
    tendered: str
    change: str
    remote_id: int | None
    remote_number: str | None
    void_reason: str | None
    discrepancy: str | None
    tax_lines: str
    attempts: int
    next_attempt_at: str
    in_flight_since: str | None
    first_sent_at: str | None
    server_offset_s: float | None
    last_error: str | None
    charge_id: str = ""
    store_copies: str | None = None  # JSON [ids] when the store holds this sale unexpectedly
    plugin_sends: int = 0  # sends through the plugin's idempotent POST (schema_plugin)
    lines: list[OrderLine] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The fields ``onetill orders --json`` prints."""
        return {
            "uuid": self.uuid,
            "state": self.state,
            "remote_id": self.remote_id,
            "number": self.remote_number,
            "total": self.total,
            "created_at": self.created_at,
            "attempts": self.attempts,
            "last_error": self.last_error,
            # Why a synced_with_discrepancy order needs attention (its last_error is empty).
            "discrepancy": self.discrepancy,
        }

    @property
    def copies(self) -> list[int]:
        """Store ids of the copies of this sale found beyond the one expected (see outbox)."""
        return [int(i) for i in json.loads(self.store_copies)] if self.store_copies else []
