"""Orders and refunds, the way WooCommerce 11 creates and changes them.

Facts this module depends on:
- ``set_paid: true`` runs ``payment_complete()``: a pending order becomes
  ``processing`` and gets ``date_paid``; ``status: completed`` works with or
  without it. Stock is reduced once per order when it reaches processing,
  completed or on-hold (``wc_maybe_reduce_stock_levels``), restored when it
  moves to cancelled or pending. No availability check: stock goes negative.
- An unknown ``product_id`` is accepted: an empty line at 0.00.
- ``subtotal``/``total`` are net; when absent the product price is made net
  with the base rates; taxes are computed here (``tax_lines`` is read-only).
- ``date_created`` is not writable; ``created_via`` and ``meta_data`` are.
- There is no idempotency: the same POST twice makes two orders.
- Money is rounded to the store's price decimals (``money.py``), never a
  fixed 2; nets and taxes are kept unrounded so a ``dp`` read can reprint them.

Refunds are in ``refunds.py``; the order totals (``calculate_totals``) in
``order_totals.py``.
"""

from __future__ import annotations

import re
import secrets
import string
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from . import catalog, defaults, money, tax
from .errors import Checks, invalid_param
from .order_rules import is_integer, no_zero_quantity, paid_status, raise_subtotals
from .order_totals import calculate_totals, fmt_money, json_number
from .records import ORDER, Item

if TYPE_CHECKING:
    from .state import SandboxStore

__all__ = [
    "ORDER_STATUSES",
    "add_note",
    "create_order",
    "fmt_money",
    "json_number",
    "set_status",
    "update_order",
]

ORDER_STATUSES = (  # wc_get_order_statuses() after auto-draft, as the schema's enum lists them
    "auto-draft",
    "pending",
    "processing",
    "on-hold",
    "completed",
    "cancelled",
    "refunded",
    "failed",
    "checkout-draft",
)
_LABELS = {
    "pending": "Pending payment",
    "processing": "Processing",
    "on-hold": "On hold",
    "completed": "Completed",
    "cancelled": "Cancelled",
    "refunded": "Refunded",
    "failed": "Failed",
    "checkout-draft": "Draft",
}
_REDUCING = ("processing", "completed", "on-hold")
_RESTORING = ("cancelled", "pending")
_WRITABLE = (
    "payment_method",
    "payment_method_title",
    "transaction_id",
    "customer_note",
    "created_via",
    "customer_id",
    "currency",
    "parent_id",
    "customer_ip_address",
    "customer_user_agent",
)


def _dec(v: Any, name: str) -> Decimal:
    """``set_subtotal``/``set_total``: ``wc_format_decimal``, and 0 for what is not a number."""
    try:
        value = Decimal(str(v).strip())
    except InvalidOperation:
        return Decimal(0)
    return value if value.is_finite() else Decimal(0)


def add_note(store: SandboxStore, order: Item, text: str) -> None:
    """A system order note, newest first (saved with the order by the caller)."""
    now = store.now()
    order.meta.setdefault("notes", []).insert(
        0,
        {
            "id": store.next_id("note"),
            "author": "WooCommerce",
            "created": now,
            "note": text,
            "customer_note": False,
        },
    )


def _resolve(store: SandboxStore, li: dict[str, Any]) -> tuple[Item | None, Item | None]:
    pid = int(li.get("product_id") or 0)
    vid = int(li.get("variation_id") or 0)
    sku = li.get("sku")
    if not pid and not vid and sku:
        for it in (*store.variations.values(), *store.products.values()):
            if it.data.get("sku") == sku:
                pid = it.id
                break
    if not vid and pid in store.variations:  # a variation id sent as product_id
        vid = pid
    var = store.variations.get(vid) if vid else None
    if var is not None:
        pid = var.data["parent_id"]
    return store.products.get(pid), var


