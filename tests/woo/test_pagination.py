"""paginate(): first page for the totals, the rest concurrently, always yielded in page order."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import httpx2
import pytest

from onetill.woo.errors import ResponseError

pytestmark = pytest.mark.anyio


def collection(total: int, per_page_default: int = 10, delays: bool = False) -> Any:
    """A handler serving ids 1..total like WooCommerce (past the end: 200 [])."""
    requested: list[int] = []

    async def handler(request: httpx2.Request) -> httpx2.Response:
        page = int(request.url.params.get("page", "1"))
        per_page = int(request.url.params.get("per_page", str(per_page_default)))
        requested.append(page)
        if delays:
            # Later pages answer sooner, so completion order differs from page order.
            await asyncio.sleep(random.uniform(0, 0.01))
        start = (page - 1) * per_page
        items = [{"id": i + 1} for i in range(start, min(start + per_page, total))]
        pages = (total + per_page - 1) // per_page
        headers = {
            "X-WP-Total": str(total),
            "X-WP-TotalPages": str(pages),
            "Date": "Thu, 26 Nov 2026 15:39:29 GMT",
            # The real store echoes used oauth_* here; the client must not follow it.
            "Link": f'<{request.url}>; rel="next"',
        }
        return httpx2.Response(200, json=items, headers=headers)

    handler.requested = requested  # type: ignore[attr-defined]
    return handler


async def test_pages_arrive_in_order_although_fetched_concurrently(make_client: Any) -> None:
    handler = collection(1000, delays=True)
    async with make_client(handler, max_concurrency=4) as client:
        pages = [page async for page in client.paginate("products", per_page=10)]
        peak = client.limiter.peak_in_flight
    assert [p.number for p in pages] == list(range(1, 101))
    ids = [item["id"] for p in pages for item in p.items]
    assert ids == list(range(1, 1001))
    assert handler.requested[0] == 1
    assert sorted(handler.requested) == list(range(1, 101))  # each page once; no Link following
    assert 1 < peak <= 4


async def test_progress_counts_items_done_of_the_total(make_client: Any) -> None:
    progress: list[tuple[int, int]] = []
    async with make_client(collection(250)) as client:
        async for _ in client.paginate(
            "products", per_page=100, on_progress=lambda d, t: progress.append((d, t))
        ):
            pass
    assert progress == [(100, 250), (200, 250), (250, 250)]


async def test_fields_and_params_are_sent_with_every_page(make_client: Any) -> None:
    seen: list[httpx2.QueryParams] = []
    inner = collection(150)

    async def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request.url.params)
        return await inner(request)

    async with make_client(handler) as client:
        async for _ in client.paginate("products", {"status": "any"}, fields=["id", "sku"]):
            pass
        async for _ in client.paginate("products", {"status": "any"}, fields="id,sku"):
            pass
    assert len(seen) == 4
    for params in seen:
        assert params["_fields"] == "id,sku"
        assert params["status"] == "any"
        assert params["per_page"] == "100"


async def test_skipped_pages_are_neither_fetched_nor_yielded(make_client: Any) -> None:
    """Resuming an interrupted pull: pages already stored are skipped, the first one included."""
    handler = collection(500)
    async with make_client(handler) as client:
        pages = [p async for p in client.paginate("products", skip_pages={1, 2, 4})]
    assert [p.number for p in pages] == [3, 5]
    assert sorted(handler.requested) == [3, 5]


async def test_an_empty_collection_yields_one_empty_page_with_server_time(make_client: Any) -> None:
    async with make_client(collection(0)) as client:
        pages = [p async for p in client.paginate("products")]
    assert len(pages) == 1
    assert pages[0].items == [] and pages[0].total == 0 and pages[0].total_pages == 0
    assert pages[0].server_time is not None


async def test_a_failing_page_stops_the_iteration_with_its_error(make_client: Any) -> None:
    inner = collection(1000)

    async def handler(request: httpx2.Request) -> httpx2.Response:
        if request.url.params["page"] == "5":
            return httpx2.Response(
                400, json={"code": "bad", "message": "no", "data": {"status": 400}}
            )
        return await inner(request)

    got: list[int] = []
    async with make_client(handler) as client:
        with pytest.raises(ResponseError):
            async for page in client.paginate("products", per_page=10):
                got.append(page.number)
    assert got == [1, 2, 3, 4]


async def test_breaking_out_early_cancels_the_pages_fetched_ahead(make_client: Any) -> None:
    async with make_client(collection(1000, delays=True), max_concurrency=4) as client:
        pages = client.paginate("products", per_page=10)
        async for page in pages:
            if page.number == 3:
                break
        await pages.aclose()  # type: ignore[attr-defined]
        await asyncio.sleep(0.02)
        assert client.limiter.in_flight == 0


async def test_per_page_outside_woocommerce_limits_is_refused(make_client: Any) -> None:
    async with make_client(collection(1)) as client:
        with pytest.raises(ValueError, match="per_page"):
            async for _ in client.paginate("products", per_page=101):
                pass
