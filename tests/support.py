"""Helpers shared by tests (importable as ``support`` thanks to pytest's pythonpath)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures"
RECORDED_STORE = FIXTURES / "store"


def load_fixture(name: str) -> Any:
    """A recorded WooCommerce request/response pair from tests/fixtures/."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))
