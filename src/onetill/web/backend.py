"""What the till screen needs from the process that serves it (the engine).

``onetill.engine.runtime.Engine`` satisfies ``TillBackend`` without
importing this package: the engine sits beside ``web/``, and the two meet
only through these protocols (and ``till_ui``, the factory the CLI hands to
the engine).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Protocol

from onetill.config import Config

__all__ = ["DemoControls", "StatusSource", "TillBackend"]


class StatusSource(Protocol):
    """The engine's status hub."""

    def current(self) -> dict[str, Any]: ...

    def changed(self) -> None: ...

    def watch(self) -> AsyncIterator[dict[str, Any]]: ...


class DemoControls(Protocol):
    """``onetill demo`` only: the sandbox store behind the till, under the newcomer's control."""

    @property
    def store_online(self) -> bool: ...

    async def set_store_online(self, online: bool) -> None: ...

    async def place_online_order(self) -> dict[str, Any]:
        """Sell something in the "online shop"; returns what was sold (name, qty, stock)."""
        ...


class TillBackend(Protocol):
    """The running engine, as the till screen sees it."""

    home: Path
    config: Config | None
    hub: StatusSource | None
    demo: DemoControls | None

    @property
    def connected(self) -> bool: ...

    @property
    def online(self) -> bool: ...

    @property
    def clock_skew_s(self) -> float: ...

    def notify_sale(self) -> None: ...

    async def use_config(self, config: Config) -> None: ...
