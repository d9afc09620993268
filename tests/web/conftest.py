"""Fixtures of the till screen's tests: a seeded till home and the screen's app on it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from web.web_support import TillHost, csrf, seeded_home, till_client


@pytest.fixture
def host(tmp_path: Path) -> Iterator[TillHost]:
    home = tmp_path / "till"
    config = seeded_home(home)
    till = TillHost(home, config)
    yield till
    till.close()


@pytest.fixture
async def api(host: TillHost) -> AsyncIterator[tuple[Any, str]]:
    """(client, csrf token) on a connected, online till holding the recorded store."""
    async with till_client(host) as (client, _app):
        yield client, await csrf(client)
