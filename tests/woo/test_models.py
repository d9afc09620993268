"""Typed payloads: every recorded payload decodes; wrong types name the field and the object."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from onetill.woo.errors import PayloadError, UnreadableAnswerError
from onetill.woo.models import (
    Category,
    LineItemCreate,
    Order,
    OrderCreate,
    OrderLineItem,
    Product,
    ProductUpdate,
    SettingsItem,
    TaxClass,
    TaxRate,
    Variation,
    Webhook,
    decode,
    decode_list,
    encode,
)
from support import FIXTURES, RECORDED_STORE, load_fixture

# Every recorded response body, with the model it must decode as.
RESPONSES: dict[str, type[Any]] = {
    "categories.json": Category,
    "order-after-refund.json": Order,
    "order-create-completed-paid.json": Order,
    "order-create-explicit-totals.json": Order,
    "order-create-nonexistent-product.json": Order,
    "order-create-with-date-created.json": Order,
    "orders-window.json": Order,
    "product-after-sale.json": Product,
    "product-after-trash.json": Product,
    "product-draft.json": Product,
    "product-force-delete-response.json": Product,
    "product-out-of-stock.json": Product,
    "product-simple-on-sale.json": Product,
    "product-simple.json": Product,
    "product-trash-response.json": Product,
    "product-variable-parent-managed.json": Product,
    "product-variable.json": Product,
    "product-variations-of-310.json": Variation,
    "products-fields-trimmed.json": Product,
    "products-list-page2.json": Product,
    "products-page-past-end.json": Product,
    "products-status-trash.json": Product,
    "settings-general.json": SettingsItem,
    "settings-tax.json": SettingsItem,
    "tax-classes.json": TaxClass,
    "taxes.json": TaxRate,
    "variation-parent-managed.json": Variation,
    "variations-global.json": Variation,
    "webhook-create.json": Webhook,
    "webhook-delete-force.json": Webhook,
    "webhook-disable.json": Webhook,
    "webhook-reenable.json": Webhook,
    "webhooks-list.json": Webhook,
}

STORE: dict[str, type[Any]] = {
    "products.json": Product,
    "variations.json": Variation,
    "taxes.json": TaxRate,
    "tax_classes.json": TaxClass,
    "categories.json": Category,
    "settings_general.json": SettingsItem,
    "settings_tax.json": SettingsItem,
}


def _decode_any(model: type[Any], body: Any, what: str) -> list[Any]:
    return (
        decode_list(model, body, what=what)
        if isinstance(body, list)
        else [decode(model, body, what=what)]
    )


@pytest.mark.parametrize(("name", "model"), sorted(RESPONSES.items()))
def test_every_recorded_response_decodes(name: str, model: type[Any]) -> None:
    body = load_fixture(name)["response"]["body"]
    decoded = _decode_any(model, body, name)
    assert len(decoded) == (len(body) if isinstance(body, list) else 1)


@pytest.mark.parametrize(("name", "model"), sorted(STORE.items()))
def test_the_whole_recorded_store_decodes(name: str, model: type[Any]) -> None:
    body = json.loads((RECORDED_STORE / name).read_text(encoding="utf-8"))
    assert len(decode_list(model, body, what=name)) == len(body)


def test_every_fixture_file_is_covered_by_a_decoding_test() -> None:
    """A new fixture with a typed payload must be added to RESPONSES (or listed as untyped)."""
    untyped = {
        "batch-per-item-errors.json",  # batch answers: tests/woo/test_batch.py
        "oauth-signatures.json",
        "order-notes.json",
        "order-refund-restock.json",
        "payment-gateways.json",
        "wp-json-index.json",  # discovery: tests/woo/test_discovery.py
    }
    names = {p.name for p in FIXTURES.glob("*.json")}
    webhooks = {
        n
        for n in names
        if n.startswith("webhook-") and "request" in load_fixture(n) and "secret" in load_fixture(n)
    }
    errors = {n for n in names if n.startswith("error-")}
    assert names - set(RESPONSES) - untyped - webhooks - errors == set()


@pytest.mark.parametrize(
    ("name", "model"),
    [
        ("webhook-product-updated.json", Product),
        ("webhook-order-created.json", Order),
        ("webhook-product-deleted.json", Product),
    ],
)
def test_webhook_delivery_bodies_decode(name: str, model: type[Any]) -> None:
    body = json.loads(load_fixture(name)["request"]["body"])
    assert decode(model, body, what=name).id == body["id"]


def test_money_is_decimal_from_strings_and_blank_prices_are_none() -> None:
    parent = decode(Product, load_fixture("product-variable.json")["response"]["body"])
    assert parent.price == Decimal("47.39")
    assert parent.regular_price is None  # "" on a variable parent
    assert parent.sale_price is None
    assert parent.variations == [311, 312, 313, 314]
    order = decode(Order, load_fixture("order-create-completed-paid.json")["response"]["body"])
    assert order.total == Decimal("104.15")
    assert order.line_items[0].subtotal == Decimal("46.86")
    assert order.meta("_onetill_order_uuid") == "6f1c2b9e-8d1f-4c3e-9a51-0b7f2d3c4e5a"


def test_parent_managed_stock_is_kept_as_parent() -> None:
    variation = decode(Variation, load_fixture("variation-parent-managed.json")["response"]["body"])
    assert variation.manage_stock == "parent"
    assert variation.parent_id == 405


def test_gmt_dates_read_as_aware_utc() -> None:
    product = decode(Product, load_fixture("product-simple.json")["response"]["body"])
    assert product.modified_gmt is not None
    assert product.modified_gmt.utcoffset() is not None
    assert product.modified_gmt.isoformat().startswith(product.date_modified_gmt or "x")


def test_a_wrong_type_names_the_field_and_the_object_id() -> None:
    body = dict(load_fixture("product-simple.json")["response"]["body"])
    body["stock_quantity"] = "abc"
    with pytest.raises(UnreadableAnswerError) as caught:
        decode(Product, body, what="GET products page 1")
    err = caught.value
    assert err.field == "stock_quantity"
    assert err.object_id == 10
    assert "Product id=10" in str(err) and "stock_quantity" in str(err)
    assert "GET products page 1" in str(err)


def test_a_nested_wrong_type_names_the_path() -> None:
    body = json.loads(
        json.dumps(load_fixture("order-create-completed-paid.json")["response"]["body"])
    )
    body["line_items"][1]["total"] = "twelve"
    with pytest.raises(UnreadableAnswerError) as caught:
        decode(Order, body)
    assert caught.value.field == "line_items[1].total"
    assert caught.value.object_id == 411


def test_recorded_order_requests_validate_as_order_create() -> None:
    for name in ("order-create-completed-paid.json", "order-create-explicit-totals.json"):
        request = load_fixture(name)["request"]["json"]
        order = decode(OrderCreate, request)
        assert encode(order)["line_items"] == request["line_items"]
    for case in load_fixture("orders-tax/orders-tax.json")["cases"].values():
        decode(OrderCreate, case["request"])
        decode_list(OrderLineItem, case["line_items"])


def test_date_created_gmt_is_refused_in_an_order_create() -> None:
    """WooCommerce ignores date_created_gmt on create; refusing it keeps the sale time in meta."""
    request = load_fixture("order-create-with-date-created.json")["request"]["json"]
    with pytest.raises(PayloadError) as caught:
        decode(OrderCreate, request)
    assert caught.value.field == "date_created_gmt"


def test_money_in_a_write_must_be_a_decimal_string() -> None:
    with pytest.raises(PayloadError, match="subtotal"):
        decode(OrderCreate, {"line_items": [{"product_id": 1, "quantity": 1, "subtotal": 5.5}]})
    with pytest.raises(PayloadError, match="regular_price"):
        decode(ProductUpdate, {"id": 1, "regular_price": "NaN"})
    with pytest.raises(PayloadError, match="stock_quantity"):
        decode(ProductUpdate, {"id": 1, "stock_quantity": "abc"})
    line = decode(
        LineItemCreate, {"product_id": 1, "quantity": 2, "subtotal": "10.00", "total": "9.00"}
    )
    assert encode(line) == {"product_id": 1, "quantity": 2, "subtotal": "10.00", "total": "9.00"}


@given(
    st.decimals(
        allow_nan=False, allow_infinity=False, places=2, min_value=-(10**9), max_value=10**9
    )
)
def test_money_round_trips_exactly_through_a_write(amount: Decimal) -> None:
    line = decode(LineItemCreate, {"product_id": 1, "quantity": 1, "total": str(amount)})
    assert Decimal(encode(line)["total"]) == amount


@given(
    st.one_of(
        st.integers(),
        st.floats(allow_nan=False).filter(lambda f: not f.is_integer()),
        st.booleans(),
        st.lists(st.integers(), max_size=2),
    )
)
def test_any_non_integer_stock_is_refused_with_the_field_named(value: Any) -> None:
    if isinstance(value, int) and not isinstance(value, bool):
        assert decode(Product, {"id": 3, "stock_quantity": value}).stock_quantity == value
        return
    with pytest.raises(UnreadableAnswerError) as caught:
        decode(Product, {"id": 3, "stock_quantity": value})
    assert caught.value.field == "stock_quantity" and caught.value.object_id == 3


def test_null_where_woocommerce_usually_sends_text_takes_the_default() -> None:
    """An old plugin's `"sku": null` or `"meta_data": null` must not drop the whole product."""
    product = decode(
        Product,
        {
            "id": 77,
            "sku": None,
            "name": None,
            "meta_data": None,
            "price": "",
            "stock_quantity": None,
            "categories": [{"id": 3, "name": None}],
        },
    )
    assert (product.sku, product.name, product.meta_data) == ("", "", [])
    assert product.price is None and product.stock_quantity is None
    assert product.categories[0].name == ""