def _php_intval(value: Any) -> int:
    """PHP ``intval`` (via ``wc_stock_amount``): the leading integer, else 0."""
    if isinstance(value, bool | int | float):
        return int(value)
    digits = re.match(r"\s*[+-]?\d+", str(value))
    return int(digits.group()) if digits else 0


def _check_lines(body: dict[str, Any]) -> None:
    """The schema check WordPress runs before the handler: nothing is saved on a 400."""
    for index, li in enumerate(body.get("line_items") or []):
        if not isinstance(li, dict):
            continue
        if "quantity" in li and not is_integer(li["quantity"]):
            raise invalid_param(
                "line_items",
                f"line_items[{index}][quantity] is not of type integer.",
                "rest_invalid_type",
                where=f"line_items[{index}][quantity]",
            )
        for key in ("subtotal", "total"):
            if li.get(key) is not None and not isinstance(li[key], str):
                raise invalid_param(
                    "line_items",
                    f"line_items[{index}][{key}] is not of type string.",
                    "rest_invalid_type",
                    where=f"line_items[{index}][{key}]",
                )


def _line(store: SandboxStore, order: Item, li: dict[str, Any], validate: bool) -> dict[str, Any]:
    product, var = _resolve(store, li)
    raw_qty = li.get("quantity", 1)
    # A valid quantity may still be "2" or 2.0; a batch item is never checked: intval.
    qty = int(float(raw_qty)) if validate and is_integer(raw_qty) else _php_intval(raw_qty)
    sold = var or product
    line: dict[str, Any] = {
        "id": store.next_id("item"),
        "name": "",
        "product_id": 0,
        "variation_id": 0,
        "quantity": qty,
        "tax_class": "",
    }
    taxable = True
    if sold is not None and product is not None:
        tax_class = str(sold.data.get("tax_class", ""))
        if tax_class == "parent":
            tax_class = str(product.data.get("tax_class", ""))
        taxable = sold.data.get("tax_status", "taxable") == "taxable"
        options = [
            str(a.get("option", "")) for a in (var.data.get("attributes", []) if var else [])
        ]
        line.update(
            name=f"{product.data['name']} - {', '.join(options)}" if var else product.data["name"],
            product_id=product.id,
            variation_id=var.id if var else 0,
            tax_class=tax_class,
        )
        # wc_get_price_excluding_tax() takes max(0, qty): a negative line costs nothing.
        price = catalog.active_price(store, sold)
        net = tax.net_line_price(store, price, max(qty, 0), tax_class, taxable)
    else:
        net = Decimal(0)
    subtotal = _dec(li["subtotal"], "subtotal") if li.get("subtotal") is not None else net
    total = _dec(li["total"], "total") if li.get("total") is not None else net
    rates = tax.base_rates(store, line["tax_class"]) if taxable else []
    taxes = tax.calc_exclusive(total, rates)
    sub_taxes = tax.calc_exclusive(subtotal, rates)
    if sum(sub_taxes.values(), Decimal(0)) < sum(taxes.values(), Decimal(0)):
        sub_taxes = dict(taxes)
    dp = money.price_decimals(store)
    # WC_Order_Item_Product::set_taxes: per-line rounding rounds each rate's tax.
    if store.setting("woocommerce_tax_round_at_subtotal", "no") != "yes":
        line_sub_tax = sum((tax.round_tax_total(store, t) for t in sub_taxes.values()), Decimal(0))
        line_tax = sum((tax.round_tax_total(store, t) for t in taxes.values()), Decimal(0))
    else:
        line_sub_tax = sum(sub_taxes.values(), Decimal(0))
        line_tax = sum(taxes.values(), Decimal(0))
    meta: list[dict[str, Any]] = []
    if var is not None:
        for a in var.data.get("attributes", []):
            meta.append(
                {
                    "id": store.next_id("item_meta"),
                    "key": str(a.get("slug") or a["name"]).lower(),
                    "value": a.get("option", ""),
                    "display_key": a.get("name", ""),
                    "display_value": a.get("option", ""),
                }
            )
    line.update(
        subtotal=fmt_money(subtotal, dp),
        subtotal_tax=fmt_money(line_sub_tax, dp),
        total=fmt_money(total, dp),
        total_tax=fmt_money(line_tax, dp),
        taxes=[
            {
                "id": k,
                "total": fmt_money(v, dp),
                "subtotal": fmt_money(sub_taxes.get(k, Decimal(0)), dp),
            }
            for k, v in taxes.items()
        ],
        meta_data=meta,
        sku=sold.data.get("sku", "") if sold else None,
        global_unique_id=sold.data.get("global_unique_id", "") if sold else None,
        # PHP divides the stored decimal string as a float: json_encode prints that double.
        price=_php_float_div(total, qty) if qty and total else 0,
        image={"id": 0 if var or sold is None else "", "src": ""},
        parent_name=product.data["name"] if var and product else None,
    )
    order.meta.setdefault("raw", {})[str(line["id"])] = {
        "subtotal": str(subtotal),
        "total": str(total),
        "subtotal_tax": str(line_sub_tax),
        "total_tax": str(line_tax),
        "taxes": {str(k): str(v) for k, v in taxes.items()},
        "sub_taxes": {str(k): str(v) for k, v in sub_taxes.items()},
    }
    return line


