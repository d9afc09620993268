"""The till screen's app in-process, over a real till database holding the recorded store.

``TillHost`` stands in for the engine process around the screen (the
``TillBackend`` protocol: home, config, status hub, online flag); the real
engine serving the real screen is driven by the browser tests. Everything
under test (routes, cart pricing, sales, security) is the real code.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
from starlette.applications import Starlette

from onetill.config import Config, save_config
from onetill.engine.app import StatusHub
from onetill.engine.status import database_status
from onetill.store import Database, open_database
from onetill.store.catalog import apply_items
from onetill.store.settings import replace_categories
from onetill.web import till_ui
from support import RECORDED_STORE
from till_support import fill_catalog

BASE = "http://127.0.0.1:8000"


class TillHost:
    """What the engine gives the screen, with the connectivity set by the test."""

    def __init__(self, home: Path, config: Config | None, *, online: bool = True) -> None:
        self.home = home
        self.config = config
        self.demo: Any = None
        self.db = open_database(home)
        self.hub = StatusHub(self._status, refresh_s=0.05)
        self.is_online = online
        self.sales_notified = 0
        self.configs: list[Config] = []

    def _status(self) -> dict[str, Any]:
        data = database_status(self.db)
        data["connected"] = self.config is not None
        data["state"] = "online" if self.is_online else "offline"
        return data

    @property
    def connected(self) -> bool:
        return self.config is not None

    @property
    def online(self) -> bool:
        return self.is_online

    @property
    def clock_skew_s(self) -> float:
        return 0.0

    def notify_sale(self) -> None:
        self.sales_notified += 1

    async def use_config(self, config: Config) -> None:
        self.config = config
        self.configs.append(config)

    def close(self) -> None:
        self.hub.close()
        self.db.close()


def seeded_home(home: Path, *, connected: bool = True) -> Config | None:
    """A till home holding the recorded store's catalog (and a saved connection)."""
    home.mkdir(parents=True, exist_ok=True)
    db = Database(home / "onetill.db")
    fill_catalog(db)
    with db.write() as conn:
        replace_categories(conn, json.loads((RECORDED_STORE / "categories.json").read_text()))
    db.close()
    if not connected:
        return None
    config = Config(url="http://store.test", key="ck_test", secret="cs_test",
                    timezone="Europe/Berlin", till_id="till-web")  # fmt: skip
    config.extra["store_name"] = "Recorded Test Shop"
    save_config(home, config)
    return config


def product(item_id: int) -> dict[str, Any]:
    """A product of the recorded store, as WooCommerce sent it."""
    items = json.loads((RECORDED_STORE / "products.json").read_text(encoding="utf-8"))
    return next(dict(p) for p in items if p["id"] == item_id)


def change_product(db: Database, item_id: int, **fields: Any) -> None:
    """The store changed a product (a newer copy applied, as a sync would)."""
    data = product(item_id)
    data.update(fields)
    data["date_modified_gmt"] = "2030-01-01T00:00:00"
    with db.write() as conn:
        apply_items(conn, [data], kind="product", cause="test: store changed it")


@asynccontextmanager
async def till_client(
    host: TillHost, *, token: str | None = None, base: str = BASE
) -> AsyncIterator[tuple[httpx2.AsyncClient, Any]]:
    """An HTTP client on the till app (and the app), engine routes left empty."""
    app = till_ui(token=token)(host, Starlette())
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url=base
    ) as client:
        try:
            yield client, app
        finally:
            await app.aclose()


async def csrf(client: httpx2.AsyncClient) -> str:
    response = await client.get("/api/session")
    response.raise_for_status()
    token: str = response.json()["csrf"]
    return token


async def post(client: httpx2.AsyncClient, path: str, body: Any, token: str) -> httpx2.Response:
    return await client.post(path, json=body, headers={"x-csrf-token": token})
