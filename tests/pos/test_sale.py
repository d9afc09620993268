"""A sale commits order, lines, outbox row and stock decrement together, or nothing at all."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from onetill.pos.cart import Cart, CartError
from onetill.pos.sale import OutOfStockError, record_sale
from onetill.pos.tender import Payment, TenderError
from onetill.store.db import Database
from onetill.store.orders import (
    DUE_NOW,
    OrderStateError,
    get_order,
    list_orders,
    unsent_quantities,
)
from onetill.store.outbox import mark_failed, mark_synced, retry_order, void_order
from till_support import stock_of

NOW = datetime(2026, 11, 26, 16, 0, tzinfo=UTC)


def _counts(db: Database) -> tuple[int, int, int]:
    return tuple(  # type: ignore[return-value]
        db.conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
        for t in ("orders", "order_lines", "outbox")
    )


def test_sale_is_recorded_with_outbox_row_and_stock_decrement(db: Database) -> None:
    """One sale: order (pending_sync), lines, outbox row due now, local stock down."""
    cart = Cart(db.conn)
    cart.add("SIMPLE-001", 2)
    before = stock_of(db, 10)
    sale = record_sale(db, cart, Payment("cash", Decimal("200")), till_id="till-1", now=NOW)
    assert sale.total == Decimal("126.96") and sale.change == Decimal("73.04")
    order = get_order(db.conn, sale.uuid)
    assert (order.state, order.till_id, order.total, order.attempts) == (
        "pending_sync", "till-1", "126.96", 0,
    )  # fmt: skip
    assert order.created_at == "2026-11-26T16:00:00.000000Z"
    # Due at once, whatever the clock said at the sale (it may be corrected before the upload).
    assert order.next_attempt_at == DUE_NOW
    assert [(line.product_id, line.quantity, line.total) for line in order.lines] == [
        (10, 2, "118.654206")
    ]
    assert stock_of(db, 10) == before - 2  # type: ignore[operator]
    assert unsent_quantities(db.conn, [10]) == {10: 2}


def test_sale_survives_closing_and_reopening_the_database(db: Database, tmp_path: Path) -> None:
    """Once record_sale returns, the sale is on disk: a fresh connection sees it."""
    cart = Cart(db.conn)
    cart.add("SIMPLE-002")
    sale = record_sale(db, cart, Payment("cash"), till_id="t", now=NOW)
    db.close()
    again = Database(tmp_path / "till.db")
    try:
        assert get_order(again.conn, sale.uuid).state == "pending_sync"
    finally:
        again.close()


def test_parent_managed_variation_decrements_the_parent(db: Database) -> None:
    """Selling VAR-20-L (stock managed by parent 405) lowers 405's stock."""
    before = stock_of(db, 405)
    cart = Cart(db.conn)
    cart.add("VAR-20-L", 3)
    record_sale(db, cart, Payment("cash"), till_id="t", now=NOW)
    assert stock_of(db, 405) == before - 3  # type: ignore[operator]
    assert unsent_quantities(db.conn, [405, 408]) == {405: 3}


def test_uuids_are_unique_and_seq_is_fifo(db: Database) -> None:
    """Each sale gets a fresh UUID and the next FIFO number."""
    uuids = []
    for code in ("SIMPLE-001", "SIMPLE-002", "SIMPLE-003"):
        cart = Cart(db.conn)
        cart.add(code)
        uuids.append(record_sale(db, cart, Payment("cash"), till_id="t", now=NOW).uuid)
    orders = list_orders(db.conn)
    assert [o.uuid for o in orders] == uuids and len(set(uuids)) == 3
    assert [o.seq for o in orders] == [1, 2, 3]


@pytest.mark.parametrize(
    ("payment", "online", "error"),
    [
        (Payment("cash", Decimal("1.00")), False, TenderError),
        (Payment("card", transaction_id="pi_3Q0abcdEFGH12345"), False, TenderError),
    ],
)
def test_refused_payment_writes_nothing(
    db: Database, payment: Payment, online: bool, error: type[Exception]
) -> None:
    """Tendered below the total, or card offline: error, and no order, line, row or stock change."""
    cart = Cart(db.conn)
    cart.add("SIMPLE-001")
    before = stock_of(db, 10)
    with pytest.raises(error):
        record_sale(db, cart, payment, till_id="t", online=online, now=NOW)
    assert _counts(db) == (0, 0, 0)
    assert stock_of(db, 10) == before