def _php_float_div(total: Decimal, qty: int) -> int | float:
    result = float(str(total)) / qty
    return int(result) if result.is_integer() else result


def _reduce_stock(store: SandboxStore, order: Item) -> None:
    if order.meta.get("stock_reduced"):
        return
    order.meta["stock_reduced"] = True
    changes = []
    for line in order.data["line_items"]:
        item = store.find(line["variation_id"] or line["product_id"])
        if item is None:
            continue
        parent = store.products.get(line["product_id"])
        if parent is not None:
            parent.data["total_sales"] = int(parent.data.get("total_sales", 0)) + line["quantity"]
        moved = catalog.adjust_stock(store, item, -line["quantity"])
        if moved is None:
            continue
        line["meta_data"].append(
            {
                "id": store.next_id("item_meta"),
                "key": "_reduced_stock",
                "value": str(line["quantity"]),
                "display_key": "_reduced_stock",
                "display_value": str(line["quantity"]),
            }
        )
        changes.append(f"{line['name']} ({moved[1]}&rarr;{moved[2]})")
    if changes:
        add_note(store, order, "Stock levels reduced: " + ", ".join(changes))


def _restore_stock(store: SandboxStore, order: Item) -> None:
    if not order.meta.get("stock_reduced"):
        return
    order.meta["stock_reduced"] = False
    changes = []
    for line in order.data["line_items"]:
        reduced = next((m for m in line["meta_data"] if m["key"] == "_reduced_stock"), None)
        item = store.find(line["variation_id"] or line["product_id"])
        if reduced is None or item is None:
            continue
        line["meta_data"].remove(reduced)
        moved = catalog.adjust_stock(store, item, int(reduced["value"]))
        if moved is not None:
            changes.append(f"{line['name']} ({moved[1]}&rarr;{moved[2]})")
    if changes:
        add_note(store, order, "Stock levels increased: " + ", ".join(changes))


def set_status(store: SandboxStore, order: Item, new: str) -> None:
    old = order.data["status"]
    if new == old:
        return
    order.data["status"] = new
    now = store.now()
    # maybe_set_date_paid(): only on reaching the paid status payment_complete() would set
    # (processing, or completed when nothing needs processing), or completed after it.
    paid = paid_status(store, order)
    if order.meta.get("date_paid") is None and (
        new == paid or (paid == "processing" and new == "completed")
    ):
        order.meta["date_paid"] = now
    if new == "completed":
        order.meta["date_completed"] = now
    # The stock hooks run before the status-change note is written, as in WooCommerce.
    if new in _REDUCING:
        _reduce_stock(store, order)
    elif new in _RESTORING:
        _restore_stock(store, order)
    add_note(
        store,
        order,
        f"Order status changed from {_LABELS.get(old, old)} to {_LABELS.get(new, new)}.",
    )


