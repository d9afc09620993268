"""What a verified webhook delivery does to the till's database.

- ``product.created/updated/restored``: the payload is the whole v3 object
  as it was at delivery time. It is applied only when it is newer than the
  local row (``date_modified_gmt``, one-second resolution): the signature
  covers the body but not the delivery id, so an old genuine body sent
  again under a new delivery id must not roll the till back. Dates are
  only compared when neither lies after the store's clock as the till
  knows it: a store clock that ran ahead writes future dates, which would
  make every later edit look old (and a replayed future body look new).
  Then the product is read back from the store and the store's copy is
  applied, judged against the ``Date`` of that very answer; logged.
- ``product.deleted`` (sent on trash only) carries nothing but ``{"id": N}``,
  which would be just as replayable, so the product is read back from the
  store and the store's answer is applied: trashed -> not sellable, gone ->
  not sellable, restored meanwhile -> stays sellable.
- ``order.*``: the stock of the order's items is read back from the store
  (WooCommerce wins; differences go to the discrepancy log), except for
  this till's own uploads, whose stock the drainer has just read back. An
  ``order.created`` of this till's that is a second copy of a sale (a held
  upload that landed after a resend) flags the sale ("flagged",
  ``sync.duplicates``); nothing is cancelled.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from onetill.store import Database
from onetill.store.catalog import ApplyResult, apply_items
from onetill.store.catalog_rows import MAX_ID
from onetill.store.discrepancies import log_discrepancy
from onetill.sync.duplicates import note_created_order
from onetill.sync.outbox_payload import META_TILL
from onetill.sync.stock import order_item_ids, refresh_stock
from onetill.woo import WooClient, format_gmt_cursor
from onetill.woo.errors import WooAPIError
from onetill.woo.store_clock import StoreClock

__all__ = ["CatalogWebhookHandler", "order_item_ids"]

log = logging.getLogger("onetill.engine.webhooks")

# Without a Date to go by, the store's clock is guessed from the till's and
# the last skew measured; a date this far past the guess is read back. Only
# a cost (one GET), never a wrong answer: the read-back is judged by its Date.
GUESS_SLACK_S = 120.0


def _meta(order: dict[str, Any], key: str) -> Any:
    for item in order.get("meta_data") or []:
        if isinstance(item, dict) and item.get("key") == key:
            return item.get("value")
    return None


class CatalogWebhookHandler:
    """Applies deliveries to the catalog of ``db``, reading back from ``client`` when needed."""

    def __init__(
        self,
        client: WooClient,
        db: Database,
        till_id: str = "",
        barcode_meta_key: str | None = None,
    ) -> None:
        self.client = client
        self.db = db
        self.till_id = till_id
        # As the polls apply products: a store whose barcodes live only in a
        # meta field must not lose them when a webhook brings the product.
        self.barcode_meta_key = barcode_meta_key

    async def product_changed(self, topic: str, data: dict[str, Any]) -> str:
        cause = f"webhook {topic}"
        item_id = data.get("id")
        modified = data.get("date_modified_gmt")
        known = type(item_id) is int and 0 < item_id <= MAX_ID
        limit = self._guess_limit()
        with self.db.write() as conn:
            row = conn.execute(
                "SELECT date_modified_gmt FROM products WHERE id = ?", (item_id,)
            ).fetchone() if known else None  # fmt: skip
            future = (isinstance(modified, str) and modified > limit) or (
                row is not None and row[0] > limit
            )
            if not (known and future):
                # Naive UTC ISO strings of one format compare correctly as text.
                if row is not None and (not isinstance(modified, str) or modified <= row[0]):
                    return "stale"
                result = apply_items(
                    conn, [data], kind="product", cause=cause,
                    barcode_meta_key=self.barcode_meta_key,
                )  # fmt: skip
                return _outcome(result)
        log.warning(
            "webhook %s for %s: date %s or the till's %s lies after the store's clock "
            "(about %s): reading the product back", topic, item_id, modified,
            row[0] if row else None, limit,
        )  # fmt: skip
        assert isinstance(item_id, int)
        found, _ = await self._read_back(item_id, f"{cause} (read back)")
        return "stale" if found is None else _outcome(found)

    def _guess_limit(self) -> str:
        """Naive UTC text past which a date cannot be the store's: the till's clock, or
        the store's as last measured if that is earlier (a store clock set back since
        leaves the skew behind, and too early a guess only costs a read-back)."""
        now = time.time()
        skew = self.client.clock_skew_s
        guess = min(now, now + skew) if skew is not None else now
        return format_gmt_cursor(datetime.fromtimestamp(guess + GUESS_SLACK_S, UTC))

    async def _read_back(self, product_id: int, cause: str) -> tuple[ApplyResult | None, Any]:
        """Apply the store's own copy of a product (judged by its answer's ``Date``).

        Returns (None, None) when the store no longer has it (404).
        """
        try:
            response = await self.client.get(f"products/{product_id}")
        except WooAPIError as exc:
            if exc.status != 404:
                raise
            return None, None
        data = response.data
        if not isinstance(data, dict):
            return ApplyResult(), data
        clock = StoreClock()
        clock.observe(response.server_time)
        with self.db.write() as conn:
            result = apply_items(
                conn, [data], kind="product", cause=cause, barcode_meta_key=self.barcode_meta_key,
                trusted_until=clock.trusted_until(),
            )  # fmt: skip
            if data.get("status") == "trash":
                # Trashing a variable product trashes its variations too.
                self._hide_children(conn, product_id)
        return result, data

    async def product_deleted(self, product_id: int) -> str:
        result, data = await self._read_back(product_id, "webhook product.deleted")
        if result is None:
            return self._hide(product_id, "gone", "webhook product.deleted (not in the store)")
        if not isinstance(data, dict):
            return "ignored"
        if result.skipped:
            return "malformed"
        return "applied" if data.get("status") == "trash" else "restored"

    def _hide(self, product_id: int, status: str, cause: str) -> str:
        with self.db.write() as conn:
            row = conn.execute("SELECT status FROM products WHERE id = ?", (product_id,)).fetchone()
            if row is None:
                return "ignored"
            log_discrepancy(conn, "product", product_id, "status", row[0], status, cause)
            conn.execute(
                "UPDATE products SET status = ?, sellable = 0 WHERE id = ?", (status, product_id)
            )
            self._hide_children(conn, product_id)
        return "applied"

    @staticmethod
    def _hide_children(conn: Any, parent_id: int) -> None:
        conn.execute(
            "UPDATE products SET sellable = 0 WHERE parent_id = ? AND type = 'variation'",
            (parent_id,),
        )

    async def order_changed(self, topic: str, data: dict[str, Any]) -> str:
        if self.till_id and _meta(data, META_TILL) == self.till_id:
            # Our own sale: the drainer already read its stock back. A second
            # copy of it is worth knowing about at once.
            if topic == "order.created" and note_created_order(self.db, data):
                return "flagged"
            return "ignored"
        ids = order_item_ids(data)
        if not ids:
            return "ignored"
        await refresh_stock(self.client, self.db, ids, cause=f"webhook {topic}")
        return "refreshed"


def _outcome(result: ApplyResult) -> str:
    if result.skipped:
        return "malformed"
    return "applied" if result.applied else "stale"
