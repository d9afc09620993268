"""Store-wide lists (tax rates, classes, categories, settings): replaced whole, bad rows skipped."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from onetill.store import Database
from onetill.store.settings import replace_tax_rates
from support import RECORDED_STORE


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    with Database(tmp_path / "till.db") as database:
        yield database


def _rates() -> list[dict[str, Any]]:
    rates: list[dict[str, Any]] = json.loads((RECORDED_STORE / "taxes.json").read_text())
    return rates


@pytest.mark.parametrize(
    ("field", "value"),
    [("rate", "abc"), ("rate", "NaN"), ("priority", "x"), ("order", [1]), ("rate", 19.0)],
)
def test_malformed_tax_rate_is_skipped_naming_id_and_field(
    db: Database, caplog: pytest.LogCaptureFixture, field: str, value: object
) -> None:
    """A tax rate the till could not compute with is skipped and logged by id and field; the
    other rates are stored and the sync goes on (no exception, nothing half-written)."""
    good, bad = _rates()[:2]
    bad = {**bad, field: value}
    with caplog.at_level(logging.ERROR, logger="onetill.catalog"), db.write() as conn:
        stored = replace_tax_rates(conn, [good, bad])
    assert stored == 1
    ids = [r[0] for r in db.conn.execute("SELECT id FROM tax_rates")]
    assert ids == [good["id"]]
    assert str(bad["id"]) in caplog.text and repr(field) in caplog.text
