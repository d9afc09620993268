"""Refunds: ``POST /orders/{id}/refunds`` with negative lines and optional restock.

WooCommerce facts: ``amount`` must be positive and at most what is left to
refund; ``api_restock`` (WooCommerce 11's v3 flag, default true; the older
``restock_items`` is ignored) puts each refunded line's quantity back on the
item holding the stock (order note "Item #N stock increased from a to b.");
a refund of the whole remaining total marks the order ``refunded``.
``api_refund`` defaults to true: the order's payment gateway must then
refund the money, and an order paid outside a gateway that supports refunds
gets a 500 and no refund. ``meta_data`` given with the request is saved on
the refund.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from . import catalog, money, tax
from .checkout import add_note, fmt_money, json_number, set_status
from .errors import RestError
from .records import REFUND, Item

if TYPE_CHECKING:
    from .state import SandboxStore

__all__ = ["create_refund"]

# Core gateways, none of which refunds through the API.
_NO_REFUND_GATEWAYS = frozenset({"bacs", "cheque", "cod"})


def create_refund(store: SandboxStore, order: Item, body: dict[str, Any]) -> Item:
    """``POST /orders/{id}/refunds``: negative lines, optional restock, maybe ``refunded``."""
    dp = money.price_decimals(store)
    by_id = {li["id"]: li for li in order.data["line_items"]}
    rates = {int(r["id"]): r for r in store.taxes}
    lines: list[dict[str, Any]] = []
    tax_totals: dict[int, Decimal] = {}
    computed = Decimal(0)
    restock: list[tuple[dict[str, Any], int]] = []
    for req in body.get("line_items") or []:
        src = by_id.get(int(req.get("id", 0))) if isinstance(req, dict) else None
        if src is None:
            continue
        qty = int(req.get("quantity") or 0)
        amount = Decimal(str(req.get("refund_total") or "0"))
        taxes = {
            int(t["id"]): Decimal(str(t.get("refund_total") or "0"))
            for t in req.get("refund_tax") or []
            if isinstance(t, dict)
        }
        for rid, t in taxes.items():
            tax_totals[rid] = tax_totals.get(rid, Decimal(0)) + t
        line_tax = sum(taxes.values(), Decimal(0))
        computed += amount + line_tax
        lines.append(
            {
                "id": store.next_id("item"),
                "name": src["name"],
                "product_id": src["product_id"],
                "variation_id": src["variation_id"],
                "quantity": -qty,
                "tax_class": src["tax_class"],
                "subtotal": fmt_money(-amount, dp),
                "subtotal_tax": fmt_money(-line_tax, dp),
                "total": fmt_money(-amount, dp),
                "total_tax": fmt_money(-line_tax, dp),
                "taxes": [
                    {"id": k, "total": fmt_money(-v, dp), "subtotal": fmt_money(-v, dp)}
                    for k, v in taxes.items()
                ],
                "meta_data": [
                    {
                        "id": store.next_id("item_meta"),
                        "key": "_refunded_item_id",
                        "value": str(src["id"]),
                        "display_key": "_refunded_item_id",
                        "display_value": str(src["id"]),
                    }
                ],
                "sku": src["sku"],
                "global_unique_id": src["global_unique_id"],
                "price": json_number((amount / qty).quantize(money.quantum(dp))) if qty else 0,
                "image": src["image"],
                "parent_name": src["parent_name"],
            }
        )
        if qty:
            restock.append((src, qty))
    amount = Decimal(str(body["amount"])) if body.get("amount") not in (None, "") else computed
    already = sum(
        (
            Decimal(store.refunds[r].data["amount"])
            for r in order.meta.get("refunds", [])
            if r in store.refunds
        ),
        Decimal(0),
    )
    remaining = Decimal(order.data["total"]) - already
    if amount <= 0:
        raise RestError(
            400, "woocommerce_rest_invalid_order_refund", "Refund amount must be greater than zero."
        )
    if amount > remaining:
        raise RestError(
            500, "woocommerce_rest_cannot_create_order_refund", "Invalid refund amount.", bare=True
        )
    if body.get("api_refund") not in (False, "false", "0", 0):
        method = str(order.data.get("payment_method") or "")
        text = (
            "The payment gateway for this order does not support automatic refunds."
            if method in _NO_REFUND_GATEWAYS
            else "The payment gateway for this order does not exist."
        )
        raise RestError(500, "woocommerce_rest_cannot_create_order_refund", text)
    full = amount == remaining
    now = store.now()
    data = {
        "amount": fmt_money(amount, dp),
        "reason": str(body.get("reason") or ""),
        "refunded_by": 1,
        "refunded_payment": False,
        "meta_data": [
            {
                "id": store.next_id("order_meta"),
                "key": "_refund_type",
                "value": "full" if full else "partial",
            },
            *[
                {"id": store.next_id("order_meta"), "key": str(m["key"]), "value": m.get("value")}
                for m in body.get("meta_data") or []
                if isinstance(m, dict) and m.get("key")
            ],
        ],
        "line_items": lines,
        "shipping_lines": [],
        "tax_lines": [
            {
                "id": store.next_id("item"),
                "rate_code": tax.rate_code(rates.get(rid, {})),
                "rate_id": rid,
                "label": rates.get(rid, {}).get("name", ""),
                "compound": bool(rates.get(rid, {}).get("compound")),
                "tax_total": fmt_money(-v, dp),
                "shipping_tax_total": "0.00",
                "rate_percent": json_number(Decimal(str(rates.get(rid, {}).get("rate", "0")))),
                "meta_data": [],
            }
            for rid, v in tax_totals.items()
        ],
        "fee_lines": [],
    }
    refund = Item(REFUND, store.next_id("post"), data, now, now, {"order_id": order.id})
    store.refunds[refund.id] = refund
    order.meta.setdefault("refunds", []).insert(0, refund.id)
    store.save(refund)
    if body.get("api_restock", True) not in (False, "false", "0", 0):
        for src, qty in restock:
            item = store.find(src["variation_id"] or src["product_id"])
            moved = None if item is None else catalog.adjust_stock(store, item, qty)
            if moved is not None:
                add_note(
                    store,
                    order,
                    f"Item #{moved[0].id} stock increased from {moved[1]} to {moved[2]}.",
                )
    if full:
        set_status(store, order, "refunded")
    order.modified = store.now()
    store.save(order)
    store.emit("order.updated", order.id)
    return refund
