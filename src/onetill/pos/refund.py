"""Planning a refund of a recorded sale: how much, which items come back.

A whole refund (no amount, no items) gives back what is left of the total
and returns every line to stock. ``items`` (``[(code, qty)]``, a code is a
SKU, barcode or product id) return those units: the amount defaults to
their share of the gross line (net + tax). An ``amount`` alone is money
only: nothing is restocked. Never more than what is left to refund.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from onetill.store.orders import OrderRecord
from onetill.store.refunds import refunded_total

__all__ = ["RefundError", "RefundPlan", "plan_refund"]


class RefundError(ValueError):
    """A refund that cannot be made (says why and what to do)."""


@dataclass(frozen=True)
class RefundPlan:
    amount: Decimal
    lines: list[dict[str, int]]  # {"line_no", "quantity"}: units returned to stock
    left_after: Decimal


def _quantum(order: OrderRecord) -> Decimal:
    exponent = Decimal(order.total).as_tuple().exponent
    return Decimal(1).scaleb(exponent if isinstance(exponent, int) else -2)


def plan_refund(
    conn: sqlite3.Connection,
    order: OrderRecord,
    *,
    amount: Decimal | None = None,
    items: list[tuple[str, int]] | None = None,
) -> RefundPlan:
    if order.state == "voided":
        raise RefundError(f"sale {order.uuid} was voided: there is nothing to refund")
    q = _quantum(order)
    left = Decimal(order.total) - refunded_total(conn, order.uuid)
    if left <= 0:
        raise RefundError(f"sale {order.uuid} is already refunded in full")
    lines: list[dict[str, int]] = []
    value = Decimal(0)
    if items:
        for code, qty in items:
            match = [x for x in order.lines
                     if code in {x.sku, str(x.variation_id or x.product_id)} - {""}]  # fmt: skip
            if not match:
                raise RefundError(f"{code!r} is not a line of sale {order.uuid}")
            line = match[0]
            if qty < 1 or qty > line.quantity:
                raise RefundError(f"{code}: return between 1 and {line.quantity} units")
            lines.append({"line_no": line.line_no, "quantity": qty})
            gross = Decimal(line.total) + Decimal(line.tax)
            value += gross * qty / line.quantity
        value = value.quantize(q, rounding=ROUND_HALF_UP)
    elif amount is None:
        lines = [{"line_no": x.line_no, "quantity": x.quantity} for x in order.lines]
        value = left
    if amount is not None:
        value = amount
    if value <= 0:
        raise RefundError("a refund needs an amount above zero")
    if value > left:
        raise RefundError(
            f"{value} is more than what is left to refund on sale {order.uuid} ({left})"
        )
    return RefundPlan(value, lines, left - value)
