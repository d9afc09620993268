"""Test helpers for the till side of a sale: a real SQLite file holding the recorded store.

``seeded_db(path)`` opens a till database and fills its catalog from
tests/fixtures/store/*.json through the catalog's own upserts, exactly as
an initial sync would store them.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2

from onetill.store.catalog import apply_items
from onetill.store.db import Database
from onetill.store.settings import (
    replace_settings,
    replace_tax_classes,
    replace_tax_rates,
)
from onetill.woo import WooClient
from support import RECORDED_STORE


def _load(name: str, store_dir: Path = RECORDED_STORE) -> Any:
    return json.loads((store_dir / name).read_text(encoding="utf-8"))


def store_with_settings(folder: Path, **values: str) -> Path:
    """A copy of the recorded store in ``folder`` with some settings changed."""
    import shutil

    target = folder / "store"
    shutil.copytree(RECORDED_STORE, target)
    for name in ("settings_general.json", "settings_tax.json"):
        items = _load(name, target)
        for item in items:
            if item["id"] in values:
                item["value"] = values[item["id"]]
        (target / name).write_text(json.dumps(items), encoding="utf-8")
    return target


def fill_catalog(
    db: Database,
    *,
    settings_override: dict[str, str] | None = None,
    store_dir: Path = RECORDED_STORE,
) -> None:
    """Store a recorded store's products, variations, taxes and settings in ``db``."""
    general = _load("settings_general.json", store_dir)
    tax = _load("settings_tax.json", store_dir)
    if settings_override:
        for group in (general, tax):
            for item in group:
                if item["id"] in settings_override:
                    item["value"] = settings_override[item["id"]]
    with db.write() as conn:
        apply_items(conn, _load("products.json", store_dir), kind="product", cause="test seed")
        apply_items(conn, _load("variations.json", store_dir), kind="variation", cause="seed")
        replace_tax_rates(conn, _load("taxes.json", store_dir))
        replace_tax_classes(conn, _load("tax_classes.json", store_dir))
        replace_settings(conn, "general", general)
        replace_settings(conn, "tax", tax)


def seeded_db(path: Path, **kwargs: Any) -> Database:
    """A till database at ``path`` holding the recorded store's catalog."""
    db = Database(path)
    fill_catalog(db, **kwargs)
    return db


def stock_of(db: Database, item_id: int) -> int | None:
    """The till's local stock for one catalog row."""
    row = db.conn.execute("SELECT stock_quantity FROM products WHERE id = ?", (item_id,)).fetchone()
    return None if row is None else row[0]


# --- a till wired to an in-process sandbox store ----------------------------


class ZeroJitter(random.Random):
    """Full jitter drawn at its lower end: retries are due at once unless Retry-After says not.

    Lets a test drive retries without sleeping; the drainer's own timing
    rules (Retry-After, settle time, FIFO) are unchanged.
    """

    def uniform(self, a: float, b: float) -> float:
        return a


class Elapsed:
    """A monotonic clock that a test can move on: real monotonic time plus what was skipped.

    Time "passing" for an outbox test is the store's clock and the till
    process's monotonic clock moving together (``Rig.advance``); the till's
    wall clock is another matter (``drain(clock=...)``) and may step anywhere.
    """

    def __init__(self) -> None:
        self.skipped = 0.0

    def __call__(self) -> float:
        import time

        return time.monotonic() + self.skipped


@dataclass
class Rig:
    """A till database and a WooClient talking to an in-process sandbox store."""

    db: Database
    app: Any
    client: WooClient
    path: Path
    elapsed: Elapsed

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass: on the store's clock and on the till's monotonic clock."""
        self.elapsed.skipped += seconds
        self.store.set_clock_offset(self.store.clock_offset_s + seconds)

    def client_for(self, transport: httpx2.AsyncBaseTransport | None = None) -> WooClient:
        """Another client of this store on the same elapsed time (a new process)."""
        return WooClient(
            self.store.config.home_url, *next(iter(self.store.config.keys.items())),
            transport=transport or httpx2.ASGITransport(app=self.app), timeout=5.0,
            monotonic=self.elapsed,
        )  # fmt: skip

    @property
    def store(self) -> Any:
        return self.app.state.sandbox

    @property
    def faults(self) -> Any:
        return self.app.state.faults

    def reopen(self) -> None:
        """Close the till's database and open it again (a restart of the till process)."""
        self.db.close()
        self.db = Database(self.path)

    def store_orders_for(self, uuid: str) -> list[dict[str, Any]]:
        return [o for o in self.store.list_orders() if order_uuid(o) == uuid]


def order_uuid(order: dict[str, Any]) -> Any:
    for entry in order.get("meta_data") or []:
        if entry.get("key") == "_onetill_order_uuid":
            return entry.get("value")
    return None


def make_rig(tmp_path: Path, store_dir: Path = RECORDED_STORE, **config: Any) -> Rig:
    """A seeded till and a sandbox holding the same recorded store."""
    from onetill.sandbox import SandboxConfig, create_app

    cfg = SandboxConfig(store_dir=store_dir, **config)
    app = create_app(cfg)
    key, secret = next(iter(cfg.keys.items()))
    elapsed = Elapsed()
    client = WooClient(
        cfg.home_url, key, secret, transport=httpx2.ASGITransport(app=app), timeout=5.0,
        monotonic=elapsed,
    )  # fmt: skip
    path = tmp_path / "till.db"
    db = seeded_db(path, store_dir=store_dir)
    return Rig(db=db, app=app, client=client, path=path, elapsed=elapsed)


async def close_rig(rig: Rig) -> None:
    await rig.client.aclose()
    await rig.store.aclose()
    rig.db.close()


def sell(
    db: Database, *codes: str, qty: int = 1, tendered: str | None = None, now: Any = None
) -> Any:
    """Record a cash sale of ``codes`` (each ``qty`` times) through the real till code.

    ``now``: the till's clock at the sale (default: the real one)."""
    from decimal import Decimal

    from onetill.pos.cart import Cart
    from onetill.pos.sale import record_sale
    from onetill.pos.tender import Payment

    cart = Cart(db.conn)
    for code in codes:
        cart.add(code, qty)
    amount = Decimal(tendered) if tendered is not None else None
    return record_sale(db, cart, Payment("cash", amount), till_id="till-test", now=now)
