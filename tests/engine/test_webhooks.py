"""The webhook receiver: signatures, pings, replays, size limit, and what deliveries change."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.engine_support import delivery, product_row, seed_product, signed
from onetill.engine.apply import CatalogWebhookHandler, order_item_ids
from onetill.engine.webhooks import MAX_BODY_BYTES, WebhookReceiver, sign, verify_signature
from onetill.store import Database
from onetill.woo import WooClient

SECRET = "test-secret-proxied-8080"


@pytest.fixture
async def receiver(db: Database) -> WebhookReceiver:
    # product.created/updated never call the store; the client is never used here.
    client = WooClient("http://127.0.0.1:9", "ck_x", "cs_unused_in_these_tests")
    return WebhookReceiver(db, lambda: SECRET, CatalogWebhookHandler(client, db))


def updated_body(**changes: object) -> dict[str, object]:
    _, body, _ = delivery("webhook-product-updated.json")
    data: dict[str, object] = json.loads(body)
    data.update(changes)
    return data


def deliveries_count(db: Database) -> int:
    return int(db.conn.execute("SELECT COUNT(*) FROM webhook_deliveries").fetchone()[0])


def test_recorded_deliveries_verify_with_their_secret() -> None:
    """The signature rule matches what a real WooCommerce 11 sent, byte for byte."""
    for name in ("webhook-product-updated.json", "webhook-order-created.json",
                 "webhook-product-deleted.json"):
        headers, body, secret = delivery(name)
        assert verify_signature(body, headers["x-wc-webhook-signature"], secret), name
        assert not verify_signature(body + b" ", headers["x-wc-webhook-signature"], secret)
        assert not verify_signature(body, headers["x-wc-webhook-signature"], "other-secret")


def test_missing_signature_or_secret_never_verifies() -> None:
    assert not verify_signature(b"{}", None, SECRET)
    assert not verify_signature(b"{}", sign(b"{}", SECRET), None)
    assert not verify_signature(b"{}", "not base64 \u00e9", SECRET)


@pytest.mark.anyio
async def test_real_product_update_is_applied(receiver: WebhookReceiver, db: Database) -> None:
    """A genuine product.updated delivery lands in the catalog."""
    headers, body, _ = delivery("webhook-product-updated.json")
    result = await receiver.receive(headers, body)
    assert (result.status, result.outcome) == (200, "applied")
    row = product_row(db, 50)
    assert row is not None and row["stock_quantity"] == 197 and row["price"] == "5.55"
    assert deliveries_count(db) == 1


@pytest.mark.anyio
async def test_replayed_delivery_changes_nothing(
    receiver: WebhookReceiver, db: Database
) -> None:
    """A delivery seen before (same id, same body) is acknowledged and ignored, even after
    the product moved on locally."""
    headers, raw = signed(updated_body(date_modified_gmt="2026-11-26T16:00:00", price="1.00",
                                       regular_price="1.00"), SECRET, "product.updated", "d-1")
    assert (await receiver.receive(headers, raw)).outcome == "applied"
    with db.write() as conn:
        conn.execute("UPDATE products SET price = '2.00', date_modified_gmt = '' WHERE id = 50")
    result = await receiver.receive(headers, raw)
    assert (result.status, result.outcome) == (200, "duplicate")
    row = product_row(db, 50)
    assert row is not None and row["price"] == "2.00"


@pytest.mark.anyio
async def test_two_deliveries_sharing_an_id_in_one_second_are_both_applied(
    receiver: WebhookReceiver, db: Database
) -> None:
    """WooCommerce's delivery id is a hash of the webhook id and the current second: an
    order's product.updated deliveries for two products share it. Both must be applied."""
    first = updated_body(date_modified_gmt="2026-11-26T16:00:00", price="1.00",
                         regular_price="1.00")
    second = updated_body(id=51, sku="OTHER-51", date_modified_gmt="2026-11-26T16:00:00",
                          price="2.00", regular_price="2.00")
    for body in (first, second):
        headers, raw = signed(body, SECRET, "product.updated", "same-second")
        assert (await receiver.receive(headers, raw)).outcome == "applied"
    one, two = product_row(db, 50), product_row(db, 51)
    assert one is not None and one["price"] == "1.00"
    assert two is not None and two["price"] == "2.00"


@pytest.mark.anyio
async def test_replay_survives_a_restart(db: Database, tmp_path: Path) -> None:
    """Delivery ids are on disk: a new receiver on the same database still refuses a replay."""
    client = WooClient("http://127.0.0.1:9", "ck_x", "cs_unused_in_these_tests")
    headers, body, _ = delivery("webhook-product-updated.json")
    first = WebhookReceiver(db, lambda: SECRET, CatalogWebhookHandler(client, db))
    assert (await first.receive(headers, body)).outcome == "applied"
    db2 = Database(db.path)
    try:
        second = WebhookReceiver(db2, lambda: SECRET, CatalogWebhookHandler(client, db2))
        assert (await second.receive(headers, body)).outcome == "duplicate"
    finally:
        db2.close()


@pytest.mark.anyio
async def test_old_body_under_new_delivery_id_does_not_roll_back(
    receiver: WebhookReceiver, db: Database
) -> None:
    """The signature does not cover the delivery id: an old genuine body resent is stale."""
    seed_product(db, updated_body(date_modified_gmt="2026-11-26T18:00:00", price="7.00",
                                  regular_price="7.00", stock_quantity=3))
    headers, body, _ = delivery("webhook-product-updated.json")  # modified 15:32:14
    result = await receiver.receive(headers, body)
    assert (result.status, result.outcome) == (200, "stale")
    row = product_row(db, 50)
    assert row is not None and row["price"] == "7.00" and row["stock_quantity"] == 3


