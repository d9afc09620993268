"""Helpers for the WooCommerce client tests: recorded answers and a client over MockTransport."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx2
import pytest

from onetill.woo import WooClient
from support import load_fixture

Handler = Callable[[httpx2.Request], httpx2.Response]


def recorded(name: str, **overrides: Any) -> httpx2.Response:
    """The recorded response of fixture ``name`` as an httpx2 response."""
    data = load_fixture(name)["response"]
    headers = dict(data.get("headers") or {})
    headers.update(overrides.pop("headers", {}))
    return httpx2.Response(
        overrides.pop("status", data["status"]), json=data["body"], headers=headers
    )


class Sleeps:
    """Records the delays the client asked for instead of sleeping (keeps tests fast)."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


@pytest.fixture(name="recorded")
def recorded_fixture() -> Callable[..., httpx2.Response]:
    """``recorded(name)``: the recorded response of a fixture file."""
    return recorded


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def make_client(sleeps: Sleeps) -> Callable[..., WooClient]:
    def factory(handler: Handler, url: str = "http://shop.test", **kwargs: Any) -> WooClient:
        kwargs.setdefault("sleep", sleeps)
        return WooClient(
            url, "ck_test", "cs_secret", transport=httpx2.MockTransport(handler), **kwargs
        )

    return factory
