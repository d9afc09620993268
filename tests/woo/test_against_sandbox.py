"""WooClient against the sandbox store in-process: an independent server checks our wire format.

The sandbox implements WooCommerce's server rules (OAuth verification,
pagination headers, batch, faults) without sharing code with onetill.woo.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest

from onetill.sandbox import SandboxConfig, create_app
from onetill.woo import Outcome, WooClient, classify
from onetill.woo.errors import AmbiguousWriteError, AuthError, NotJSONError, ResponseError
from onetill.woo.models import Product, Variation, decode_list
from support import RECORDED_STORE

pytestmark = pytest.mark.anyio


@pytest.fixture
async def woo(sandbox_app: Any, sandbox_config: Any, sleeps: Any) -> AsyncIterator[WooClient]:
    key, secret = next(iter(sandbox_config.keys.items()))
    transport = httpx2.ASGITransport(app=sandbox_app)
    async with WooClient(
        sandbox_config.home_url, key, secret, transport=transport, sleep=sleeps
    ) as client:
        yield client


async def test_the_whole_catalog_pages_in_order(woo: WooClient) -> None:
    pages = [p async for p in woo.paginate("products", {"orderby": "id", "order": "asc"})]
    products = [item for page in pages for item in decode_list(Product, page.items)]
    assert [p.number for p in pages] == [1, 2, 3, 4]
    assert pages[0].total == 320
    ids = [p.id for p in products]
    assert ids == sorted(ids) and len(set(ids)) == 320


async def test_global_variations_and_trimmed_fields(woo: WooClient) -> None:
    pages = [p async for p in woo.paginate("variations", fields=["id", "parent_id", "sku"])]
    variations = decode_list(Variation, [i for p in pages for i in p.items])
    assert len(variations) == 81
    assert all(set(item) <= {"id", "parent_id", "sku"} for p in pages for item in p.items)


async def test_tricky_query_values_pass_the_stores_signature_check(woo: WooClient) -> None:
    response = await woo.get(
        "products", {"search": "Simple Product 0+1 ~*é&=", "include": [10, 11]}
    )
    assert response.status == 200


async def test_an_empty_batch_is_harmless_and_accepted(woo: WooClient) -> None:
    response = await woo.post("products/batch", json={})
    assert response.status == 200


async def test_a_read_only_key_is_refused_writes() -> None:
    """The refusal of a write is never proof that nothing was written (a replayed copy may
    have got through): it is ambiguous, carrying the store's 401 for the caller to act on."""
    config = SandboxConfig(store_dir=RECORDED_STORE, read_only_keys={"ck_ro": "cs_ro"})
    app = create_app(config)
    transport = httpx2.ASGITransport(app=app)
    try:
        async with WooClient(config.home_url, "ck_ro", "cs_ro", transport=transport) as client:
            await client.get("products", {"per_page": 1})
            with pytest.raises(AmbiguousWriteError) as caught:
                await client.post("products/batch", json={})
        assert caught.value.status == 401 and isinstance(caught.value.refusal, AuthError)
        assert caught.value.keys_refused
    finally:
        await app.state.sandbox.aclose()


async def test_batch_updates_with_a_per_item_error(woo: WooClient) -> None:
    result = await woo.batch(
        "products",
        update=[{"id": 10, "regular_price": "9.99"}, {"id": 999999, "regular_price": "1.00"}],
    )
    assert result.updated[0].ok and result.updated[0].data["regular_price"] == "9.99"
    assert not result.updated[1].ok


async def test_a_503_with_retry_after_from_the_host_is_waited_out(
    woo: WooClient, sandbox_app: Any, sleeps: Any
) -> None:
    sandbox_app.state.faults.add("GET /products*:status=503,retry_after=2@nth=1")
    response = await woo.get("products", {"per_page": 1})
    assert response.status == 200
    assert sleeps.delays == [2.0]


async def test_a_waf_challenge_is_not_json(woo: WooClient, sandbox_app: Any) -> None:
    sandbox_app.state.faults.add("GET /products*:waf=403")
    with pytest.raises(NotJSONError) as caught:
        await woo.get("products")
    assert caught.value.status == 403
    assert classify(caught.value) is Outcome.AUTH


async def test_php_notices_before_an_order_do_not_hide_it(woo: WooClient, sandbox_app: Any) -> None:
    sandbox_app.state.faults.add("POST /orders:malformed")
    response = await woo.post(
        "orders",
        json={
            "status": "completed",
            "set_paid": True,
            "line_items": [{"product_id": 10, "quantity": 1}],
        },
    )
    assert response.data["id"] > 0


