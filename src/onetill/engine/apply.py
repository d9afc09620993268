"""What a verified webhook delivery does to the till's database.

- ``product.created/updated/restored``: the payload is the whole v3 object
  as it was at delivery time. It is applied only when it is newer than the
  local row (``date_modified_gmt``, one-second resolution): the signature
  covers the body but not the delivery id, so an old genuine body sent
  again under a new delivery id must not roll the till back.
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
from typing import Any

from onetill.store import Database
from onetill.store.catalog import apply_items
from onetill.store.discrepancies import log_discrepancy
from onetill.sync.duplicates import note_created_order
from onetill.sync.outbox_payload import META_TILL
from onetill.sync.stock import order_item_ids, refresh_stock
from onetill.woo import WooClient
from onetill.woo.errors import WooAPIError

__all__ = ["CatalogWebhookHandler", "order_item_ids"]

log = logging.getLogger("onetill.engine.webhooks")


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
        with self.db.write() as conn:
            row = conn.execute(
                "SELECT date_modified_gmt FROM products WHERE id = ?", (item_id,)
            ).fetchone()
            # Naive UTC ISO strings of one format compare correctly as text.
            if row is not None and (not isinstance(modified, str) or modified <= row[0]):
                return "stale"
            result = apply_items(
                conn, [data], kind="product", cause=cause, barcode_meta_key=self.barcode_meta_key
            )
        if result.skipped:
            return "malformed"
        return "applied" if result.applied else "stale"

    async def product_deleted(self, product_id: int) -> str:
        try:
            response = await self.client.get(f"products/{product_id}")
        except WooAPIError as exc:
            if exc.status != 404:
                raise
            return self._hide(product_id, "gone", "webhook product.deleted (not in the store)")
        data = response.data
        if not isinstance(data, dict):
            return "ignored"
        with self.db.write() as conn:
            result = apply_items(conn, [data], kind="product", cause="webhook product.deleted")
            if data.get("status") == "trash":
                # Trashing a variable product trashes its variations too.
                self._hide_children(conn, product_id)
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
