"""Filling a store: a recorded store directory, a generated catalog, or a state file.

A recorded store (layout of ``tests/fixtures/store/``: ``products.json``,
``variations.json``, ``taxes.json``, ``tax_classes.json``, ``categories.json``,
``settings_general.json``, ``settings_tax.json``, ``wp_json_index.json``) is
loaded with its ids; the next post id follows the highest one, as in WordPress.
"""

from __future__ import annotations

import json
from calendar import timegm
from pathlib import Path
from time import strptime
from typing import TYPE_CHECKING, Any

from . import defaults, generator
from .persist import StateFile
from .records import ORDER, PRODUCT, REFUND, VARIATION, WEBHOOK, Item

if TYPE_CHECKING:
    from .state import SandboxStore

__all__ = ["dump_state_file", "load_recorded", "load_state_file", "populate"]

_DROP = ("_links",)


def _gmt(value: str | None) -> int | None:
    if not value:
        return None
    return timegm(strptime(value, "%Y-%m-%dT%H:%M:%S"))


def _read(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _strip(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in _DROP}


def _record(kind: str, raw: dict[str, Any]) -> Item:
    data = _strip(raw)
    item_id = int(data.pop("id"))
    created = _gmt(data.get("date_created_gmt")) or 0
    modified = _gmt(data.get("date_modified_gmt")) or created
    meta: dict[str, Any] = {
        "sale_from": _gmt(data.get("date_on_sale_from_gmt")),
        "sale_to": _gmt(data.get("date_on_sale_to_gmt")),
    }
    if data.get("manage_stock") == "parent":
        # The quantity shown is the parent's; the variation itself holds none.
        data["manage_stock"] = False
        data["stock_quantity"] = None
    return Item(kind, item_id, data, created, modified, meta)


def load_recorded(store: SandboxStore, directory: Path) -> None:
    """Load a recorded store with the same ids, SKUs, prices and stock."""
    d = Path(directory)
    for raw in _read(d / "products.json"):
        item = _record(PRODUCT, raw)
        store.products[item.id] = item
    order: dict[int, list[int]] = {
        p.id: list(p.data.get("variations", [])) for p in store.products.values()
    }
    for raw in _read(d / "variations.json"):
        item = _record(VARIATION, raw)
        if item.data.get("tax_class") == "":
            # A recorded "" is the parent's class shown; what is stored is "parent".
            item.data["tax_class"] = "parent"
        store.variations[item.id] = item
    for var in store.variations.values():
        pid = int(var.data["parent_id"])
        kids = store.children.setdefault(pid, [])
        if var.id not in kids:
            kids.append(var.id)
    for pid, kids in store.children.items():
        wanted = order.get(pid, [])
        kids.sort(key=lambda v: wanted.index(v) if v in wanted else len(wanted) + v)
    store.taxes = [_strip(t) for t in _read(d / "taxes.json")]
    store.tax_classes = [_strip(t) for t in _read(d / "tax_classes.json")]
    store.categories = [_strip(c) for c in _read(d / "categories.json")]
    store.settings = {
        "general": [_strip(s) for s in _read(d / "settings_general.json")],
        "tax": [_strip(s) for s in _read(d / "settings_tax.json")],
    }
    index_file = d / "wp_json_index.json"
    store.index = _read(index_file) if index_file.exists() else {}


def _defaults(store: SandboxStore) -> None:
    store.taxes = json.loads(json.dumps(defaults.TAXES))
    store.tax_classes = json.loads(json.dumps(defaults.TAX_CLASSES))
    store.categories = json.loads(json.dumps(defaults.CATEGORIES))
    store.settings = {
        "general": json.loads(json.dumps(defaults.SETTINGS_GENERAL)),
        "tax": json.loads(json.dumps(defaults.SETTINGS_TAX)),
    }


def populate(store: SandboxStore) -> None:
    """Recorded store and/or generated catalog, as the config asks."""
    cfg = store.config
    if cfg.store_dir is not None:
        load_recorded(store, cfg.store_dir)
    else:
        _defaults(store)
    ids = [*store.products, *store.variations, 0]
    store.counters["post"] = max(max(ids), 9)
    if cfg.products or cfg.variable:
        generator.generate(store, cfg.products, cfg.variable, cfg.seed)
    _fill_index(store)


def _fill_index(store: SandboxStore) -> None:
    home = store.config.home_url
    index = dict(store.index)
    index.setdefault("name", "OneTill Sandbox Store")
    index.setdefault("description", "")
    index.setdefault("namespaces", list(defaults.NAMESPACES))
    index.update(url=home, home=home, timezone_string=store.config.timezone)
    index["authentication"] = {
        "application-passwords": {
            "endpoints": {"authorization": f"{home}/wp-admin/authorize-application.php"}
        }
    }
    store.index = index


_CATALOG_BLOBS = ("taxes", "tax_classes", "categories", "settings", "index")


def dump_state_file(store: SandboxStore, state: StateFile) -> None:
    for kind in (PRODUCT, VARIATION, ORDER, REFUND, WEBHOOK):
        state.save_items(store.collection(kind).values())
    for name in _CATALOG_BLOBS:
        state.save_blob(name, getattr(store, name))
    state.save_blob("counters", store.counters)


def load_state_file(store: SandboxStore, state: StateFile) -> None:
    for item in state.load_items():
        store.collection(item.kind)[item.id] = item
    for var in sorted(store.variations.values(), key=lambda v: v.id):
        store.children.setdefault(int(var.data["parent_id"]), []).append(var.id)
    for p in store.products.values():
        if p.data.get("type") == "variable":
            store.children.setdefault(p.id, [])
    for name in _CATALOG_BLOBS:
        setattr(store, name, state.load_blob(name))
    store.counters.update(state.load_blob("counters") or {})
    _fill_index(store)
