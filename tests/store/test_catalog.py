"""The local catalog: upserts from WooCommerce JSON, sellability, lookups, search, stock."""

from __future__ import annotations

import copy
import json
import logging
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from onetill.store import Database
from onetill.store.catalog import (
    apply_items,
    count_items,
    delete_items,
    find_by_barcode,
    find_by_sku,
    get_item,
    lookup,
    search,
)
from onetill.store.discrepancies import list_discrepancies
from support import RECORDED_STORE, load_fixture

PRODUCTS: list[dict[str, Any]] = json.loads((RECORDED_STORE / "products.json").read_text())
VARIATIONS: list[dict[str, Any]] = json.loads((RECORDED_STORE / "variations.json").read_text())


@pytest.fixture
def db(tmp_path: Path) -> Any:
    with Database(tmp_path / "till.db") as database:
        yield database


def _apply(db: Database, items: list[Any], kind: str = "product", **kw: Any) -> Any:
    with db.write() as conn:
        return apply_items(conn, items, kind=kind, cause="test", **kw)


@pytest.fixture
def loaded(db: Database) -> Database:
    _apply(db, PRODUCTS)
    _apply(db, VARIATIONS, "variation")
    return db


def _sell_unsent(db: Database, stock_item_id: int, qty: int, state: str = "pending_sync") -> None:
    """A till sale not yet in WooCommerce (rows as the outbox writes them)."""
    with db.write() as conn:
        seq = conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM orders").fetchone()[0]
        uuid = f"u-{seq}"
        conn.execute(
            "INSERT INTO orders (uuid, seq, state, created_at, till_id, currency, payment_method,"
            " payment_title, subtotal, total_tax, total)"
            " VALUES (?, ?, ?, '2026-11-26T15:00:00+00:00', 't', 'EUR', 'onetill_cash', 'Cash',"
            " '1', '0', '1')",
            (uuid, seq, state),
        )
        conn.execute(
            "INSERT INTO order_lines (order_uuid, line_no, product_id, stock_item_id, name,"
            " quantity, unit_price, subtotal, total, tax, stock_decremented)"
            " VALUES (?, 1, ?, ?, 'x', ?, '1', '1', '1', '0', 1)",
            (uuid, stock_item_id, stock_item_id, qty),
        )


def test_recorded_store_is_stored_whole_with_typed_columns(loaded: Database) -> None:
    """Every product and variation of the real store lands, typed; money stays exact."""
    conn = loaded.conn
    assert count_items(conn) == (320, 81)
    item = get_item(conn, 10)
    assert item is not None
    assert (item.sku, item.name, item.type, item.status) == (
        "SIMPLE-001",
        "Simple Product 001",
        "simple",
        "publish",
    )
    assert item.price == Decimal("63.48") and item.sale_price is None
    assert (item.manage_stock, item.stock_quantity, item.tax_class) == (True, 7, "reduced-rate")
    assert item.categories == [16]
    raw = json.loads(conn.execute("SELECT raw FROM products WHERE id = 10").fetchone()[0])
    assert raw["permalink"].endswith("/simple-product-001/")


def test_sellable_rule_publish_purchasable_not_a_variable_parent(loaded: Database) -> None:
    """Drafts and variable parents are kept but not sellable; published variations are."""
    conn = loaded.conn
    draft, parent = get_item(conn, 308), get_item(conn, 310)
    assert draft is not None and draft.status == "draft" and not draft.sellable
    assert parent is not None and parent.type == "variable" and not parent.sellable
    variation = get_item(conn, 311)
    assert variation is not None and variation.parent_id == 310 and variation.sellable
    out_of_stock = get_item(conn, 309)
    assert (
        out_of_stock is not None and out_of_stock.sellable
    )  # selling it is a warning, not a block


def test_variations_follow_their_parent_out_of_publish_and_back(loaded: Database) -> None:
    """A parent moved to draft makes its variations unsellable; republished, they return."""
    parent = copy.deepcopy(next(p for p in PRODUCTS if p["id"] == 310))
    parent["status"], parent["date_modified_gmt"] = "draft", "2026-11-26T16:00:00"
    _apply(loaded, [parent])
    assert not any(
        i.sellable for i in map(lambda v: get_item(loaded.conn, v), [311, 312, 313, 314]) if i
    )
    parent["status"], parent["date_modified_gmt"] = "publish", "2026-11-26T16:00:01"
    _apply(loaded, [parent])
    assert all(get_item(loaded.conn, v).sellable for v in [311, 312, 313, 314])  # type: ignore[union-attr]


def test_variation_stored_before_its_parent_turns_sellable_with_it(
    db: Database,
) -> None:
    """Order of arrival does not matter: the parent's status is applied to its variations."""
    _apply(db, [v for v in VARIATIONS if v["parent_id"] == 310], "variation")
    assert not get_item(db.conn, 311).sellable  # type: ignore[union-attr]
    _apply(db, [p for p in PRODUCTS if p["id"] == 310])
    assert get_item(db.conn, 311).sellable  # type: ignore[union-attr]


