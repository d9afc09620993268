"""Fixtures shared by the engine's tests: a fresh till database in a real SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.engine_support import new_db
from onetill.store import Database


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = new_db(tmp_path)
    yield database
    database.close()
