"""Delta sync against the real store: each kind of change a merchant makes reaches the till.

Each change is made through the store's REST API by the admin (as wp-admin
or a merchant's tool would), then one delta poll runs; the till's row, its
lookups and its cart must show the store's new truth.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from onetill.pos.cart import Cart
from onetill.store.catalog import find_by_barcode, lookup
from onetill.store.discrepancies import list_discrepancies
from onetill.sync.catalog import audit_ids, delta_sync
from onetill.sync.delta import SyncReport
from real.real_support import Admin, Till

pytestmark = [pytest.mark.real, pytest.mark.anyio]


async def poll(till: Till) -> SyncReport:
    async with till.client() as client:
        return await delta_sync(client, till.db)


def charged(till: Till, item_id: int) -> Decimal:
    """The unit price the till's cart charges for ``item_id`` now."""
    with till.db.lock:
        cart = Cart(till.db.conn, timezone=till.config.timezone)
        return cart.add_id(item_id, 1).unit_price


async def test_a_price_edit_reaches_the_till(till: Till, admin: Admin) -> None:
    admin.edit(10, regular_price="12.34")
    await poll(till)
    row = till.row(10)
    assert row is not None and (row["regular_price"], row["price"]) == ("12.34", "12.34")
    assert charged(till, 10) == Decimal("12.34")


async def test_a_variation_price_edit_reaches_the_till(till: Till, admin: Admin) -> None:
    """A variation's change bumps its parent; the poll then reads the variations."""
    admin.edit(313, regular_price="99.00")
    await poll(till)
    assert charged(till, 313) == Decimal("99.00")


async def test_a_sale_price_without_schedule_applies_at_once(till: Till, admin: Admin) -> None:
    store = admin.edit(11, sale_price="5.00")
    assert store["price"] == "5.00"
    await poll(till)
    row = till.row(11)
    assert row is not None and (row["sale_price"], row["price"]) == ("5.00", "5.00")
    assert charged(till, 11) == Decimal("5.00")
    admin.edit(11, sale_price="")
    await poll(till)
    assert charged(till, 11) == Decimal(admin.item(11)["regular_price"])


async def test_a_scheduled_sale_is_charged_only_inside_its_window(
    till: Till, admin: Admin
) -> None:
    """A sale starting tomorrow: the store and the till both charge the regular price now;
    a sale that started yesterday and ends tomorrow: both charge the sale price."""
    today = datetime.now(UTC)
    later = (today + timedelta(days=2)).strftime("%Y-%m-%dT00:00:00")
    much_later = (today + timedelta(days=9)).strftime("%Y-%m-%dT23:59:59")
    future = admin.edit(12, sale_price="1.11", date_on_sale_from=later, date_on_sale_to=much_later)
    running = admin.edit(
        13,
        sale_price="2.22",
        date_on_sale_from=(today - timedelta(days=2)).strftime("%Y-%m-%dT00:00:00"),
        date_on_sale_to=much_later,
    )
    assert (future["price"], running["price"]) == (future["regular_price"], "2.22")
    await poll(till)
    row = till.row(12)
    assert row is not None
    assert (row["sale_price"], row["sale_from_gmt"], row["sale_to_gmt"]) == (
        "1.11",
        future["date_on_sale_from_gmt"],
        future["date_on_sale_to_gmt"],
    )
    assert charged(till, 12) == Decimal(future["price"])
    assert charged(till, 13) == Decimal("2.22")


async def test_a_stock_change_reaches_the_till(till: Till, admin: Admin) -> None:
    admin.edit(15, stock_quantity=42)
    admin.edit(313, stock_quantity=3)
    await poll(till)
    assert (till.stock(15), till.stock(313)) == (42, 3)


async def test_trash_hides_and_untrash_restores(till: Till, admin: Admin) -> None:
    admin.delete("products/16")
    await poll(till)
    row = till.row(16)
    assert row is not None and row["status"] == "trash" and row["sellable"] == 0
    with till.db.lock:
        found = lookup(till.db.conn, "SIMPLE-007")
    assert found is None or not found.sellable
    admin.put("products/16", {"status": "publish"})
    await poll(till)
    row = till.row(16)
    assert row is not None and row["status"] == "publish" and row["sellable"] == 1
    assert charged(till, 16) == Decimal(admin.item(16)["price"])


async def test_publish_draft_publish(till: Till, admin: Admin) -> None:
    """A product taken back to draft is not sold on the till; published again, it is."""
    admin.edit(17, status="draft")
    await poll(till)
    row = till.row(17)
    assert row is not None and (row["status"], row["sellable"]) == ("draft", 0)
    admin.edit(17, status="publish")
    await poll(till)
    row = till.row(17)
    assert row is not None and (row["status"], row["sellable"]) == ("publish", 1)


