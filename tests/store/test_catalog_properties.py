"""Property: whatever order copies of products arrive in (re-reads, overlaps, concurrent
pages), the catalog ends with the newest copy of each, and local stock = store - unsent."""

from __future__ import annotations

import copy
import json
import sqlite3
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from onetill.store.catalog import apply_items, get_item
from onetill.store.migrations import MIGRATIONS
from support import RECORDED_STORE

TEMPLATE: dict[str, Any] = json.loads((RECORDED_STORE / "products.json").read_text())[0]


def _memory_db() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    for _name, statements in MIGRATIONS:
        for statement in statements:
            conn.execute(statement)
    return conn


def _version(pid: int, second: int, stock: int) -> dict[str, Any]:
    p = copy.deepcopy(TEMPLATE)
    p.update(
        id=pid,
        sku=f"P-{pid}",
        name=f"Product {pid} v{second}",
        stock_quantity=stock,
        date_modified_gmt=f"2026-11-26T15:{second // 60:02d}:{second % 60:02d}",
    )
    return p


versions = st.lists(
    st.tuples(st.integers(1, 4), st.integers(0, 3599), st.integers(0, 50)), min_size=1, max_size=30
)


@settings(max_examples=60, deadline=None)
@given(versions=versions, unsent=st.integers(0, 5), page=st.integers(1, 5))
def test_newest_copy_wins_in_any_arrival_order(
    versions: list[tuple[int, int, int]], unsent: int, page: int
) -> None:
    conn = _memory_db()
    if unsent:
        conn.execute(
            "INSERT INTO orders (uuid, seq, state, created_at, till_id, currency, payment_method,"
            " payment_title, subtotal, total_tax, total)"
            " VALUES ('u', 1, 'pending_sync', 'x', 't', 'EUR', 'c', 'C', '1', '0', '1')"
        )
        conn.execute(
            "INSERT INTO order_lines (order_uuid, line_no, product_id, stock_item_id, name,"
            " quantity, unit_price, subtotal, total, tax, stock_decremented)"
            " VALUES ('u', 1, 1, 1, 'x', ?, '1', '1', '1', '0', 1)",
            (unsent,),
        )
    items = [_version(pid, second, stock) for pid, second, stock in versions]
    for start in range(0, len(items), page):
        conn.execute("BEGIN IMMEDIATE")
        apply_items(conn, items[start : start + page], kind="product", cause="property")
        conn.execute("COMMIT")
    newest: dict[int, tuple[int, int]] = {}
    for pid, second, stock in versions:
        # Equal dates: the later arrival wins (a re-read of the same second).
        if pid not in newest or second >= newest[pid][0]:
            newest[pid] = (second, stock)
    for pid, (second, stock) in newest.items():
        item = get_item(conn, pid)
        assert item is not None
        assert item.name == f"Product {pid} v{second}"
        assert item.store_stock_quantity == stock
        assert item.stock_quantity == stock - (unsent if pid == 1 else 0)
    fts = conn.execute("SELECT COUNT(*) FROM products_fts WHERE products_fts MATCH 'product'")
    assert fts.fetchone()[0] == len(newest)  # the name index holds one entry per item
