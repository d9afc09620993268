"""The companion plugin's change journal, as the sandbox keeps it (in memory).

Rows are written by ``SandboxStore.save``/``forget`` for products and
variations (every write of one is a save, as WooCommerce's
``woocommerce_after_product_object_save`` and ``deleted_post``) and by
setting changes. The sandbox has no concurrent transactions, so its sequence
has no gaps and ``head`` is simply the last number. The journal is not in the
state file: a sandbox restarted on the same state starts a new epoch, which
is exactly what a till must handle when a real journal is lost.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["SETTINGS", "Change", "Journal", "PluginTables"]

# Options whose changes the plugin journals (class-onetill-companion-journal.php).
SETTINGS = frozenset(
    {
        "woocommerce_currency",
        "woocommerce_price_num_decimals",
        "woocommerce_price_decimal_sep",
        "woocommerce_price_thousand_sep",
        "woocommerce_currency_pos",
        "woocommerce_calc_taxes",
        "woocommerce_prices_include_tax",
        "woocommerce_tax_based_on",
        "woocommerce_tax_round_at_subtotal",
        "woocommerce_tax_display_shop",
        "woocommerce_tax_display_cart",
        "woocommerce_default_country",
        "woocommerce_manage_stock",
        "woocommerce_enable_coupons",
        "woocommerce_tax_classes",
        "timezone_string",
        "gmt_offset",
    }
)


@dataclass(frozen=True, slots=True)
class Change:
    seq: int
    type: str  # product | variation | tax_rate | setting
    id: int
    parent_id: int
    key: str  # the option name of a setting, else ""
    op: str  # upsert | delete
    at: int  # epoch seconds (server clock)


class Journal:
    """Sequence-numbered changes with an epoch and a pruned-through mark."""

    def __init__(self, clock: Callable[[], int]) -> None:
        self.clock = clock
        self.epoch = secrets.token_hex(8)
        self.rows: list[Change] = []
        self.last_seq = 0
        self.pruned_through = 0

    def record(
        self, type_: str, object_id: int, op: str, *, parent_id: int = 0, key: str = ""
    ) -> None:
        self.last_seq += 1
        self.rows.append(Change(self.last_seq, type_, object_id, parent_id, key, op, self.clock()))

    @property
    def head(self) -> int:
        return self.last_seq

    def read(self, after: int, limit: int) -> tuple[list[Change], int, bool]:
        """(rows after ``after``, the next cursor, whether more rows follow)."""
        newer = [c for c in self.rows if c.seq > after]
        page = newer[:limit]
        return page, page[-1].seq if page else after, len(newer) > limit

    def prune(self, retention_s: float) -> int:
        """Drop rows older than ``retention_s`` (the newest is always kept); rows dropped."""
        cutoff = self.clock() - retention_s
        old = [c.seq for c in self.rows[:-1] if c.at < cutoff]
        if not old:
            return 0
        self.pruned_through = max(self.pruned_through, max(old))
        before = len(self.rows)
        self.rows = [c for c in self.rows if c.seq > self.pruned_through]
        return before - len(self.rows)


class PluginTables:
    """What the plugin keeps in its own tables: the journal and the idempotency keys.

    ``order_keys``: key -> [request hash, order id]; ``stock_keys``: key ->
    [product id, delta, stock item id, stock after]. Both are saved in the
    state file (blobs), so a restarted sandbox still refuses to repeat them.
    """

    def __init__(
        self,
        clock: Callable[[], int],
        order_keys: dict[str, list[Any]] | None = None,
        stock_keys: dict[str, list[Any]] | None = None,
    ) -> None:
        self.journal = Journal(clock)
        self.order_keys: dict[str, list[Any]] = order_keys or {}
        self.stock_keys: dict[str, list[Any]] = stock_keys or {}

    def item_saved(self, kind: str, item_id: int, parent_id: int, *, deleted: bool = False) -> None:
        """A product or variation was written (or permanently deleted)."""
        op = "delete" if deleted else "upsert"
        if kind == "product":
            self.journal.record("product", item_id, op)
        elif kind == "variation":
            self.journal.record("variation", item_id, op, parent_id=parent_id)

    def setting_saved(self, option: str) -> None:
        if option in SETTINGS:
            self.journal.record("setting", 0, "upsert", key=option)
