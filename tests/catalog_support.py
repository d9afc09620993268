"""Helpers for the catalog sync tests: a sandbox store in-process with a request log,
a frozen server clock, and a till database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx2

from onetill.sandbox import create_app
from onetill.sandbox.config import DEFAULT_KEY, DEFAULT_SECRET, SandboxConfig
from onetill.store import Database
from onetill.woo import WooClient
from support import RECORDED_STORE

API = "/wp-json/wc/v3/"
PLUGIN_API = "/wp-json/wc-onetill/v1/"


@dataclass
class Request:
    method: str
    path: str  # below /wp-json/wc/v3/
    params: dict[str, str]


class RequestLog:
    """An ASGI wrapper that records every API request the store receives."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests: list[Request] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith((API, PLUGIN_API)):
            params = dict(parse_qsl(scope["query_string"].decode(), keep_blank_values=True))
            params = {k: v for k, v in params.items() if not k.startswith("oauth_")}
            # wc/v3 paths below the namespace; the companion plugin's as "wc-onetill/v1/...".
            path = scope["path"][len(API) :] if scope["path"].startswith(API) else (
                scope["path"][len("/wp-json/") :]
            )
            self.requests.append(Request(scope["method"], path, params))
        await self.app(scope, receive, send)

    def pages(self, path: str, **match: str) -> list[int]:
        """Pages of ``path`` read whole (no ``_fields``, as an ID audit asks) matching ``match``."""
        return sorted(
            int(r.params.get("page", "1"))
            for r in self.requests
            if r.path == path
            and "_fields" not in r.params
            and all(r.params.get(k) == v for k, v in match.items())
        )

    def clear(self) -> None:
        self.requests.clear()


class FrozenClock:
    """The sandbox server's clock, moved only by the test (epoch seconds)."""

    def __init__(self, start: float) -> None:
        self.now = float(start)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Shop:
    """One sandbox store, a client to it and a till database."""

    app: Any
    log: RequestLog
    client: WooClient
    db: Database
    config: SandboxConfig
    clock: FrozenClock | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def store(self) -> Any:
        return self.app.state.sandbox

    @property
    def faults(self) -> Any:
        return self.app.state.faults


async def _no_sleep(seconds: float) -> None:
    await asyncio.sleep(0)


@asynccontextmanager
async def open_shop(
    tmp_path: Path, *, frozen_at: float | None = None, **config: Any
) -> AsyncIterator[Shop]:
    """The recorded store (unless ``config`` says otherwise) in-process, and a fresh till."""
    if not config.get("products") and not config.get("variable"):
        config.setdefault("store_dir", RECORDED_STORE)
    config.setdefault("webhook_delay_s", 0.05)
    cfg = SandboxConfig(**config)
    app = create_app(cfg)
    clock = None
    if frozen_at is not None:
        clock = FrozenClock(frozen_at)
        # The sandbox is the far side of the wire; freezing its clock is setting the scene.
        app.state.sandbox._clock = clock
    log = RequestLog(app)
    client = WooClient(
        cfg.home_url,
        DEFAULT_KEY,
        DEFAULT_SECRET,
        transport=httpx2.ASGITransport(app=log),
        sleep=_no_sleep,
        max_attempts=2,
    )
    db = Database(tmp_path / "till.db")
    try:
        async with client:
            yield Shop(app, log, client, db, cfg, clock)
    finally:
        db.close()
        await app.state.sandbox.aclose()


def store_items(store: Any) -> dict[int, dict[str, Any]]:
    """What the sandbox store holds, as the v3 API would show it (products and variations)."""
    from onetill.sandbox import serialize

    out = {}
    for item in (*store.products.values(), *store.variations.values()):
        data = serialize.item_json(store, item)
        if data["status"] != "trash":
            out[data["id"]] = data
    return out


def local_items(db: Database) -> dict[int, dict[str, Any]]:
    rows = db.conn.execute(
        "SELECT id, parent_id, sku, name, status, price, regular_price, sale_price,"
        " store_stock_quantity, stock_status FROM products WHERE status != 'trash'"
    ).fetchall()
    return {r[0]: dict(r) for r in rows}
