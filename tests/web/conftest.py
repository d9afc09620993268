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


# --- real browser (pytest-playwright with Debian's Chromium) -----------------

from web.browser_support import CHROMIUM, LAUNCH_ARGS, missing_browser  # noqa: E402


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """One headless Chromium for the whole session: Debian's, never a downloaded one."""
    reason = missing_browser()
    if reason:
        pytest.skip(reason)
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": LAUNCH_ARGS,
            "headless": True}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "viewport": {"width": 1280, "height": 800},
            "locale": "en-US", "timezone_id": "Europe/Berlin"}


@pytest.fixture(scope="session")
def base_url() -> None:
    """No base URL (each test opens its own till); replaces pytest-base-url's fixture, whose
    definition pytest deprecates (and this suite turns warnings into errors)."""
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests run last: pytest-playwright's session-long Playwright keeps an event
    loop running in this thread, and async tests after it could not start their own."""
    browser = [i for i in items if "page" in getattr(i, "fixturenames", ())]
    if browser:
        others = [i for i in items if "page" not in getattr(i, "fixturenames", ())]
        items[:] = others + browser
