"""What the till sends for a sale, and how it checks what WooCommerce made of it.

WooCommerce facts this depends on:

* ``status: completed`` with ``set_paid: true`` reduces stock inside the
  request, exactly once; nothing else may touch the store's stock for a sale.
* ``subtotal``/``total`` on a line are *net* strings; without them
  WooCommerce prices the line at the product's price of the moment.
* ``date_created`` is not writable: the sale time travels in ``meta_data``.
* A non-existent ``product_id`` is accepted (201, an empty line at 0.00), so
  the created order is compared line by line with the sale.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from onetill.store.orders import OrderRecord

__all__ = [
    "META_CHANGE",
    "META_SOLD_AT",
    "META_TENDERED",
    "META_TILL",
    "META_UUID",
    "compare_created",
    "meta_value",
    "order_payload",
]

META_UUID = "_onetill_order_uuid"
META_SOLD_AT = "_onetill_sold_at"
META_TILL = "_onetill_till_id"
META_TENDERED = "_onetill_tendered"
META_CHANGE = "_onetill_change"
META_CARD_BRAND = "_onetill_card_brand"
META_CARD_LAST4 = "_onetill_card_last4"
# As the WooCommerce Stripe gateway keeps them on its orders.
META_STRIPE_INTENT = "_stripe_intent_id"
META_STRIPE_CHARGE = "_stripe_charge_id"
META_STRIPE_CAPTURED = "_stripe_charge_captured"
META_STRIPE_CURRENCY = "_stripe_currency"
CREATED_VIA = "onetill"


def order_payload(order: OrderRecord) -> dict[str, Any]:
    """The ``POST /orders`` body for a recorded sale (``order.lines`` must be loaded)."""
    if not order.lines:
        raise ValueError(f"order {order.uuid} has no lines loaded")
    meta = [
        {"key": META_UUID, "value": order.uuid},
        {"key": META_SOLD_AT, "value": order.created_at},
        {"key": META_TILL, "value": order.till_id},
    ]
    if order.tendered:
        meta.append({"key": META_TENDERED, "value": order.tendered})
        meta.append({"key": META_CHANGE, "value": order.change})
    if order.card_brand:
        meta.append({"key": META_CARD_BRAND, "value": order.card_brand})
    if order.card_last4:
        meta.append({"key": META_CARD_LAST4, "value": order.card_last4})
    if order.charge_id or order.transaction_id.startswith("pi_"):
        # Paid through Stripe: the keys the WooCommerce Stripe gateway writes.
        meta.extend(_stripe_meta(order))
    lines = []
    for line in order.lines:
        item: dict[str, Any] = {
            "product_id": line.product_id,
            "quantity": line.quantity,
            "subtotal": line.subtotal,
            "total": line.total,
        }
        if line.variation_id:
            item["variation_id"] = line.variation_id
        lines.append(item)
    payload: dict[str, Any] = {
        "status": "completed",
        "set_paid": True,
        "payment_method": order.payment_method,
        "payment_method_title": order.payment_title,
        "created_via": CREATED_VIA,
        "line_items": lines,
        "meta_data": meta,
    }
    if order.currency:
        payload["currency"] = order.currency
    if order.transaction_id:
        payload["transaction_id"] = order.transaction_id
    return payload


def _stripe_meta(order: OrderRecord) -> list[dict[str, str]]:
    out = []
    if order.transaction_id.startswith("pi_"):
        out.append({"key": META_STRIPE_INTENT, "value": order.transaction_id})
    if order.charge_id:
        out.append({"key": META_STRIPE_CHARGE, "value": order.charge_id})
        out.append({"key": META_STRIPE_CAPTURED, "value": "yes"})
    out.append({"key": META_STRIPE_CURRENCY, "value": order.currency.upper()})
    return out


def meta_value(order: Mapping[str, Any], key: str) -> Any:
    """The value of ``key`` in a WooCommerce object's ``meta_data`` (None if absent)."""
    for entry in order.get("meta_data") or []:
        if isinstance(entry, Mapping) and entry.get("key") == key:
            return entry.get("value")
    return None


def _money(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _same_amount(mine: str, shown: Any) -> bool:
    """Whether the store's ``shown`` amount is ``mine`` rounded as the store prints it.

    WooCommerce prints a line's net total with the store's number of decimals
    (0 for JPY, 3 for KWD) while the till keeps it unrounded: compare at the
    precision the store used, rounding half up as PHP's ``round`` does.
    """
    theirs = _money(shown)
    if theirs is None or not theirs.is_finite():
        return False
    exponent = theirs.as_tuple().exponent
    places = Decimal(1).scaleb(exponent if isinstance(exponent, int) else 0)
    return Decimal(mine).quantize(places, rounding=ROUND_HALF_UP) == theirs


def compare_created(order: OrderRecord, remote: Mapping[str, Any]) -> str | None:
    """How the order WooCommerce created differs from the sale, or None if it matches.

    Checks the total and each line (product, variation, quantity, net
    total). The text names every difference, for the discrepancy log.
    """
    problems: list[str] = []
    total = _money(remote.get("total"))
    if total is None or total != Decimal(order.total):
        problems.append(f"total: till {order.total}, store {remote.get('total')}")
    remote_lines = [x for x in remote.get("line_items") or [] if isinstance(x, Mapping)]
    unmatched = list(remote_lines)
    for line in order.lines:
        want_total = Decimal(line.total).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        match = None
        for candidate in unmatched:
            if (
                candidate.get("product_id") == line.product_id
                and int(candidate.get("variation_id") or 0) == line.variation_id
                and candidate.get("quantity") == line.quantity
                and _same_amount(line.total, candidate.get("total"))
            ):
                match = candidate
                break
        if match is None:
            problems.append(
                f"line {line.line_no} ({line.sku or line.name} x{line.quantity}, net "
                f"{want_total}) missing or different in the store"
            )
        else:
            unmatched.remove(match)
    for extra in unmatched:
        problems.append(
            f"store line product {extra.get('product_id')} variation "
            f"{extra.get('variation_id')} x{extra.get('quantity')} total {extra.get('total')}"
            " not in the sale"
        )
    return "; ".join(problems) if problems else None