@pytest.mark.anyio
async def test_forged_signature_gets_401_and_changes_nothing(
    receiver: WebhookReceiver, db: Database
) -> None:
    headers, body, _ = delivery("webhook-product-updated.json")
    forged = dict(headers, **{"x-wc-webhook-signature": sign(body, "guessed-secret")})
    result = await receiver.receive(forged, body)
    assert result.status == 401
    unsigned = {k: v for k, v in headers.items() if k != "x-wc-webhook-signature"}
    assert (await receiver.receive(unsigned, body)).status == 401
    tampered = body.replace(b'"stock_quantity":197', b'"stock_quantity":999')
    assert (await receiver.receive(headers, tampered)).status == 401
    assert product_row(db, 50) is None
    assert deliveries_count(db) == 0


@pytest.mark.anyio
async def test_signature_is_checked_before_the_body_is_parsed(receiver: WebhookReceiver) -> None:
    """Garbage with a bad signature is a 401 (never a 400 from a parser)."""
    result = await receiver.receive(
        {"x-wc-webhook-signature": "AAAA", "x-wc-webhook-topic": "product.updated",
         "content-type": "application/json"}, b"{not json",
    )
    assert result.status == 401


@pytest.mark.anyio
async def test_signed_garbage_is_400(receiver: WebhookReceiver, db: Database) -> None:
    headers, raw = signed(b"{not json", SECRET, "product.updated", "d-garbage")
    assert (await receiver.receive(headers, raw)).status == 400
    assert deliveries_count(db) == 0


@pytest.mark.anyio
async def test_ping_is_answered_without_a_signature(receiver: WebhookReceiver) -> None:
    headers, body, _ = delivery("webhook-ping.json")
    result = await receiver.receive(headers, body)
    assert (result.status, result.outcome) == (200, "ping")


@pytest.mark.anyio
async def test_ping_lookalike_with_a_topic_needs_a_signature(receiver: WebhookReceiver) -> None:
    """Only the unsigned creation ping skips verification, not any form post."""
    result = await receiver.receive(
        {"content-type": "application/x-www-form-urlencoded",
         "x-wc-webhook-topic": "product.updated"}, b"webhook_id=5",
    )
    assert result.status == 401


@pytest.mark.anyio
async def test_oversized_body_is_413(receiver: WebhookReceiver, db: Database) -> None:
    body = b"{" + b" " * MAX_BODY_BYTES + b"}"
    headers, raw = signed(body, SECRET, "product.updated", "d-big")
    assert (await receiver.receive(headers, raw)).status == 413
    assert deliveries_count(db) == 0


@pytest.mark.anyio
async def test_no_secret_configured_refuses_with_what_to_do(db: Database) -> None:
    client = WooClient("http://127.0.0.1:9", "ck_x", "cs_unused_in_these_tests")
    receiver = WebhookReceiver(db, lambda: None, CatalogWebhookHandler(client, db))
    headers, body, _ = delivery("webhook-product-updated.json")
    result = await receiver.receive(headers, body)
    assert result.status == 401 and "webhooks register" in result.detail


@pytest.mark.anyio
async def test_unknown_topic_is_acknowledged_and_ignored(
    receiver: WebhookReceiver, db: Database
) -> None:
    """WooCommerce disables a webhook after repeated failures: genuine but unused topics get 200."""
    headers, raw = signed({"id": 3}, SECRET, "coupon.updated", "d-coupon")
    result = await receiver.receive(headers, raw)
    assert (result.status, result.outcome) == (200, "ignored")


def test_order_item_ids_take_products_and_variations() -> None:
    _, body, _ = delivery("webhook-order-created.json")
    assert order_item_ids(json.loads(body)) == [53]
    order = {"line_items": [{"product_id": 10, "variation_id": 12}, {"product_id": 0},
                            {"product_id": "x"}, "junk"]}
    assert order_item_ids(order) == [10, 12]


@pytest.mark.anyio
async def test_delivery_ids_older_than_the_retention_are_pruned(
    receiver: WebhookReceiver, db: Database
) -> None:
    with db.write() as conn:
        conn.execute(
            "INSERT INTO webhook_deliveries (delivery_id, topic, outcome, received_at)"
            " VALUES ('ancient', 'product.updated', 'applied', '2020-01-01T00:00:00.000Z')"
        )
    headers, body, _ = delivery("webhook-product-updated.json")
    await receiver.receive(headers, body)
    ids = [r[0] for r in db.conn.execute("SELECT delivery_id FROM webhook_deliveries")]
    assert len(ids) == 1 and ids[0].startswith(headers["x-wc-webhook-delivery-id"] + ":")


@given(body=st.binary(max_size=2048), secret=st.text(min_size=1, max_size=64),
       flip=st.integers(min_value=0))
def test_any_changed_byte_breaks_the_signature(body: bytes, secret: str, flip: int) -> None:
    """Signing is over the raw bytes: the same bytes verify, one changed byte never does."""
    signature = sign(body, secret)
    assert verify_signature(body, signature, secret)
    if body:
        i = flip % len(body)
        changed = body[:i] + bytes([body[i] ^ 0x01]) + body[i + 1:]
        assert not verify_signature(changed, signature, secret)
    assert not verify_signature(body + b"\n", signature, secret)
