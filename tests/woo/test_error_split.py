"""The store's unreadable answer and our own invalid payload are different errors: one
means "the request reached the store, look it up", the other "nothing was sent"."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from onetill.sandbox.config import DEFAULT_KEY, DEFAULT_SECRET
from onetill.woo import WooClient
from onetill.woo.errors import PayloadError, UnreadableAnswerError
from onetill.woo.models import OrderCreate, Product, decode

pytestmark = pytest.mark.anyio


async def test_an_answer_that_does_not_fit_is_unreadable_not_an_invalid_payload(
    sandbox_app: Any, sandbox_store: Any
) -> None:
    sandbox_store.set_raw_fields(10, {"stock_quantity": "lots"})
    async with WooClient("http://sandbox.test", DEFAULT_KEY, DEFAULT_SECRET,
                         transport=httpx2.ASGITransport(app=sandbox_app)) as client:
        data = (await client.get("products/10")).data
    with pytest.raises(UnreadableAnswerError) as caught:
        decode(Product, data, what="GET products/10")
    assert not isinstance(caught.value, PayloadError)
    assert (caught.value.field, caught.value.object_id) == ("stock_quantity", 10)


async def test_our_invalid_payload_is_refused_before_anything_is_sent(
    sandbox_app: Any, sandbox_store: Any
) -> None:
    async with WooClient("http://sandbox.test", DEFAULT_KEY, DEFAULT_SECRET,
                         transport=httpx2.ASGITransport(app=sandbox_app)) as client:
        with pytest.raises(PayloadError) as caught:
            await client.batch("products", update=[{"id": 10, "stock_quantity": "lots"}])
    assert not isinstance(caught.value, UnreadableAnswerError)
    assert sandbox_store.stock_of([10]) == {10: 7}  # nothing reached the store
    with pytest.raises(PayloadError) as order:
        decode(OrderCreate, {"line_items": [{"product_id": 10, "quantity": "two"}]})
    assert order.value.field == "line_items[0].quantity"