async def test_a_force_delete_is_invisible_to_polling_and_removed_by_the_audit(
    till: Till, admin: Admin
) -> None:
    """WooCommerce leaves no trace of a force delete: the delta cannot see it, the ID audit
    removes the item (a variable product with its variations) and logs why."""
    admin.delete("products/18", force="true")
    admin.delete("products/315", force="true")  # VAR-02 and its variations
    variations = [v for v in (till.row(i) for i in range(316, 330)) if v and v["parent_id"] == 315]
    assert variations
    await poll(till)
    assert till.row(18) is not None  # the delta saw nothing
    async with till.client() as client:
        report = await audit_ids(client, till.db)
    assert report.removed == 2 + len(variations)
    assert till.row(18) is None and till.row(315) is None
    assert all(till.row(v["id"]) is None for v in variations)
    with till.db.lock:
        logged = list_discrepancies(till.db.conn, object_id=18)
    assert logged and "force-deleted" in logged[0].cause


async def test_a_new_product_is_sellable_after_one_poll(till: Till, admin: Admin) -> None:
    made = admin.post(
        "products",
        {"name": "Fresh Bread", "sku": "NEW-BREAD", "regular_price": "3.20",
         "tax_class": "reduced-rate", "manage_stock": True, "stock_quantity": 8},
    )  # fmt: skip
    await poll(till)
    with till.db.lock:
        found = lookup(till.db.conn, "NEW-BREAD")
    assert found is not None and found.id == made["id"] and found.sellable
    assert (till.stock(made["id"]), charged(till, made["id"])) == (8, Decimal("3.20"))


async def test_a_new_variation_is_sellable_after_one_poll(till: Till, admin: Admin) -> None:
    made = admin.post(
        "products/310/variations",
        {"regular_price": "44.00", "sku": "VAR-01-XXL",
         "attributes": [{"name": "Size", "option": "XXL"}]},
    )  # fmt: skip
    await poll(till)
    row = till.row(made["id"])
    assert row is not None and row["parent_id"] == 310 and row["sellable"] == 1
    assert charged(till, made["id"]) == Decimal("44.00")
    parent = till.row(310)
    assert parent is not None and made["id"] in json.loads(parent["raw"])["variations"]


async def test_a_category_change_reaches_the_till(till: Till, admin: Admin) -> None:
    categories = admin.get("products/categories", per_page=100)
    before = [c["id"] for c in admin.item(19)["categories"]]
    other = next(c["id"] for c in categories if c["id"] not in before)
    admin.edit(19, categories=[{"id": other}])
    await poll(till)
    row = till.row(19)
    assert row is not None and json.loads(row["categories"]) == [other]


async def test_a_barcode_change_reaches_the_till(till: Till, admin: Admin) -> None:
    """``global_unique_id`` (GTIN/EAN) becomes the barcode the till scans."""
    admin.edit(20, global_unique_id="4006381333931")
    admin.edit(311, global_unique_id="4006381333948")
    await poll(till)
    with till.db.lock:
        simple = find_by_barcode(till.db.conn, "4006381333931")
        variation = find_by_barcode(till.db.conn, "4006381333948")
    assert simple is not None and simple.id == 20
    assert variation is not None and variation.id == 311


async def test_a_tax_rate_change_reaches_the_till(till: Till, admin: Admin) -> None:
    """Tax rates carry no modified date and fire no webhook: the poll reads them every time,
    so the till never charges a rate the store no longer has."""
    rates = admin.get("taxes", per_page=100)
    standard = next(r for r in rates if r["class"] == "standard")
    admin.put(f"taxes/{standard['id']}", {"rate": "16.0000"})
    await poll(till)
    with till.db.lock:
        rate = till.db.conn.execute(
            "SELECT rate FROM tax_rates WHERE id = ?", (standard["id"],)
        ).fetchone()[0]
    assert Decimal(rate) == Decimal("16")
    # The till's totals now follow the new rate, as the store's will.
    order: dict[str, Any] = admin.post(
        "orders", {"line_items": [{"product_id": 12, "quantity": 1}]}
    )
    with till.db.lock:
        cart = Cart(till.db.conn, timezone=till.config.timezone)
        cart.add_id(12, 1)
        totals = cart.totals()
    assert (totals.total, totals.total_tax) == (
        Decimal(order["total"]),
        Decimal(order["total_tax"]),
    )
