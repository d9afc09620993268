"""batch(): at most 100 items per request counted across create/update/delete, validated first."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest

from onetill.woo import Outcome, classify
from onetill.woo.errors import AmbiguousWriteError, PayloadError

pytestmark = pytest.mark.anyio


def echo_store() -> Any:
    """A batch endpoint answering each item like WooCommerce; ids >= 900000 are unknown."""
    bodies: list[dict[str, Any]] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        bodies.append(body)
        total = sum(len(body.get(op, [])) for op in ("create", "update", "delete"))
        if total > 100:
            return httpx2.Response(
                413,
                json={
                    "code": "woocommerce_rest_request_entity_too_large",
                    "message": "Unable to accept more than 100 items for this request.",
                    "data": {"status": 413},
                },
            )
        answer: dict[str, list[Any]] = {}
        for i, item in enumerate(body.get("create", [])):
            answer.setdefault("create", []).append({"id": 1000 + len(bodies) * 100 + i, **item})
        for item in body.get("update", []):
            if item["id"] >= 900000:
                error = {
                    "code": "woocommerce_rest_product_invalid_id",
                    "message": "Invalid ID.",
                    "data": {"status": 400},
                }
                answer.setdefault("update", []).append({"id": item["id"], "error": error})
            else:
                answer.setdefault("update", []).append(item)
        for item_id in body.get("delete", []):
            answer.setdefault("delete", []).append({"id": item_id})
        return httpx2.Response(200, json=answer)

    handler.bodies = bodies  # type: ignore[attr-defined]
    return handler


async def test_items_are_split_at_100_counted_across_kinds(make_client: Any) -> None:
    handler = echo_store()
    create = [{"name": f"P{i}", "regular_price": "1.00"} for i in range(60)]
    update = [{"id": 10 + i, "stock_quantity": i} for i in range(70)]
    delete = list(range(500, 580))
    async with make_client(handler) as client:
        result = await client.batch("products", create=create, update=update, delete=delete)
    sizes = [
        sum(len(b.get(op, [])) for op in ("create", "update", "delete")) for b in handler.bodies
    ]
    assert sizes == [100, 100, 10]
    assert result.requests == 3
    assert [i.index for i in result.created] == list(range(60))
    assert [i.id for i in result.updated] == [10 + i for i in range(70)]
    assert [i.id for i in result.deleted] == delete
    assert result.ok


async def test_per_item_errors_are_returned_in_place(make_client: Any) -> None:
    handler = echo_store()
    update = [
        {"id": 10, "regular_price": "2.00"},
        {"id": 999999, "regular_price": "2.00"},
        {"id": 11, "regular_price": "3.00"},
    ]
    async with make_client(handler) as client:
        result = await client.batch("products", update=update)
    assert [i.ok for i in result.updated] == [True, False, True]
    failed = result.errors[0]
    assert failed.index == 1 and failed.id == 999999
    assert failed.error is not None and failed.error.code == "woocommerce_rest_product_invalid_id"
    assert classify(failed.error) is Outcome.PERMANENT


async def test_recorded_partial_failure_is_read_item_by_item(
    make_client: Any, recorded: Any
) -> None:
    async with make_client(lambda r: recorded("batch-per-item-errors.json")) as client:
        result = await client.batch(
            "products",
            create=[
                {"name": "Dup", "type": "simple", "sku": "SIMPLE-001", "regular_price": "1.00"}
            ],
            update=[{"id": 999999, "regular_price": "2.00"}],
            delete=[999998],
        )
    assert [item.op for item in result.errors] == ["create", "update", "delete"]
    assert result.created[0].error is not None
    assert result.created[0].error.code == "product_invalid_sku"
    assert result.deleted[0].error is not None and result.deleted[0].error.status == 404


async def test_an_invalid_item_stops_the_batch_before_anything_is_sent(make_client: Any) -> None:
    """WooCommerce would store stock_quantity 'abc' as 0 inside a batch: we refuse it first."""
    handler = echo_store()
    update = [{"id": 10, "stock_quantity": 5}] * 150 + [{"id": 11, "stock_quantity": "abc"}]
    async with make_client(handler) as client:
        with pytest.raises(PayloadError) as caught:
            await client.batch("products", update=update)
    assert handler.bodies == []
    assert "update[150]" in str(caught.value) and caught.value.field == "stock_quantity"


async def test_orders_are_validated_as_order_creates(make_client: Any) -> None:
    handler = echo_store()
    async with make_client(handler) as client:
        with pytest.raises(PayloadError, match="quantity"):
            await client.batch(
                "orders", create=[{"line_items": [{"product_id": 1, "quantity": "2"}]}]
            )
        with pytest.raises(PayloadError, match="integer 'id'"):
            await client.batch("orders", update=[{"status": "cancelled"}])
        with pytest.raises(PayloadError, match="delete"):
            await client.batch("orders", delete=["12"])  # type: ignore[list-item]
    assert handler.bodies == []


async def test_an_ambiguous_chunk_says_earlier_chunks_were_applied(make_client: Any) -> None:
    calls = 0

    def handler(request: httpx2.Request) -> httpx2.Response:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise httpx2.ReadTimeout("slow", request=request)
        return echo_store()(request)

    async with make_client(handler) as client:
        with pytest.raises(AmbiguousWriteError) as caught:
            await client.batch("products", delete=list(range(1, 151)))
    assert calls == 2
    assert any("100 earlier items" in note for note in caught.value.__notes__)


async def test_chunk_size_above_woocommerces_limit_is_refused(make_client: Any) -> None:
    async with make_client(echo_store()) as client:
        with pytest.raises(ValueError, match="chunk"):
            await client.batch("products", delete=[1], chunk=101)


async def test_a_per_item_error_with_list_data_is_still_reported(make_client: Any) -> None:
    """PHP sends empty or list error data as a JSON array: the item still gets its error."""

    def handler(request: httpx2.Request) -> httpx2.Response:
        error = {"code": "woocommerce_rest_invalid_id", "message": "Invalid ID.", "data": ["x"]}
        return httpx2.Response(200, json={"update": [{"id": 5, "error": error}]})

    async with make_client(handler) as client:
        result = await client.batch("products", update=[{"id": 5, "regular_price": "1.00"}])
    assert not result.ok
    failed = result.errors[0]
    assert failed.id == 5 and failed.error is not None
    assert failed.error.code == "woocommerce_rest_invalid_id" and failed.error.status == 400


@pytest.mark.parametrize(
    "answer", [{"create": [{"id": 1}]}, [], {"create": "ok"}], ids=["one missing", "list", "text"]
)
async def test_a_batch_answer_that_leaves_items_out_is_ambiguous(
    make_client: Any, answer: Any
) -> None:
    """The POST went through; items it does not account for may exist: look them up."""
    async with make_client(lambda request: httpx2.Response(200, json=answer)) as client:
        with pytest.raises(AmbiguousWriteError) as caught:
            await client.batch("products", create=[{"name": "A"}, {"name": "B"}])
    assert classify(caught.value) is Outcome.AMBIGUOUS
    assert caught.value.status == 200
