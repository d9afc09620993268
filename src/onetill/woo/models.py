"""Typed WooCommerce payloads (msgspec structs) and :func:`decode`.

Read models tolerate unknown fields (WooCommerce and its plugins add
fields freely) and keep only what OneTill uses. Money is ``Decimal``
decoded from WooCommerce's strings; a blank money string (``regular_price:
""`` on a variable parent, ``sale_price: ""`` when not on sale) becomes
None. ``*_gmt`` dates are kept as WooCommerce sends them (naive UTC text)
and read as aware UTC through ``parse_gmt``.

Write models (``OrderCreate``, ``LineItemCreate``, ``ProductUpdate``) are
checked before sending: WooCommerce skips validation inside batches
(``stock_quantity: "abc"`` silently becomes 0), so the client must not.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, Literal, TypeVar

import msgspec

from onetill.woo.dates import parse_gmt
from onetill.woo.decoding import check_money, payload_error, prepare_read
from onetill.woo.errors import PayloadError, UnreadableAnswerError

__all__ = [
    "Category",
    "CategoryRef",
    "LineItemCreate",
    "LineTax",
    "MetaData",
    "Order",
    "OrderCreate",
    "OrderLineItem",
    "OrderRefundRef",
    "Product",
    "ProductAttribute",
    "ProductUpdate",
    "SettingsItem",
    "TaxClass",
    "TaxLine",
    "TaxRate",
    "Variation",
    "VariationAttribute",
    "Webhook",
    "decode",
    "decode_list",
    "encode",
]

T = TypeVar("T")


class _Read(msgspec.Struct, kw_only=True):
    """Base of read models: unknown fields are ignored; blank money strings become None."""

    _blank_money: ClassVar[frozenset[str]] = frozenset()


class MetaData(msgspec.Struct, kw_only=True, omit_defaults=True):
    key: str
    value: Any = None
    id: int | None = None


class CategoryRef(msgspec.Struct, kw_only=True):
    id: int
    name: str = ""
    slug: str = ""


class ProductAttribute(msgspec.Struct, kw_only=True):
    id: int = 0
    name: str = ""
    options: list[str] = []
    variation: bool = False


class VariationAttribute(msgspec.Struct, kw_only=True):
    id: int = 0
    name: str = ""
    option: str = ""


class _Sellable(_Read, kw_only=True):
    id: int
    sku: str = ""
    global_unique_id: str = ""
    status: str = "publish"
    price: Decimal | None = None
    regular_price: Decimal | None = None
    sale_price: Decimal | None = None
    on_sale: bool = False
    purchasable: bool = True
    tax_status: str = "taxable"
    tax_class: str = ""
    stock_quantity: int | None = None
    stock_status: str = "instock"
    backorders: str = "no"
    date_created_gmt: str | None = None
    date_modified_gmt: str | None = None
    meta_data: list[MetaData] = []

    _blank_money: ClassVar[frozenset[str]] = frozenset({"price", "regular_price", "sale_price"})

    @property
    def modified_gmt(self) -> datetime | None:
        """``date_modified_gmt`` as aware UTC."""
        return parse_gmt(self.date_modified_gmt) if self.date_modified_gmt else None


class Product(_Sellable, kw_only=True):
    """A product (any type; ``type == "variation"`` when read via ``/products/{id}``)."""

    name: str = ""
    slug: str = ""
    type: str = "simple"
    parent_id: int = 0
    # On a product this is a plain bool; "parent" only appears on variations.
    manage_stock: bool | Literal["parent"] = False
    catalog_visibility: str = "visible"
    categories: list[CategoryRef] = []
    attributes: list[ProductAttribute] = []
    variations: list[int] = []


class Variation(_Sellable, kw_only=True):
    """A variation; ``manage_stock == "parent"`` means the parent's stock is sold."""

    parent_id: int = 0
    name: str = ""
    description: str = ""
    manage_stock: bool | Literal["parent"] = False
    attributes: list[VariationAttribute] = []


