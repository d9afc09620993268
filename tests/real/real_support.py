"""Helpers for the tests against the real WooCommerce store (``real`` marker).

- ``Admin``: the merchant's admin acting on the store through its REST API
  (Basic over https with the store's own CA), on a plain ``httpx2.Client``:
  the store side of a test never goes through our ``WooClient``.
- ``till_config``: a till connection as ``onetill connect`` saves it.
- ``Till``: a till home with its database, holding the store's catalog
  (copied from a template pulled once per session, so each test starts
  from an initial sync without paying for one).
- ``examples(n)``: hypothesis example counts, raised for long runs by
  ``ONETILL_LONG_RUN=1`` (or set exactly with ``ONETILL_REAL_EXAMPLES``).
"""

from __future__ import annotations

import os
import shutil
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2

from onetill.config import Config, save_config
from onetill.engine.jobs import build_client
from onetill.store import Database, open_database
from onetill.store.db import DB_FILENAME
from onetill.woo import WooClient
from realstore_support import RealStore

__all__ = ["Admin", "Till", "examples", "long_run", "till_config", "wait_until"]


def long_run() -> bool:
    """True in a long (``make chaos``-style) run: more hypothesis examples."""
    return os.environ.get("ONETILL_LONG_RUN", "") not in ("", "0")


def examples(normal: int, long: int | None = None) -> int:
    """How many hypothesis examples a real-store property runs now."""
    exact = os.environ.get("ONETILL_REAL_EXAMPLES")
    if exact:
        return int(exact)
    return (long if long is not None else normal * 10) if long_run() else normal


def fixed_draws() -> bool:
    """The normal suite draws the same examples every run (CI must not turn red on a
    sequence nobody has seen); long runs and ``ONETILL_REAL_EXAMPLES`` explore afresh."""
    return not long_run() and not os.environ.get("ONETILL_REAL_EXAMPLES")


class Admin:
    """The store's admin, editing through the REST API as a merchant's tools would."""

    def __init__(self, store: RealStore) -> None:
        self.store = store
        self.http = httpx2.Client(
            base_url=store.url_https + "/wp-json/wc/v3/",
            auth=(store.key, store.secret),
            verify=ssl.create_default_context(cafile=store.ca_cert),
            timeout=120.0,
            trust_env=False,
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Admin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(
        self, method: str, path: str, params: dict[str, Any] | None = None, json: Any = None
    ) -> httpx2.Response:
        return self.http.request(method, path, params=params, json=json)

    def _ok(self, response: httpx2.Response) -> Any:
        assert response.status_code < 300, (response.status_code, response.text[:500])
        return response.json()

    def get(self, path: str, **params: Any) -> Any:
        return self._ok(self.call("GET", path, params=params))

    def post(self, path: str, body: Any, **params: Any) -> Any:
        return self._ok(self.call("POST", path, params=params, json=body))

    def put(self, path: str, body: Any) -> Any:
        return self._ok(self.call("PUT", path, json=body))

    def delete(self, path: str, **params: Any) -> Any:
        return self._ok(self.call("DELETE", path, params=params))

    def item(self, item_id: int) -> dict[str, Any]:
        """A product, or a variation through its parent's route (the variation shape)."""
        found = self.get(f"products/{item_id}")
        if found.get("type") == "variation":
            return dict(self.get(f"products/{found['parent_id']}/variations/{item_id}"))
        return dict(found)

    def edit(self, item_id: int, **fields: Any) -> dict[str, Any]:
        """Edit a product or a variation, as wp-admin's product screen would."""
        found = self.get(f"products/{item_id}", _fields="id,type,parent_id")
        if found["type"] == "variation":
            return dict(self.put(f"products/{found['parent_id']}/variations/{item_id}", fields))
        return dict(self.put(f"products/{item_id}", fields))

    def stock(self, item_id: int) -> Any:
        return self.get(f"products/{item_id}", _fields="stock_quantity")["stock_quantity"]

    def all_pages(self, path: str, **params: Any) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        page = 1
        while True:
            batch = self.get(path, per_page=100, page=page, **params)
            out += batch
            if len(batch) < 100:
                return out
            page += 1

    def orders_with_uuid(self, uuid: str) -> list[dict[str, Any]]:
        """Every order whose ``_onetill_order_uuid`` meta is ``uuid`` (all statuses)."""
        found = []
        for order in self.all_pages("orders", status="any"):
            for meta in order.get("meta_data") or []:
                if meta.get("key") == "_onetill_order_uuid" and meta.get("value") == uuid:
                    found.append(order)
        return found


def till_config(store: RealStore, *, https: bool = False, **extra: Any) -> Config:
    """The connection ``onetill connect`` saves for this store (http OAuth unless ``https``)."""
    return Config(
        url=store.url_https if https else store.url,
        key=store.key,
        secret=store.secret,
        ca_file=store.ca_cert if https else None,
        timezone="America/New_York",
        gmt_offset=-5.0,
        global_variations=True,
        wc_version="11.0.1",
        **extra,
    )


@dataclass
class Till:
    """A till home connected to the real store, its catalog already pulled."""

    home: Path
    config: Config
    db: Database

    def client(self, **kw: Any) -> WooClient:
        return build_client(self.config, **kw)

    def row(self, item_id: int) -> dict[str, Any] | None:
        with self.db.lock:
            found = self.db.conn.execute("SELECT * FROM products WHERE id = ?", (item_id,))
            row = found.fetchone()
        return None if row is None else dict(row)

    def stock(self, item_id: int) -> Any:
        row = self.row(item_id)
        return None if row is None else row["stock_quantity"]

    def close(self) -> None:
        self.db.close()


def copy_till(template: Path, home: Path, config: Config) -> Till:
    """A new till home holding a copy of ``template`` (a closed database file)."""
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, home / DB_FILENAME)
    save_config(home, config)
    return Till(home, config, open_database(home))


def wait_until(condition: Callable[[], Any], within: float, step: float = 0.2) -> float:
    """Seconds until ``condition()`` is truthy; fails the test after ``within`` seconds."""
    start = time.monotonic()
    while True:
        if condition():
            return time.monotonic() - start
        if time.monotonic() - start > within:
            raise AssertionError(f"condition not reached within {within} s")
        time.sleep(step)