def test_empty_cart_is_refused(db: Database) -> None:
    """No items, no sale."""
    with pytest.raises(CartError, match="empty"):
        record_sale(db, Cart(db.conn), Payment("cash"), till_id="t")
    assert _counts(db) == (0, 0, 0)


def test_out_of_stock_warns_by_default_and_blocks_when_configured(db: Database) -> None:
    """Policy warn: recorded with a warning; policy block: refused, nothing written."""
    cart = Cart(db.conn)
    cart.add_id(309)
    with pytest.raises(OutOfStockError, match="out of stock"):
        record_sale(db, cart, Payment("cash"), till_id="t", out_of_stock="block", now=NOW)
    assert _counts(db) == (0, 0, 0)
    sale = record_sale(db, cart, Payment("cash"), till_id="t", now=NOW)
    assert len(sale.warnings) == 1 and "SIMPLE-300" in sale.warnings[0]
    assert get_order(db.conn, sale.uuid).state == "pending_sync"


def test_failure_inside_the_transaction_rolls_back_the_stock_too(db: Database) -> None:
    """A sale that cannot be inserted (a UUID clash) leaves stock and tables untouched."""
    cart = Cart(db.conn)
    cart.add("SIMPLE-001")
    first = record_sale(db, cart, Payment("cash"), till_id="t", now=NOW)
    counts, stock = _counts(db), stock_of(db, 10)
    with pytest.raises(sqlite3.IntegrityError):
        record_sale(db, cart, Payment("cash"), till_id="t", now=NOW, new_uuid=lambda: first.uuid)
    assert _counts(db) == counts
    assert stock_of(db, 10) == stock


def test_void_restores_stock_and_keeps_the_order(db: Database) -> None:
    """Voiding a failed order puts its units back and keeps it, with the reason."""
    cart = Cart(db.conn)
    cart.add("SIMPLE-001", 2)
    before = stock_of(db, 10)
    sale = record_sale(db, cart, Payment("cash"), till_id="t", now=NOW)
    with db.write() as conn:
        mark_failed(conn, sale.uuid, "HTTP 400 invalid product")
        voided = void_order(conn, sale.uuid, "customer returned the goods")
    assert voided.state == "voided" and voided.void_reason == "customer returned the goods"
    assert stock_of(db, 10) == before
    assert unsent_quantities(db.conn, [10]) == {}


def test_void_of_a_synced_or_pending_order_is_refused(db: Database) -> None:
    """Only failed orders can be voided; nothing changes otherwise."""
    cart = Cart(db.conn)
    cart.add("SIMPLE-001")
    sale = record_sale(db, cart, Payment("cash"), till_id="t", now=NOW)
    with pytest.raises(OrderStateError, match="pending_sync"), db.write() as conn:
        void_order(conn, sale.uuid, "oops")
    with db.write() as conn:
        mark_synced(conn, sale.uuid, 500, "500", NOW)
    with pytest.raises(OrderStateError, match="refund"), db.write() as conn:
        void_order(conn, sale.uuid, "oops")
    assert get_order(db.conn, sale.uuid).state == "synced"


def test_retry_puts_a_failed_order_back_in_the_queue(db: Database) -> None:
    """retry: failed -> pending_sync, due now; a synced order cannot be retried."""
    cart = Cart(db.conn)
    cart.add("SIMPLE-001")
    sale = record_sale(db, cart, Payment("cash"), till_id="t", now=NOW)
    with db.write() as conn:
        mark_failed(conn, sale.uuid, "HTTP 400")
        again = retry_order(conn, sale.uuid)
    assert again.state == "pending_sync"
    with db.write() as conn:
        mark_synced(conn, sale.uuid, 7, "7", NOW)
    with pytest.raises(OrderStateError), db.write() as conn:
        retry_order(conn, sale.uuid)