def test_blank_and_null_money_inside_an_orders_lines_are_none() -> None:
    order = decode(
        Order,
        {
            "id": 5,
            "total": "1.19",
            "line_items": [
                {
                    "id": 1,
                    "quantity": 1,
                    "subtotal": "1.00",
                    "subtotal_tax": "0.19",
                    "total": "1.00",
                    "total_tax": "0.19",
                    "sku": None,
                    "taxes": [{"id": 1, "total": "", "subtotal": None}],
                }
            ],
        },
    )
    assert order.line_items[0].taxes[0].total is None
    assert order.line_items[0].taxes[0].subtotal is None


def test_null_in_a_required_field_is_still_an_error_naming_it() -> None:
    with pytest.raises(UnreadableAnswerError) as caught:
        decode(OrderLineItem, {"id": 4, "quantity": None, "subtotal": "1", "subtotal_tax": "0",
                               "total": "1", "total_tax": "0"})  # fmt: skip
    assert caught.value.field == "quantity" and caught.value.object_id == 4


@pytest.mark.parametrize("bad", ["NaN", "inf", "-Infinity", "sNaN"])
def test_non_finite_money_from_the_store_is_refused_naming_field_and_id(bad: str) -> None:
    with pytest.raises(UnreadableAnswerError) as caught:
        decode(Product, {"id": 12, "regular_price": bad}, what="GET products page 1")
    err = caught.value
    assert err.field == "regular_price" and err.object_id == 12
    assert "Product id=12" in str(err) and "GET products page 1" in str(err)
