"""What a fresh WooCommerce 11 store holds before the catalog: settings, taxes, templates.

Used by generated stores (a recorded store brings its own settings and taxes)
and as the field templates every created product, variation and order starts from.
The defaults mirror the recorded store: EUR, Berlin (DE), prices entered
including tax, 19 % standard and 7 % reduced rate.
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = [
    "CATEGORIES",
    "NAMESPACES",
    "PAYMENT_GATEWAYS",
    "SETTINGS_GENERAL",
    "SETTINGS_TAX",
    "TAXES",
    "TAX_CLASSES",
    "order_template",
    "product_template",
    "variation_template",
]

NAMESPACES = [
    "oembed/1.0",
    "wc/v3",
    "wc/v1",
    "wc/pos/v1/catalog",
    "wc-admin",
    "wc-analytics",
    "wc/store",
    "wc/store/v1",
    "wc/private",
    "wc/v2",
    "wp/v2",
    "wp-site-health/v1",
    "wp-block-editor/v1",
]


def _setting(
    sid: str,
    label: str,
    value: str,
    default: str = "",
    typ: str = "text",
    options: dict[str, str] | None = None,
) -> dict[str, Any]:
    s: dict[str, Any] = {
        "id": sid,
        "label": label,
        "description": "",
        "type": typ,
        "default": default,
        "tip": "",
        "value": value,
    }
    if options is not None:
        s["options"] = options
    return s


SETTINGS_GENERAL = [
    _setting("woocommerce_store_address", "Address line 1", "Teststrasse 1"),
    _setting("woocommerce_store_city", "City", "Berlin"),
    _setting(
        "woocommerce_default_country",
        "Country / State",
        "DE:DE-BE",
        "US:CA",
        "select",
        {"DE:DE-BE": "Germany - Berlin"},
    ),
    _setting("woocommerce_store_postcode", "Postcode / ZIP", "10115"),
    _setting(
        "woocommerce_calc_taxes", "Enable tax rates and calculations", "yes", "no", "checkbox"
    ),
    _setting("woocommerce_currency", "Currency", "EUR", "USD", "select", {"EUR": "Euro (€)"}),
    _setting(
        "woocommerce_currency_pos", "Currency position", "left", "left", "select", {"left": "Left"}
    ),
    _setting("woocommerce_price_thousand_sep", "Thousand separator", ",", ","),
    _setting("woocommerce_price_decimal_sep", "Decimal separator", ".", "."),
    _setting("woocommerce_price_num_decimals", "Number of decimals", "2", "2", "number"),
]

SETTINGS_TAX = [
    _setting(
        "woocommerce_prices_include_tax",
        "Prices entered with tax",
        "yes",
        "no",
        "radio",
        {
            "yes": "Yes, I will enter prices inclusive of tax",
            "no": "No, I will enter prices exclusive of tax",
        },
    ),
    _setting(
        "woocommerce_tax_based_on",
        "Calculate tax based on",
        "base",
        "shipping",
        "select",
        {
            "shipping": "Customer shipping address",
            "billing": "Customer billing address",
            "base": "Shop base address",
        },
    ),
    _setting(
        "woocommerce_shipping_tax_class",
        "Shipping tax class",
        "inherit",
        "inherit",
        "select",
        {"inherit": "Shipping tax class based on cart items"},
    ),
    _setting("woocommerce_tax_round_at_subtotal", "Rounding", "no", "no", "checkbox"),
    _setting(
        "woocommerce_tax_display_shop",
        "Display prices in the shop",
        "excl",
        "excl",
        "select",
        {"incl": "Including tax", "excl": "Excluding tax"},
    ),
    _setting(
        "woocommerce_tax_display_cart",
        "Display prices during cart and checkout",
        "excl",
        "excl",
        "select",
        {"incl": "Including tax", "excl": "Excluding tax"},
    ),
    _setting(
        "woocommerce_tax_total_display",
        "Display tax totals",
        "itemized",
        "itemized",
        "select",
        {"single": "As a single total", "itemized": "Itemized"},
    ),
]


def _rate(rid: int, rate: str, name: str, cls: str, shipping: bool) -> dict[str, Any]:
    return {
        "id": rid,
        "country": "DE",
        "state": "",
        "postcode": "",
        "city": "",
        "rate": rate,
        "name": name,
        "priority": 1,
        "compound": False,
        "shipping": shipping,
        "order": 0,
        "class": cls,
        "postcodes": [],
        "cities": [],
    }


TAXES = [
    _rate(1, "19.0000", "MwSt 19%", "standard", True),
    _rate(2, "7.0000", "MwSt 7%", "reduced-rate", False),
]
TAX_CLASSES = [
    {"slug": "standard", "name": "Standard rate"},
    {"slug": "reduced-rate", "name": "Reduced rate"},
    {"slug": "zero-rate", "name": "Zero rate"},
]
CATEGORIES = [
    {
        "id": i,
        "name": n,
        "slug": n.lower(),
        "parent": 0,
        "description": "",
        "display": "default",
        "image": None,
        "menu_order": 0,
        "count": 0,
    }
    for i, n in [
        (15, "Uncategorized"),
        (16, "Beverages"),
        (17, "Snacks"),
        (18, "Household"),
        (19, "Apparel"),
        (20, "Electronics"),
    ]
]


def _field(fid: str, label: str, typ: str, value: str) -> dict[str, Any]:
    return {
        "id": fid,
        "label": label,
        "description": "",
        "type": typ,
        "value": value,
        "default": value,
        "tip": "",
        "placeholder": "",
    }


def _gateway(gid: str, title: str, order: int) -> dict[str, Any]:
    settings = {
        "title": _field("title", "Title", "safe_text", title),
        "instructions": _field("instructions", "Instructions", "textarea", ""),
    }
    if gid == "cod":
        settings["enable_for_methods"] = {
            **_field("enable_for_methods", "Enable for shipping methods", "multiselect", ""),
            "options": {
                "Flat rate": {"flat_rate": "Any &quot;Flat rate&quot; method"},
                "Free shipping": {"free_shipping": "Any &quot;Free shipping&quot; method"},
                "Local pickup": {"pickup_location": "Any &quot;Local pickup&quot; method"},
            },
        }
        settings["enable_for_virtual"] = _field(
            "enable_for_virtual", "Accept COD if the order is virtual", "checkbox", "yes"
        )
    return {
        "id": gid,
        "title": title,
        "description": "",
        "order": order,
        "enabled": False,
        "method_title": title,
        "method_description": "",
        "method_supports": ["products"],
        "settings": settings,
        "needs_setup": False,
        "post_install_scripts": [],
        "settings_url": "",
        "connection_url": None,
        "setup_help_text": None,
        "required_settings_keys": [],
    }


PAYMENT_GATEWAYS = [
    _gateway("bacs", "Direct bank transfer", 1),
    _gateway("cheque", "Check payments", 2),
    _gateway("cod", "Cash on delivery", 3),
]

_PRODUCT: dict[str, Any] = {
    "name": "",
    "slug": "",
    "type": "simple",
    "status": "publish",
    "featured": False,
    "catalog_visibility": "visible",
    "description": "",
    "short_description": "",
    "sku": "",
    "regular_price": "",
    "sale_price": "",
    "total_sales": 0,
    "virtual": False,
    "downloadable": False,
    "downloads": [],
    "download_limit": -1,
    "download_expiry": -1,
    "external_url": "",
    "button_text": "",
    "tax_status": "taxable",
    "tax_class": "",
    "manage_stock": False,
    "stock_quantity": None,
    "backorders": "no",
    "low_stock_amount": None,
    "sold_individually": False,
    "weight": "",
    "dimensions": {"length": "", "width": "", "height": ""},
    "shipping_class": "",
    "shipping_class_id": 0,
    "reviews_allowed": True,
    "average_rating": "0.00",
    "rating_count": 0,
    "upsell_ids": [],
    "cross_sell_ids": [],
    "parent_id": 0,
    "purchase_note": "",
    "categories": [],
    "brands": [],
    "tags": [],
    "images": [],
    "attributes": [],
    "default_attributes": [],
    "grouped_products": [],
    "menu_order": 0,
    "related_ids": [],
    "meta_data": [],
    "stock_status": "instock",
    "post_password": "",
    "global_unique_id": "",
}

_VARIATION: dict[str, Any] = {
    "description": "",
    "sku": "",
    "global_unique_id": "",
    "regular_price": "",
    "sale_price": "",
    "status": "publish",
    "virtual": False,
    "downloadable": False,
    "downloads": [],
    "download_limit": -1,
    "download_expiry": -1,
    "tax_status": "taxable",
    "tax_class": "parent",  # the parent's, until one is set
    "manage_stock": False,
    "stock_quantity": None,
    "stock_status": "instock",
    "backorders": "no",
    "low_stock_amount": None,
    "weight": "",
    "dimensions": {"length": "", "width": "", "height": ""},
    "shipping_class": "",
    "shipping_class_id": 0,
    "image": None,
    "gallery_image_ids": [],
    "attributes": [],
    "menu_order": 0,
    "meta_data": [],
    "name": "",
    "parent_id": 0,
    "total_sales": 0,
}

_ADDRESS = {
    k: ""
    for k in (
        "first_name",
        "last_name",
        "company",
        "address_1",
        "address_2",
        "city",
        "state",
        "postcode",
        "country",
    )
}


def product_template() -> dict[str, Any]:
    return copy.deepcopy(_PRODUCT)


def variation_template() -> dict[str, Any]:
    return copy.deepcopy(_VARIATION)


def order_template() -> dict[str, Any]:
    return {
        "parent_id": 0,
        "status": "pending",
        "currency": "EUR",
        "customer_id": 0,
        "billing": {**_ADDRESS, "email": "", "phone": ""},
        "shipping": {**_ADDRESS, "phone": ""},
        "payment_method": "",
        "payment_method_title": "",
        "transaction_id": "",
        "customer_ip_address": "",
        "customer_user_agent": "",
        "created_via": "rest-api",
        "customer_note": "",
        "cart_hash": "",
        "meta_data": [],
        "line_items": [],
        "shipping_lines": [],
        "fee_lines": [],
        "coupon_lines": [],
    }
