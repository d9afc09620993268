"""Fixtures for the till's domain: a real SQLite file holding the recorded store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from onetill.store.db import Database
from till_support import seeded_db


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = seeded_db(tmp_path / "till.db")
    yield database
    database.close()