async def test_a_truncated_order_answer_is_ambiguous(woo: WooClient, sandbox_app: Any) -> None:
    sandbox_app.state.faults.add("POST /orders:truncated")
    with pytest.raises(AmbiguousWriteError):
        await woo.post("orders", json={"line_items": [{"product_id": 10, "quantity": 1}]})


async def test_a_skewed_store_clock_is_followed(woo: WooClient, sandbox_store: Any) -> None:
    """The store's clock jumps 40 minutes ahead: the client re-signs with the store's time."""
    sandbox_store.set_clock_offset(2400)
    response = await woo.get("products", {"per_page": 1})
    assert response.status == 200
    assert woo.clock_offset_s == pytest.approx(2400, abs=3)


async def test_a_page_past_the_end_is_empty_not_an_error(woo: WooClient) -> None:
    response = await woo.get("products", {"page": 99, "per_page": 100})
    assert response.data == []
    with pytest.raises(ResponseError):
        await woo.get("products", {"per_page": 101})


# --- a real server on 127.0.0.1: connections that really drop -----------------------


async def test_an_order_whose_answer_was_lost_is_ambiguous_and_exists(start_sandbox: Any) -> None:
    """commit_drop: the store created the order, then the connection closed unanswered."""
    srv = start_sandbox(faults="POST /orders:commit_drop@nth=1")
    order = {
        "status": "completed",
        "set_paid": True,
        "line_items": [{"product_id": 10, "quantity": 1}],
        "meta_data": [{"key": "_onetill_order_uuid", "value": "u-commit-drop"}],
    }
    async with WooClient(srv.url, srv.key, srv.secret, timeout=5) as client:
        with pytest.raises(AmbiguousWriteError) as caught:
            await client.post("orders", json=order)
        assert classify(caught.value) is Outcome.AMBIGUOUS
        listed = await client.get("orders", {"per_page": 100, "_fields": "id,meta_data"})
    uuids = [m["value"] for o in listed.data for m in o["meta_data"]]
    assert uuids.count("u-commit-drop") == 1  # created once, and not resent by the client


async def test_an_order_answer_slower_than_the_timeout_is_ambiguous(start_sandbox: Any) -> None:
    srv = start_sandbox(faults="POST /orders:slow=3@nth=1")
    async with WooClient(srv.url, srv.key, srv.secret, timeout=0.5) as client:
        with pytest.raises(AmbiguousWriteError):
            await client.post("orders", json={"line_items": [{"product_id": 10, "quantity": 1}]})


async def test_pages_answered_429_are_retried_and_still_yielded_in_order(
    start_sandbox: Any, sleeps: Any
) -> None:
    srv = start_sandbox(faults="GET /products*:status=429,retry_after=1@p=0.3", seed=7)
    async with WooClient(srv.url, srv.key, srv.secret, max_attempts=10, sleep=sleeps) as client:
        pages = [p async for p in client.paginate("products", {"orderby": "id", "order": "asc"})]
        assert client.concurrency < 4  # the host said "too many": the client backed off
    ids = [item["id"] for p in pages for item in p.items]
    assert len(ids) == 320 and ids == sorted(ids)
    assert sleeps.delays and all(d >= 1.0 for d in sleeps.delays)  # Retry-After is a minimum


async def test_orders_created_by_batch_keep_their_status_and_reduce_stock(
    woo: WooClient, sandbox_store: Any
) -> None:
    """Validation must not rewrite items: dropping `status: completed` made pending orders."""
    before = sandbox_store.stock_of([10])[10]
    order = {
        "status": "completed",
        "set_paid": True,
        "line_items": [{"product_id": 10, "quantity": 2, "subtotal": "2.00", "total": "2.00"}],
    }
    result = await woo.batch("orders", create=[order])
    assert result.ok
    assert result.created[0].data["status"] == "completed"
    assert sandbox_store.stock_of([10])[10] == before - 2


def test_an_order_model_encodes_the_defaults_that_reduce_stock() -> None:
    from onetill.woo.models import LineItemCreate, OrderCreate, encode

    payload = encode(OrderCreate(line_items=[LineItemCreate(product_id=10, quantity=1)]))
    assert payload["status"] == "completed" and payload["set_paid"] is True
    assert "transaction_id" not in payload and "payment_method" not in payload