def test_an_older_copy_never_overwrites_a_newer_one(loaded: Database) -> None:
    """Upserts are guarded by date_modified_gmt; the same copy twice is harmless."""
    newer = copy.deepcopy(PRODUCTS[0])
    newer.update(name="Renamed", date_modified_gmt="2026-11-26T16:00:00")
    _apply(loaded, [newer])
    result = _apply(loaded, [PRODUCTS[0]])
    assert result.stale == 1 and result.applied == 0
    assert get_item(loaded.conn, 10).name == "Renamed"  # type: ignore[union-attr]
    again = _apply(loaded, [newer])
    assert again.applied == 1 and get_item(loaded.conn, 10).name == "Renamed"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("price", 5.5, "must be a decimal string"),
        ("regular_price", "abc", "must be a decimal string"),
        ("stock_quantity", "7", "must be an integer or null"),
        ("manage_stock", "yes", 'true, false or "parent"'),
        ("date_modified_gmt", "2026-11-26", "naive UTC date"),
        ("name", None, "must be a string"),
        ("categories", [{"name": "x"}], "list of {id: int}"),
    ],
)
def test_malformed_item_is_skipped_naming_id_and_field(
    db: Database, caplog: pytest.LogCaptureFixture, field: str, value: Any, problem: str
) -> None:
    """One bad object is logged with its id and field; the rest of the page is stored."""
    bad = copy.deepcopy(PRODUCTS[1])
    bad[field] = value
    with caplog.at_level(logging.ERROR, logger="onetill.catalog"):
        result = _apply(db, [PRODUCTS[0], bad, PRODUCTS[2]])
    assert result.applied == 2 and len(result.skipped) == 1
    assert get_item(db.conn, bad["id"]) is None
    message = caplog.records[-1].getMessage()
    assert f"product {bad['id']}" in message and repr(field) in message and problem in message


def test_missing_field_and_non_object_are_skipped(db: Database) -> None:
    """A missing required field, or something that is not an object, is skipped and named."""
    missing = copy.deepcopy(PRODUCTS[0])
    del missing["sku"]
    result = _apply(db, [missing, "oops", {"id": "12"}, PRODUCTS[3]])
    assert result.applied == 1
    assert (
        next(str(e) for e in result.skipped) == "product 10: field 'sku' is missing; item skipped"
    )
    assert "field 'id' must be a positive integer" in str(result.skipped[2])


def test_barcode_is_gtin_else_sku_else_meta_key(db: Database) -> None:
    """Lookup by barcode: global_unique_id first, then the SKU, then a configured meta key."""
    gtin = copy.deepcopy(PRODUCTS[0])
    gtin["global_unique_id"] = "4006381333931"
    no_sku = copy.deepcopy(PRODUCTS[1])
    no_sku.update(sku="", meta_data=[{"id": 1, "key": "_ean", "value": "5901234123457"}])
    _apply(db, [gtin, no_sku, PRODUCTS[2]], barcode_meta_key="_ean")
    assert find_by_barcode(db.conn, "4006381333931").id == 10  # type: ignore[union-attr]
    assert find_by_barcode(db.conn, "SIMPLE-001").id == 10  # type: ignore[union-attr]  # SKU still works
    assert find_by_barcode(db.conn, "5901234123457").id == 11  # type: ignore[union-attr]
    assert find_by_barcode(db.conn, PRODUCTS[2]["sku"]).id == 12  # type: ignore[union-attr]
    assert find_by_barcode(db.conn, "0000") is None


def test_lookup_by_id_sku_and_variation_sku(loaded: Database) -> None:
    """`onetill product` accepts an id, a SKU or a variation's SKU."""
    assert lookup(loaded.conn, "10").sku == "SIMPLE-001"  # type: ignore[union-attr]
    assert lookup(loaded.conn, "SIMPLE-002").id == 11  # type: ignore[union-attr]
    variation = find_by_sku(loaded.conn, "VAR-20-M")
    assert variation is not None and variation.id == 407 and variation.manage_stock == "parent"
    assert variation.stock_item_id == 405
    assert lookup(loaded.conn, "999999") is None


def test_search_finds_only_sellable_items_by_name_prefix(loaded: Database) -> None:
    """Name search covers sellable items only; a variable parent's name yields its variations."""
    found = search(loaded.conn, "simple prod 00", limit=50)
    assert {i.sku for i in found} == {f"SIMPLE-00{n}" for n in range(1, 10)}
    assert [i.sku for i in search(loaded.conn, "product 050")] == ["SIMPLE-050"]
    draft_name = get_item(loaded.conn, 308).name  # type: ignore[union-attr]
    assert all(i.id != 308 for i in search(loaded.conn, draft_name, limit=100))
    variations = search(loaded.conn, "Variable Product 01", limit=10)
    assert {i.id for i in variations} == {311, 312, 313, 314}
    assert search(loaded.conn, 'NEAR("x" OR ) *') == []  # user input is never FTS syntax


