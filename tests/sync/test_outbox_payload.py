"""What the till sends for a sale, and how it recognises an order WooCommerce made wrong."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from onetill.pos.cart import Cart
from onetill.pos.sale import record_sale
from onetill.pos.tender import Payment
from onetill.store.orders import OrderRecord, get_order
from onetill.sync.outbox_payload import compare_created, order_payload
from support import load_fixture
from till_support import seeded_db


def _order(tmp_path: Path, *codes: str, payment: Payment | None = None) -> OrderRecord:
    db = seeded_db(tmp_path / "till.db")
    try:
        cart = Cart(db.conn)
        for code in codes:
            cart.add(code)
        sale = record_sale(
            db, cart, payment or Payment("cash", Decimal("500")), till_id="t1", online=True
        )
        return get_order(db.conn, sale.uuid)
    finally:
        db.close()


def test_cash_payload_has_every_field_woocommerce_needs(tmp_path: Path) -> None:
    """completed + set_paid, payment method/title, net line totals, UUID/time/till/cash meta."""
    order = _order(tmp_path, "SIMPLE-001", "VAR-20-L")
    body = order_payload(order)
    assert (body["status"], body["set_paid"], body["created_via"]) == ("completed", True, "onetill")
    assert (body["payment_method"], body["payment_method_title"]) == ("onetill_cash", "Cash")
    assert "transaction_id" not in body
    assert body["line_items"] == [
        {"product_id": 10, "quantity": 1, "subtotal": "59.327103", "total": "59.327103"},
        {"product_id": 405, "variation_id": 408, "quantity": 1, "subtotal": "35.285714",
         "total": "35.285714"},
    ]  # fmt: skip
    meta = {m["key"]: m["value"] for m in body["meta_data"]}
    assert meta == {
        "_onetill_order_uuid": order.uuid,
        "_onetill_sold_at": order.created_at,
        "_onetill_till_id": "t1",
        "_onetill_tendered": "500.00",
        "_onetill_change": str(Decimal("500.00") - Decimal(order.total)),
    }


def test_card_payload_carries_the_transaction_id(tmp_path: Path) -> None:
    """A card sale sends transaction_id and the card's brand and last four digits as meta."""
    payment = Payment("card", None, "pi_3Q0abcdEFGH12345", "visa", "4242")
    body = order_payload(_order(tmp_path, "SIMPLE-001", payment=payment))
    assert (body["payment_method"], body["transaction_id"]) == (
        "onetill_card",
        "pi_3Q0abcdEFGH12345",
    )
    meta = {m["key"]: m["value"] for m in body["meta_data"]}
    assert (meta["_onetill_card_brand"], meta["_onetill_card_last4"]) == ("visa", "4242")
    assert "_onetill_tendered" not in meta


def test_recorded_empty_line_for_a_deleted_product_is_a_discrepancy(tmp_path: Path) -> None:
    """The real store's answer for a non-existent product (0.00, product 0) does not match."""
    order = _order(tmp_path, "SIMPLE-001")
    created = load_fixture("order-create-nonexistent-product.json")["response"]["body"]
    problem = compare_created(order, created)
    assert problem is not None
    assert "total: till 63.48, store 0.00" in problem and "SIMPLE-001" in problem


def test_matching_order_is_no_discrepancy(tmp_path: Path) -> None:
    """Lines and total as sent (WooCommerce shows nets at 2 places): no discrepancy."""
    order = _order(tmp_path, "SIMPLE-001")
    created = {
        "total": "63.48",
        "line_items": [{"product_id": 10, "variation_id": 0, "quantity": 1, "total": "59.33"}],
    }
    assert compare_created(order, created) is None
    assert compare_created(order, {**created, "total": "63.49"}) is not None
    twice = replace(order, lines=order.lines * 2)
    assert "missing" in (compare_created(twice, created) or "")


def test_line_totals_are_compared_at_the_store_s_own_decimals(tmp_path: Path) -> None:
    """WooCommerce prints a line's net total with the store's decimals (3 for KWD, 0 for JPY),
    so the till's unrounded net is compared at that precision, not at cents."""
    order = _order(tmp_path, "SIMPLE-001")  # net 59.327103
    for shown in ("59.327", "59"):
        created = {
            "total": order.total,
            "line_items": [{"product_id": 10, "variation_id": 0, "quantity": 1, "total": shown}],
        }
        assert compare_created(order, created) is None, shown
    wrong = {
        "total": order.total,
        "line_items": [{"product_id": 10, "variation_id": 0, "quantity": 1, "total": "59.320"}],
    }
    assert compare_created(order, wrong) is not None