def _apply_fields(store: SandboxStore, order: Item, body: dict[str, Any]) -> None:
    for key in _WRITABLE:
        if key in body:
            order.data[key] = body[key]
    for key in ("billing", "shipping"):
        if isinstance(body.get(key), dict):
            order.data[key].update({k: v for k, v in body[key].items() if k in order.data[key]})
    if isinstance(body.get("meta_data"), list):
        meta = order.data["meta_data"]
        for m in body["meta_data"]:
            if not isinstance(m, dict) or "key" not in m:
                continue
            hit = next((x for x in meta if "id" in m and x["id"] == m["id"]), None)
            if hit is not None:
                hit["value"] = m.get("value")
            else:
                meta.append(
                    {"id": store.next_id("order_meta"), "key": m["key"], "value": m.get("value")}
                )


def _check_status(body: dict[str, Any]) -> None:
    if "status" in body and body["status"] not in ORDER_STATUSES:
        msg = f"status is not one of {', '.join(ORDER_STATUSES[:-1])}, and {ORDER_STATUSES[-1]}."
        raise invalid_param("status", msg, "rest_not_in_enum")


def _unchecked_status(body: dict[str, Any]) -> dict[str, Any]:
    """Batch items skip the schema; ``WC_Order::set_status()`` turns an unknown status
    into pending."""
    if body.get("status") in (None, *ORDER_STATUSES):
        return body
    return {**body, "status": "pending"}


def create_order(store: SandboxStore, body: dict[str, Any], *, validate: bool = True) -> Item:
    """``POST /orders``: always a new order (no idempotency), stock by the status rules."""
    if validate:
        found = Checks(("status", "line_items"))
        found.run(_check_status, body)
        found.run(_check_lines, body)
        found.done()
    else:
        body = _unchecked_status(body)
    no_zero_quantity(body, validate)
    now = store.now()
    key = "wc_order_" + "".join(
        secrets.choice(string.ascii_letters + string.digits) for _ in range(13)
    )
    data = defaults.order_template()
    data.update(
        order_key=key,
        prices_include_tax=tax.prices_include_tax(store),
        currency=store.setting("woocommerce_currency", "EUR"),
    )
    order = Item(ORDER, store.next_id("post"), data, now, now)
    _apply_fields(store, order, body)
    for li in body.get("line_items") or []:
        if isinstance(li, dict):
            data["line_items"].append(_line(store, order, li, validate))
    calculate_totals(store, order)
    raise_subtotals(order)
    store.orders[order.id] = order
    target = body.get("status") or "pending"
    set_status(store, order, target)
    if body.get("set_paid") in (True, "true", "1", 1):
        if order.data["status"] in ("on-hold", "pending", "failed", "cancelled"):
            order.meta["date_paid"] = store.now()
            set_status(store, order, paid_status(store, order))
        _reduce_stock(store, order)  # woocommerce_payment_complete
    order.modified = store.now()
    store.save(order)
    store.emit("order.created", order.id)
    return order


def update_order(
    store: SandboxStore, order: Item, body: dict[str, Any], *, validate: bool = True
) -> None:
    if validate:
        _check_status(body)
    else:
        body = _unchecked_status(body)
    _apply_fields(store, order, body)
    if "status" in body:
        set_status(store, order, body["status"])
    if body.get("set_paid") in (True, "true", "1", 1) and order.meta.get("date_paid") is None:
        order.meta["date_paid"] = store.now()
        if order.data["status"] in ("on-hold", "pending", "failed", "cancelled"):
            set_status(store, order, paid_status(store, order))
        _reduce_stock(store, order)
    order.modified = store.now()
    store.save(order)
    store.emit("order.updated", order.id)