def test_search_sees_renames_and_deletions(loaded: Database) -> None:
    """The FTS index follows updates and deletes of the products table."""
    renamed = copy.deepcopy(PRODUCTS[0])
    renamed.update(name="Zitronenlimonade", date_modified_gmt="2026-11-26T16:00:00")
    _apply(loaded, [renamed])
    assert [i.id for i in search(loaded.conn, "zitronen")] == [10]
    assert search(loaded.conn, "Simple Product 001") == []
    with loaded.write() as conn:
        delete_items(conn, [10], "test")
    assert search(loaded.conn, "zitronen") == []


def test_store_stock_minus_unsent_sales(loaded: Database) -> None:
    """Store stock arriving never shows units the till sold but has not uploaded."""
    _sell_unsent(loaded, 10, 2)
    _sell_unsent(loaded, 10, 1, state="in_flight")
    _sell_unsent(loaded, 10, 5, state="synced")  # already in WooCommerce's number
    update = copy.deepcopy(PRODUCTS[0])
    update.update(stock_quantity=6, date_modified_gmt="2026-11-26T16:00:00")
    _apply(loaded, [update])
    item = get_item(loaded.conn, 10)
    assert item is not None and (item.store_stock_quantity, item.stock_quantity) == (6, 3)
    logged = list_discrepancies(loaded.conn, object_id=10)
    assert [(d.field, d.local_value, d.store_value, d.cause) for d in logged] == [
        ("stock_quantity", "7", "3", "test")
    ]


def test_parent_managed_variation_shows_parent_stock_minus_parent_sales(loaded: Database) -> None:
    """A variation with manage_stock 'parent' sells from the parent: its stock is the parent's."""
    _sell_unsent(loaded, 405, 4)
    parent = copy.deepcopy(next(p for p in PRODUCTS if p["id"] == 405))
    parent.update(stock_quantity=40, date_modified_gmt="2026-11-26T16:00:00")
    _apply(loaded, [parent])
    assert get_item(loaded.conn, 405).stock_quantity == 36  # type: ignore[union-attr]
    child = get_item(loaded.conn, 407)
    assert child is not None and (child.stock_quantity, child.store_stock_quantity) == (36, 40)


def test_delete_items_logs_each_removal(loaded: Database) -> None:
    """Removing what the store no longer has is logged with the cause."""
    with loaded.write() as conn:
        assert delete_items(conn, [10, 999999], "audit") == [10]
    assert get_item(loaded.conn, 10) is None
    (entry,) = list_discrepancies(loaded.conn, object_id=10)
    assert (entry.field, entry.local_value, entry.store_value, entry.cause) == (
        "existence",
        "publish",
        "deleted",
        "audit",
    )


def test_recorded_single_product_fixtures_decode(db: Database) -> None:
    """Real single-item answers (on sale, draft, out of stock, parent-managed variation) store."""
    names = ["product-simple-on-sale.json", "product-draft.json", "product-out-of-stock.json"]
    items = [load_fixture(n)["response"]["body"] for n in names]
    result = _apply(db, items)
    assert result.applied == 3 and not result.skipped
    on_sale = get_item(db.conn, items[0]["id"])
    assert on_sale is not None and on_sale.sale_price is not None and on_sale.sellable
    variation = load_fixture("variation-parent-managed.json")["response"]["body"]
    assert _apply(db, [variation], "variation").applied == 1
    stored = get_item(db.conn, variation["id"])
    assert stored is not None and stored.manage_stock == "parent" and stored.parent_id == 405


def test_trimmed_answer_is_not_mistaken_for_a_product(db: Database) -> None:
    """A `_fields`-trimmed object (no type, price...) is refused, not stored half-empty."""
    trimmed = load_fixture("product-after-trash.json")["response"]["body"]
    result = _apply(db, [trimmed])
    assert result.applied == 0 and "field 'type' is missing" in str(result.skipped[0])
    assert get_item(db.conn, trimmed["id"]) is None


def test_search_is_not_crowded_out_by_unsellable_matches(db: Database) -> None:
    """Many drafts matching first never hide the one sellable match."""
    drafts = []
    for n in range(60):
        d = copy.deepcopy(PRODUCTS[0])
        d.update(id=1000 + n, sku=f"Z-{n}", name=f"Zebra crossing {n}", status="draft")
        drafts.append(d)
    sellable = copy.deepcopy(PRODUCTS[0])
    sellable.update(id=5000, sku="Z-OK", name="Zebra crossing sign")
    _apply(db, [*drafts, sellable])
    assert [i.id for i in search(db.conn, "zebra cross", limit=5)] == [5000]