class TaxRate(_Read, kw_only=True, rename={"tax_class": "class"}):
    id: int
    country: str = ""
    state: str = ""
    postcode: str = ""
    city: str = ""
    postcodes: list[str] = []
    cities: list[str] = []
    rate: Decimal
    name: str = ""
    priority: int = 1
    compound: bool = False
    shipping: bool = True
    order: int = 0
    tax_class: str = "standard"


class TaxClass(_Read, kw_only=True):
    slug: str
    name: str = ""


class Category(_Read, kw_only=True):
    id: int
    name: str = ""
    slug: str = ""
    parent: int = 0
    count: int = 0
    menu_order: int = 0


class SettingsItem(_Read, kw_only=True):
    """One setting of a group (``/settings/general``, ``/settings/tax``); ``value`` varies."""

    id: str
    label: str = ""
    type: str = ""
    value: Any = None
    default: Any = None


class LineTax(_Read, kw_only=True):
    id: int
    total: Decimal | None = None
    subtotal: Decimal | None = None

    _blank_money: ClassVar[frozenset[str]] = frozenset({"total", "subtotal"})


class OrderLineItem(_Read, kw_only=True):
    """A line of a stored order. ``price`` is a JSON number WooCommerce derives: informational."""

    id: int = 0
    name: str = ""
    product_id: int = 0
    variation_id: int = 0
    quantity: int
    tax_class: str = ""
    subtotal: Decimal
    subtotal_tax: Decimal
    total: Decimal
    total_tax: Decimal
    taxes: list[LineTax] = []
    sku: str | None = None
    price: Decimal | None = None
    meta_data: list[MetaData] = []


class TaxLine(_Read, kw_only=True):
    id: int
    rate_code: str = ""
    rate_id: int = 0
    label: str = ""
    compound: bool = False
    tax_total: Decimal
    shipping_tax_total: Decimal = Decimal("0")
    rate_percent: Decimal | None = None


class OrderRefundRef(_Read, kw_only=True):
    id: int
    reason: str = ""
    total: Decimal


class Order(_Read, kw_only=True):
    """A stored order. Fields trimmed by ``_fields`` keep their defaults."""

    id: int
    parent_id: int = 0
    number: str = ""
    status: str = ""
    currency: str = ""
    prices_include_tax: bool = False
    date_created_gmt: str | None = None
    date_modified_gmt: str | None = None
    date_paid_gmt: str | None = None
    date_completed_gmt: str | None = None
    discount_total: Decimal = Decimal("0")
    discount_tax: Decimal = Decimal("0")
    shipping_total: Decimal = Decimal("0")
    shipping_tax: Decimal = Decimal("0")
    cart_tax: Decimal = Decimal("0")
    total: Decimal | None = None  # None only when trimmed away by _fields
    total_tax: Decimal = Decimal("0")
    customer_id: int = 0
    payment_method: str = ""
    payment_method_title: str = ""
    transaction_id: str = ""
    created_via: str = ""
    customer_note: str = ""
    meta_data: list[MetaData] = []
    line_items: list[OrderLineItem] = []
    tax_lines: list[TaxLine] = []
    refunds: list[OrderRefundRef] = []

    def meta(self, key: str) -> Any:
        """The value of the first ``meta_data`` entry named ``key``, or None."""
        return next((m.value for m in self.meta_data if m.key == key), None)


class Webhook(_Read, kw_only=True):
    id: int
    name: str = ""
    status: str = ""
    topic: str = ""
    resource: str = ""
    event: str = ""
    delivery_url: str = ""
    date_created_gmt: str | None = None
    date_modified_gmt: str | None = None


# -- writes (requests) ---------------------------------------------------------


class _Write(msgspec.Struct, kw_only=True, omit_defaults=True, forbid_unknown_fields=True):
    """Base of request models: unknown fields are refused (a typo would be silently dropped)."""


