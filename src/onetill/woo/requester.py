"""What the helpers built on the client (pagination, batch, discovery) need from it.

A ``Protocol`` rather than ``WooClient`` itself: the client imports those
helpers, so they must not import the client back, not even for types.
``WooClient`` satisfies it structurally.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from onetill.woo.responses import WooResponse

__all__ = ["Requester"]


class Requester(Protocol):
    """A WooCommerce REST client: its address, and one request at a time."""

    @property
    def url(self) -> str: ...

    @property
    def https(self) -> bool: ...

    @property
    def max_concurrency(self) -> int: ...

    async def request(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        json: Any = None,
        namespace: str | None = "wc/v3",
        authenticate: bool | None = None,
    ) -> WooResponse: ...

    async def get(self, path: str, params: Mapping[str, Any] | None = None) -> WooResponse: ...

    async def post(
        self, path: str, json: Any = None, params: Mapping[str, Any] | None = None
    ) -> WooResponse: ...
