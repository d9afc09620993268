"""Order rules WooCommerce 11 applies around line items and payment, as the sandbox needs them.

- A line whose ``quantity`` is the integer 0 (or whose ``product_id`` is null) is
  "remove this item": ``remove_item()`` without an id, a PHP TypeError, a 500.
- ``payment_complete()`` moves a paid order to processing, or to completed when
  no line needs processing (none, unknown products, virtual downloads).
- A line's subtotal is never shown below its total.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .errors import PhpFatal

if TYPE_CHECKING:
    from .records import Item
    from .state import SandboxStore

__all__ = ["is_integer", "needs_processing", "no_zero_quantity", "paid_status", "raise_subtotals"]


def is_integer(value: Any) -> bool:
    """PHP ``rest_is_integer``: a number or numeric string with no fraction (not a bool)."""
    if isinstance(value, bool):
        return False
    try:
        number = float(str(value).strip())
    except ValueError:
        return False
    return number == round(number)


_CONTROLLER = "/wp-content/plugins/woocommerce/includes/rest-api/Controllers/Version3/"


def no_zero_quantity(body: dict[str, Any], validate: bool) -> None:
    """WooCommerce 11 takes a line whose ``quantity`` is the integer 0 (after the schema
    made it one; a batch item's is taken as sent) or whose ``product_id`` (``name``...) is
    null as "remove this item", and calls ``remove_item()`` with no item id: a PHP
    TypeError, a 500, and nothing more saved."""
    keys = ("product_id", "method_id", "method_title", "name", "code")
    for li in body.get("line_items") or []:
        if not isinstance(li, dict):
            continue
        raw = li.get("quantity")
        if validate:
            zero = raw is not None and is_integer(raw) and float(str(raw)) == 0
        else:
            zero = type(raw) is int and raw == 0
        if zero or any(k in li and li[k] is None for k in keys):
            where = _CONTROLLER + "class-wc-rest-orders-controller.php"
            raise PhpFatal(
                "Uncaught TypeError: WC_REST_Orders_Controller::remove_item(): Argument #3 "
                f"($item_id) must be of type int, null given, called in {where} on line 145 "
                f"and defined in {where}:216",
                where,
                216,
            )


def raise_subtotals(order: Item) -> None:
    """A line's subtotal is never shown below its total (``set_total`` raises it when the
    item is saved): the order's totals, already made, keep the posted subtotal."""
    for line in order.data["line_items"]:
        raw = order.meta["raw"][str(line["id"])]
        if Decimal(raw["subtotal"]) < Decimal(raw["total"]):
            raw["subtotal"] = raw["total"]
            line["subtotal"] = line["total"]


def needs_processing(store: SandboxStore, order: Item) -> bool:
    """``WC_Order::needs_processing``: a line whose product exists and is not both
    virtual and downloadable."""
    for line in order.data["line_items"]:
        product = store.find(line.get("variation_id") or line.get("product_id") or 0)
        if product is not None and not (
            product.data.get("virtual") and product.data.get("downloadable")
        ):
            return True
    return False


def paid_status(store: SandboxStore, order: Item) -> str:
    """``payment_complete()``: processing, or completed when nothing needs processing
    (no lines, only unknown products, only virtual downloads)."""
    return "processing" if needs_processing(store, order) else "completed"
