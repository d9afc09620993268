"""SandboxStore: the whole state of one emulated WooCommerce store.

Control methods (called by ``control.py``, tests and benchmarks; each behaves
like the WooCommerce action it names and fires the webhooks it would):

- ``SandboxStore.from_config(config, clock=None)``: build the store (recorded
  store dir, generated catalog, or the SQLite ``state_file`` when it holds one).
- ``place_online_order(line_items) -> dict``: a web-shop checkout, paid
  (``processing``): reduces stock, bumps the products' dates, fires
  ``order.created`` and ``product.updated``. Line items as in the REST API
  (``product_id``, ``variation_id``, ``quantity``, optional ``sku``).
- ``admin_update_product(id, fields) -> dict``: an edit in wp-admin, for a
  product or a variation id (v3 field names, e.g. ``regular_price``,
  ``stock_quantity``); returns the v3 object.
- ``trash_product(id) -> dict`` / ``force_delete_product(id) -> dict``.
- ``admin_update_tax(id, fields) -> dict``: a tax rate edited in wp-admin
  (e.g. ``{"rate": "7.0000"}``); orders created afterwards use it.
- ``list_orders() -> list[dict]``: every order, full v3 (with ``meta_data``).
- ``stock_of(ids) -> dict[int, int | None]``: the stock shown for each id
  (a parent-managed variation shows its parent's), None when unmanaged or unknown.
- ``revoke_key(ck)``; ``set_clock_offset(seconds)``; ``now() -> int``.
- Hostile data, for tests of what a broken store can send:
  ``set_raw_fields(id, fields)`` makes every answer (and webhook) about the
  product or variation carry ``fields`` verbatim (``{"stock_quantity":
  2**63}``, ``{"id": "abc"}``; None clears them), as a save would (the date
  moves, ``product.updated`` fires); ``add_byte_patch(find, replace)``
  replaces the UTF-8 text ``find`` by the raw bytes ``replace`` in every REST
  answer body (invalid UTF-8); ``clear_byte_patches()``.
- ``await webhooks_idle()`` waits for queued deliveries; ``await aclose()``
  cancels them (and closes the state file); ``dispatcher.log`` lists every
  delivery attempt (webhook_id, topic, resource_id, status, ok).
- ``keyring.keys`` / ``keyring.read_only_keys``: the live key pairs.

Not thread-safe beyond the GIL: call it from the event loop that serves it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from . import catalog, checkout, loader, serialize
from .auth import KeyRing
from .companion_journal import PluginTables
from .config import SandboxConfig
from .persist import StateFile
from .records import ORDER, PRODUCT, REFUND, VARIATION, WEBHOOK, Item
from .webhooks import Dispatcher

__all__ = ["SandboxStore"]

_COUNTERS = ("post", "item", "item_meta", "order_meta", "note", "webhook", "delivery")


class SandboxStore:
    """Products, variations, orders, refunds, taxes, settings, webhooks and the clock."""

    def __init__(self, config: SandboxConfig, *, clock: Callable[[], float] | None = None) -> None:
        self.config = config
        self.tz = ZoneInfo(config.timezone)
        self.keyring = KeyRing(dict(config.keys), dict(config.read_only_keys))
        self._clock = clock or time.time
        self.clock_offset_s = config.clock_offset_s
        self.products: dict[int, Item] = {}
        self.variations: dict[int, Item] = {}
        self.children: dict[int, list[int]] = {}
        self.orders: dict[int, Item] = {}
        self.refunds: dict[int, Item] = {}
        self.webhooks: dict[int, Item] = {}
        self.taxes: list[dict[str, Any]] = []
        self.tax_classes: list[dict[str, Any]] = []
        self.categories: list[dict[str, Any]] = []
        self.settings: dict[str, list[dict[str, Any]]] = {}
        self.index: dict[str, Any] = {}
        self.counters: dict[str, int] = dict.fromkeys(_COUNTERS, 0)
        self.state_file: StateFile | None = None
        self.dispatcher = Dispatcher(self)
        self.byte_patches: list[tuple[bytes, bytes]] = []
        # The companion plugin's tables (config.plugin), attached once the catalog is built.
        self.plugin: PluginTables | None = None

    # --- building -----------------------------------------------------------

    @classmethod
    def from_config(
        cls, config: SandboxConfig, *, clock: Callable[[], float] | None = None
    ) -> SandboxStore:
        """From the state file (if it holds a store), else a recorded dir or a generated catalog."""
        store = cls(config, clock=clock)
        if config.state_file is not None:
            state = StateFile(config.state_file)
            if not state.is_empty():
                loader.load_state_file(store, state)
            else:
                loader.populate(store)  # before attaching: no per-id writes while generating
                loader.dump_state_file(store, state)
            store.state_file = state
        else:
            loader.populate(store)
        if config.plugin:
            store.plugin = store._plugin_tables()
        return store

    def _plugin_tables(self) -> PluginTables:
        """A fresh journal (new epoch); the idempotency keys survive in the state file."""
        keys: dict[str, Any] = {}
        if self.state_file is not None:
            for name in ("companion_order_keys", "companion_stock_keys"):
                keys[name] = self.state_file.load_blob(name)
        return PluginTables(
            self.now,
            order_keys=keys.get("companion_order_keys"),
            stock_keys=keys.get("companion_stock_keys"),
        )

    # --- clock and ids ------------------------------------------------------

    def now(self) -> int:
        """The server clock (epoch seconds, one-second resolution), offset included."""
        return int(self._clock() + self.clock_offset_s)

    def set_clock_offset(self, seconds: float) -> None:
        """Skew the server clock (Date header, dates written, OAuth timestamp window)."""
        self.clock_offset_s = float(seconds)

    def next_id(self, counter: str) -> int:
        """WordPress ids: products, variations, orders and refunds share the post sequence."""
        self.counters[counter] += 1
        if self.state_file is not None:
            self.state_file.save_blob("counters", self.counters)
        return self.counters[counter]

    # --- persistence --------------------------------------------------------

    def save(self, item: Item) -> None:
        if self.plugin is not None and item.kind in (PRODUCT, VARIATION):
            self.plugin.item_saved(item.kind, item.id, int(item.data.get("parent_id") or 0))
        if self.state_file is not None:
            self.state_file.save_item(item)

    def forget(self, item: Item) -> None:
        if self.plugin is not None and item.kind in (PRODUCT, VARIATION):
            parent = int(item.data.get("parent_id") or 0)
            self.plugin.item_saved(item.kind, item.id, parent, deleted=True)
        if self.state_file is not None:
            self.state_file.delete_item(item.kind, item.id)

    def save_blob(self, name: str, value: Any) -> None:
        if self.state_file is not None:
            self.state_file.save_blob(name, value)

    # --- lookups ------------------------------------------------------------

    def setting(self, setting_id: str, default: str = "") -> str:
        for group in self.settings.values():
            for s in group:
                if s.get("id") == setting_id:
                    return str(s.get("value", default))
        return default

    def find(self, item_id: int) -> Item | None:
        """A product or a variation by id."""
        return self.products.get(item_id) or self.variations.get(item_id)

    def _known(self, item_id: int) -> Item:
        """``find`` for the control methods: an unknown id is a ``KeyError``."""
        item = self.find(item_id)
        if item is None:
            raise KeyError(f"no product or variation {item_id}")
        return item

    def collection(self, kind: str) -> dict[int, Item]:
        return {
            PRODUCT: self.products,
            VARIATION: self.variations,
            ORDER: self.orders,
            REFUND: self.refunds,
            WEBHOOK: self.webhooks,
        }[kind]

    # --- webhooks -----------------------------------------------------------

    def emit(self, topic: str, resource_id: int) -> None:
        """Queue deliveries for every active webhook on ``topic`` (coalesced per resource)."""
        self.dispatcher.emit(topic, resource_id)

    async def webhooks_idle(self) -> None:
        await self.dispatcher.idle()

    async def aclose(self) -> None:
        await self.dispatcher.aclose()
        if self.state_file is not None:
            self.state_file.close()
            self.state_file = None

    # --- control API --------------------------------------------------------

    def place_online_order(self, line_items: list[dict[str, Any]]) -> dict[str, Any]:
        """A paid web-shop checkout: stock drops, dates bump, webhooks fire."""
        order = checkout.create_order(
            self,
            {"set_paid": True, "created_via": "checkout", "line_items": line_items},
            validate=False,
        )
        return serialize.order_json(self, order)

    def admin_update_product(self, item_id: int, fields: dict[str, Any]) -> dict[str, Any]:
        """An edit in wp-admin of a product or a variation (v3 field names)."""
        item = self._known(item_id)
        catalog.update_item(self, item, fields, validate_body=False)
        return serialize.item_json(self, item)

    def trash_product(self, item_id: int) -> dict[str, Any]:
        item = self._known(item_id)
        before = serialize.item_json(self, item)
        catalog.trash(self, item)
        return before

    def force_delete_product(self, item_id: int) -> dict[str, Any]:
        item = self._known(item_id)
        before = serialize.item_json(self, item)
        catalog.force_delete(self, item)
        return before

    def admin_update_tax(self, rate_id: int, fields: dict[str, Any]) -> dict[str, Any]:
        """A tax rate edited in wp-admin (v3 field names: ``rate``, ``name``, ...)."""
        for rate in self.taxes:
            if int(rate.get("id", 0)) == rate_id:
                rate.update({k: v for k, v in fields.items() if k != "id"})
                self.save_blob("taxes", self.taxes)
                return dict(rate)
        raise KeyError(f"no tax rate {rate_id}")

    def list_orders(self) -> list[dict[str, Any]]:
        return [
            serialize.order_json(self, o) for o in sorted(self.orders.values(), key=lambda o: o.id)
        ]

    def stock_of(self, ids: list[int]) -> dict[int, int | None]:
        out: dict[int, int | None] = {}
        for i in ids:
            item = self.find(i)
            out[i] = None if item is None else catalog.shown_stock(self, item)
        return out

    def revoke_key(self, ck: str) -> None:
        self.keyring.revoke(ck)

    def set_raw_fields(self, item_id: int, fields: dict[str, Any] | None) -> dict[str, Any]:
        """Answer ``fields`` verbatim for this product or variation (None: stop); a save."""
        item = self._known(item_id)
        if fields:
            item.meta["raw_fields"] = dict(fields)
        else:
            item.meta.pop("raw_fields", None)
        catalog.touch(self, item)
        self.emit("product.updated", item.id)
        return serialize.item_json(self, item)

    def add_byte_patch(self, find: str, replace: bytes) -> None:
        """Every REST answer body holding ``find`` (UTF-8) gets ``replace`` there instead."""
        if not find:
            raise ValueError("give the text to replace")
        self.byte_patches.append((find.encode("utf-8"), bytes(replace)))

    def clear_byte_patches(self) -> None:
        self.byte_patches.clear()
