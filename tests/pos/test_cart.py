"""The cart finds items by barcode, SKU or id and refuses bad input with a clear message."""

from __future__ import annotations

from decimal import Decimal

import pytest

from onetill.pos.cart import MAX_QUANTITY, Cart, CartError
from onetill.store.db import Database


def test_add_by_sku_barcode_and_id(db: Database) -> None:
    """SKU, barcode (SKU doubles as barcode without global_unique_id) and numeric id all work."""
    with db.write() as conn:
        conn.execute("UPDATE products SET barcode = '4006381333931' WHERE id = 11")
    cart = Cart(db.conn)
    assert cart.add("SIMPLE-001").item_id == 10
    assert cart.add("4006381333931").item_id == 11
    assert cart.add("12").item_id == 12
    assert [line.quantity for line in cart.lines] == [1, 1, 1]


def test_adding_the_same_item_twice_adds_quantities(db: Database) -> None:
    """Scanning an item again increases its quantity instead of adding a line."""
    cart = Cart(db.conn)
    cart.add("SIMPLE-001", 2)
    cart.add("SIMPLE-001", 3)
    assert len(cart.lines) == 1 and cart.lines[0].quantity == 5


def test_set_quantity_and_remove(db: Database) -> None:
    """Quantities can be changed and items removed."""
    cart = Cart(db.conn)
    cart.add("SIMPLE-001")
    cart.add("SIMPLE-002")
    cart.set_quantity(10, 4)
    cart.remove(11)
    assert [(line.item_id, line.quantity) for line in cart.lines] == [(10, 4)]
    with pytest.raises(CartError, match="not in the cart"):
        cart.remove(11)


@pytest.mark.parametrize("qty", [0, -1, MAX_QUANTITY + 1, True, 1.5])
def test_bad_quantities_are_refused(db: Database, qty: object) -> None:
    """Zero, negative, absurd or non-integer quantities are refused and the cart is unchanged."""
    cart = Cart(db.conn)
    with pytest.raises(CartError, match="quantity"):
        cart.add("SIMPLE-001", qty)  # type: ignore[arg-type]
    assert cart.lines == []


def test_unknown_code_says_what_to_do(db: Database) -> None:
    """An unknown SKU names the code and suggests a sync."""
    with pytest.raises(CartError, match=r"NOPE-1.*onetill sync"):
        Cart(db.conn).add("NOPE-1")


def test_draft_and_variable_parent_are_not_sellable(db: Database) -> None:
    """A draft cannot be rung up; a variable parent asks for a variation."""
    cart = Cart(db.conn)
    with pytest.raises(CartError, match="not for sale"):
        cart.add_id(308)
    with pytest.raises(CartError, match="variation"):
        cart.add_id(310)


def test_variation_line_carries_parent_and_variation_ids(db: Database) -> None:
    """A variation sells as product_id=parent, variation_id=itself, from its own stock."""
    line = Cart(db.conn).add("VAR-01-L", 2)
    assert (line.product_id, line.variation_id, line.stock_item_id) == (310, 313, 313)
    assert line.unit_price == Decimal("49.39")


def test_parent_managed_variation_sells_from_the_parent_stock(db: Database) -> None:
    """VAR-20's variations have manage_stock 'parent': the stock row is the parent, 405."""
    line = Cart(db.conn).add("VAR-20-L")
    assert (line.product_id, line.variation_id, line.stock_item_id) == (405, 408, 405)
    assert line.manages_stock


def test_out_of_stock_item_is_reported_short(db: Database) -> None:
    """Item 309 is out of stock: the cart reports it short (the sale policy decides)."""
    cart = Cart(db.conn)
    cart.add_id(309)
    assert [(line.item_id, missing) for line, missing in cart.short_of_stock()] == [(309, 1)]


def test_variations_sharing_parent_stock_are_summed(db: Database) -> None:
    """Two variations of one parent-managed product draw on one stock figure."""
    with db.write() as conn:
        conn.execute("UPDATE products SET stock_quantity = 3 WHERE id = 405")
    cart = Cart(db.conn)
    cart.add("VAR-20-L", 2)
    cart.add_id(407, 2)
    assert {missing for _, missing in cart.short_of_stock()} == {1}
