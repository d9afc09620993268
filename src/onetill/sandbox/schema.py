"""REST write rules for products and variations: schema checks and WooCommerce's coercions.

A REST write is validated like WordPress validates it against the item schema
(a number for a price is ``400 rest_invalid_param``/``rest_invalid_type``);
batch items skip this, and the setters then coerce whatever came
(``wc_format_decimal``, ``wc_stock_amount``: ``"abc"`` becomes 0).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from .dates import InvalidDate, parse_write_date
from .errors import Checks, invalid_param

__all__ = ["BOOLEANS", "COPIED", "SALE_DATES", "money", "stock_amount", "to_bool", "validate"]

_STRINGS = (
    "name",
    "slug",
    "sku",
    "global_unique_id",
    "regular_price",
    "sale_price",
    "description",
    "short_description",
    "tax_class",
    "weight",
    "purchase_note",
    "catalog_visibility",
)
_INTEGERS = ("stock_quantity", "menu_order", "low_stock_amount")
BOOLEANS = ("featured", "virtual", "downloadable", "sold_individually", "reviews_allowed")
_ENUMS = {
    # get_post_statuses() + future, auto-draft, trash (variations: the first four only)
    "status": ("draft", "pending", "private", "publish", "future", "auto-draft", "trash"),
    "type": ("simple", "grouped", "external", "variable"),
    "tax_status": ("taxable", "shipping", "none"),
    "stock_status": ("instock", "outofstock", "onbackorder"),
    "backorders": ("no", "notify", "yes"),
}
_UTC = ZoneInfo("UTC")
SALE_DATES = ("date_on_sale_from", "date_on_sale_to")
COPIED = (
    "name",
    "slug",
    "sku",
    "global_unique_id",
    "description",
    "short_description",
    "tax_class",
    "weight",
    "purchase_note",
    "catalog_visibility",
    "status",
    "type",
    "tax_status",
    "backorders",
    "featured",
    "virtual",
    "downloadable",
    "sold_individually",
    "reviews_allowed",
    "menu_order",
    "attributes",
    "default_attributes",
    "images",
    "image",
    "dimensions",
    "low_stock_amount",
)


def _enum_message(name: str, values: tuple[str, ...]) -> str:
    return f"{name} is not one of {', '.join(values[:-1])}, and {values[-1]}."


def _is_bool(v: Any) -> bool:
    return isinstance(v, bool) or v in (0, 1, "0", "1", "true", "false", "")


def to_bool(v: Any) -> bool:
    return v in (True, 1, "1", "true")


def _is_int(v: Any) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, int):
        return True
    try:
        return float(v) == int(float(v))
    except (TypeError, ValueError):
        return False


# The write arguments in WooCommerce's order (OPTIONS /wc/v3/products and .../variations):
# a 400 names every invalid one, in this order.
PRODUCT_ARGS = (
    "name", "slug", "date_created", "date_created_gmt", "type", "status", "featured",
    "catalog_visibility", "description", "short_description", "sku", "global_unique_id",
    "regular_price", "sale_price", "date_on_sale_from", "date_on_sale_from_gmt",
    "date_on_sale_to", "date_on_sale_to_gmt", "virtual", "downloadable", "downloads",
    "download_limit", "download_expiry", "external_url", "button_text", "tax_status",
    "tax_class", "manage_stock", "stock_quantity", "stock_status", "backorders",
    "low_stock_amount", "sold_individually", "weight", "dimensions", "shipping_class",
    "reviews_allowed", "post_password", "upsell_ids", "cross_sell_ids", "parent_id",
    "purchase_note", "categories", "brands", "tags", "images", "attributes",
    "default_attributes", "menu_order", "meta_data",
)  # fmt: skip


VARIATION_ARGS = (
    "product_id", "id", "description", "sku", "global_unique_id", "regular_price",
    "sale_price", "date_on_sale_from", "date_on_sale_from_gmt", "date_on_sale_to",
    "date_on_sale_to_gmt", "status", "virtual", "downloadable", "downloads", "download_limit",
    "download_expiry", "tax_status", "tax_class", "manage_stock", "stock_quantity",
    "stock_status", "backorders", "low_stock_amount", "weight", "dimensions",
    "shipping_class", "image", "gallery_image_ids", "attributes", "menu_order", "meta_data",
)  # fmt: skip


def _check(name: str, value: Any, variation: bool) -> None:
    if name in _STRINGS and value is not None and not isinstance(value, str):
        raise invalid_param(name, f"{name} is not of type string.", "rest_invalid_type")
    if name in _INTEGERS and value is not None and not _is_int(value):
        raise invalid_param(name, f"{name} is not of type integer.", "rest_invalid_type")
    if name in (*BOOLEANS, "manage_stock") and not _is_bool(value):
        raise invalid_param(name, f"{name} is not of type boolean.", "rest_invalid_type")
    values = _ENUMS.get(name)
    if values is not None and not (variation and name == "type"):
        if variation and name == "status":
            values = values[:4]
        if value not in values:
            raise invalid_param(name, _enum_message(name, values), "rest_not_in_enum")
    if name in (*SALE_DATES, *(f"{d}_gmt" for d in SALE_DATES)) and value:
        try:
            parse_write_date(str(value), name.endswith("_gmt"), _UTC)
        except InvalidDate:
            raise invalid_param(name, "Invalid date.", "rest_invalid_date") from None


def validate(body: dict[str, Any], *, variation: bool = False) -> None:
    """Schema checks WordPress runs before a REST write (skipped for batch items); every
    invalid field is named in the one error."""
    order = VARIATION_ARGS if variation else PRODUCT_ARGS
    found = Checks(order)
    for name in (*order, *(n for n in PRODUCT_ARGS if n not in order)):
        if name in body:
            found.run(_check, name, body[name], variation)
    found.done()


def money(v: Any) -> str:
    # wc_format_decimal(): strings are kept as written, numbers printed plainly.
    if v is None:
        return ""
    if isinstance(v, str):
        return v.strip()
    try:
        return format(Decimal(str(v)).normalize(), "f")
    except InvalidOperation:
        return ""


def stock_amount(v: Any) -> int | None:
    # wc_stock_amount(): intval of whatever came (batch items are not validated).
    if v is None:
        return None
    try:
        return int(float(v))
    except (TypeError, ValueError):
        return 0
