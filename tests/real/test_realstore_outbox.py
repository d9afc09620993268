"""The outbox's structural rules against a real WooCommerce 11: a refused write is
ambiguous whatever its wording, and a sale the store holds twice is found by the
created_via scan and flagged."""

from __future__ import annotations

from pathlib import Path

import pytest

from onetill.store.orders import get_order
from onetill.sync.duplicates import scan_for_copies
from onetill.sync.outbox import drain
from onetill.sync.outbox_payload import order_payload
from onetill.woo import WooClient
from onetill.woo.errors import AmbiguousWriteError, AuthError
from realstore_support import RealStore
from till_support import order_uuid, seeded_db, sell

pytestmark = [pytest.mark.real, pytest.mark.anyio]


async def test_a_read_only_key_refused_a_write_is_ambiguous_not_a_text_match(
    realstore: RealStore,
) -> None:
    """WooCommerce answers 401 woocommerce_rest_authentication_error: the same code as for a
    wrong key or a replayed nonce, so the client calls the write ambiguous, by status."""
    async with WooClient(realstore.url, realstore.ro_key, realstore.ro_secret) as client:
        await client.get("products", {"per_page": 1, "_fields": "id"})
        with pytest.raises(AmbiguousWriteError) as caught:
            await client.post("orders", json={"status": "pending"})
    assert caught.value.status == 401 and isinstance(caught.value.refusal, AuthError)
    assert caught.value.refusal.code == "woocommerce_rest_authentication_error"
    assert caught.value.keys_refused  # signed with the store's clock: not a clock problem


async def test_a_sale_committed_twice_is_found_by_the_created_via_scan(
    realstore: RealStore, tmp_path: Path
) -> None:
    """Uploaded over OAuth (signed with the store's clock), then committed a second time
    (a held request landing late): the scan of created_via=onetill orders flags the sale
    with both numbers; WooCommerce keeps both orders (nothing cancelled)."""
    db = seeded_db(tmp_path / "till.db")
    try:
        async with WooClient(realstore.url, realstore.key, realstore.secret) as client:
            sale = sell(db, "SIMPLE-001")
            report = await drain(client, db, settle_s=0)
            assert report.synced == [sale.uuid], report
            late = (await client.post("orders", json=order_payload(get_order(db.conn, sale.uuid))))
            assert await scan_for_copies(client, db) == [sale.uuid]
            listed = await client.get("orders", {"created_via": "onetill", "per_page": 100})
        row = get_order(db.conn, sale.uuid)
        assert row.state == "synced_with_discrepancy"
        assert row.copies == sorted([row.remote_id, late.data["id"]])
        mine = [o for o in listed.data if order_uuid(o) == sale.uuid]
        assert {o["status"] for o in mine} == {"completed"} and len(mine) == 2
    finally:
        db.close()