class LineItemCreate(_Write, kw_only=True):
    """A line of a new order. ``subtotal``/``total`` are net (excl. tax) money strings.

    Send both, or WooCommerce prices the line at the product's current price.
    """

    product_id: int | None = None
    variation_id: int | None = None
    sku: str | None = None
    quantity: int
    subtotal: Decimal | None = None
    total: Decimal | None = None
    name: str | None = None
    meta_data: list[MetaData] = []


class OrderCreate(_Write, kw_only=True):
    """``POST /orders``. ``status: completed`` + ``set_paid`` reduces stock in the request."""

    status: str = "completed"
    set_paid: bool = True
    payment_method: str = ""
    payment_method_title: str = ""
    transaction_id: str | None = None
    created_via: str | None = None
    customer_id: int | None = None
    customer_note: str | None = None
    currency: str | None = None
    billing: dict[str, str] | None = None
    shipping: dict[str, str] | None = None
    line_items: list[LineItemCreate] = []
    fee_lines: list[dict[str, Any]] = []
    coupon_lines: list[dict[str, Any]] = []
    # The sale's UUID and time go here: date_created_gmt is not writable.
    meta_data: list[MetaData] = []


class ProductUpdate(_Write, kw_only=True):
    """A product or variation write (batch ``create``/``update`` item)."""

    id: int | None = None
    name: str | None = None
    type: str | None = None
    status: str | None = None
    sku: str | None = None
    regular_price: Decimal | None = None
    sale_price: Decimal | None = None
    manage_stock: bool | Literal["parent"] | None = None
    stock_quantity: int | None = None
    stock_status: str | None = None
    tax_status: str | None = None
    tax_class: str | None = None
    meta_data: list[MetaData] = []


def encode(value: Any) -> Any:
    """A write model (or plain data) as JSON-ready builtins; Decimals become strings.

    Fields left at None or empty are omitted (WooCommerce would read a
    ``null`` as a value), but a default that means something is sent:
    ``OrderCreate``'s ``status: completed`` and ``set_paid: true`` are what
    make WooCommerce reduce stock; dropping them would create a pending order.
    """
    out = msgspec.to_builtins(value)
    if isinstance(value, _Write) and isinstance(out, dict):
        for f in msgspec.structs.fields(value):
            given = getattr(value, f.name)
            meaningful = isinstance(given, bool | int | Decimal) or (
                isinstance(given, str) and given
            )
            if meaningful and f.encode_name not in out:
                out[f.encode_name] = msgspec.to_builtins(given)
            elif isinstance(given, list) and given and isinstance(given[0], _Write):
                out[f.encode_name] = [encode(item) for item in given]
    return out


def decode(model: type[T], data: Any, *, what: str = "") -> T:
    """``data`` (decoded JSON) as ``model``.

    A wrong type raises :class:`PayloadError` for a write model (our own
    payload) and :class:`UnreadableAnswerError` for a read model (the
    store's answer).

    The error names the field (``line_items[0].quantity``), the object's id
    and ``what`` it was (e.g. ``"GET products page 3"``).
    """
    if issubclass(model, _Write):
        prepared = data
    else:
        object_id = data.get("id") if isinstance(data, dict) else None
        prepared = prepare_read(model, data, what, object_id)
    try:
        value = msgspec.convert(prepared, model, strict=issubclass(model, _Write))
    except msgspec.ValidationError as exc:
        cls = PayloadError if issubclass(model, _Write) else UnreadableAnswerError
        raise payload_error(model, data, what, exc, cls) from None
    if issubclass(model, _Write):
        check_money(model, value, data, what)
    return value


def decode_list(model: type[T], data: Any, *, what: str = "") -> list[T]:
    """Each element of a JSON list as ``model`` (errors name the element's id)."""
    if not isinstance(data, list):
        cls = PayloadError if issubclass(model, _Write) else UnreadableAnswerError
        raise cls(
            f"{what or model.__name__}: expected a list of {model.__name__}, "
            f"got {type(data).__name__}",
            what=what,
        )
    return [decode(model, item, what=what) for item in data]
