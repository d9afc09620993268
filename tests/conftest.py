"""Shared fixtures. Each section has one owner; edit only your own section."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def load_fixture(name: str) -> Any:
    """A recorded WooCommerce request/response pair from tests/fixtures/."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


# --- section: sandbox in-process (owner: sandbox core) ---------------------

# --- section: sandbox real server (owner: sandbox server) ------------------
