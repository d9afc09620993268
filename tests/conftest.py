"""Shared fixtures. Each section has one owner; edit only your own section."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# --- section: sandbox in-process (owner: sandbox core) ---------------------

# --- section: sandbox real server (owner: sandbox server) ------------------
