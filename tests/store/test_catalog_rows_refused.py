"""Each item is stored on its own: a row the database or the encoder refuses costs that row
only, and is named; the rest of the page is stored."""

from __future__ import annotations

import json
from pathlib import Path

from onetill.store import Database
from onetill.store.catalog import apply_items, get_item
from onetill.store.catalog_problems import list_problems
from support import RECORDED_STORE

PRODUCTS = json.loads((RECORDED_STORE / "products.json").read_text())[:4]


def test_a_row_the_database_refuses_costs_only_that_row(tmp_path: Path) -> None:
    with Database(tmp_path / "t.db") as db:
        # The database itself refuses one row (as a full disk page or a corrupt index
        # would): a real SQLite trigger, nothing of ours replaced.
        db.conn.execute(
            "CREATE TRIGGER refuse_12 BEFORE INSERT ON products WHEN new.id = 12"
            " BEGIN SELECT RAISE(ABORT, 'refused by the database'); END"
        )
        with db.write() as conn:
            result = apply_items(conn, PRODUCTS, kind="product", cause="test")
        assert sorted(result.ids) == [10, 11, 13] and len(result.skipped) == 1
        assert get_item(db.conn, 12) is None and get_item(db.conn, 13) is not None
        assert [p.object_id for p in list_problems(db.conn)] == ["12"]


def test_text_no_encoder_takes_is_refused_by_name_not_raised(tmp_path: Path) -> None:
    """A lenient JSON decoder (a webhook body) can hand over a lone surrogate."""
    bad = dict(PRODUCTS[1], name="Mug \ud800")
    with Database(tmp_path / "t.db") as db:
        with db.write() as conn:
            result = apply_items(conn, [PRODUCTS[0], bad], kind="product", cause="test")
        assert result.ids == [10] and result.skipped[0].object_id == 11
        assert list_problems(db.conn)[0].field == "(object)"
