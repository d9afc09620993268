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
    handler = collection(995, delays=True)
    async with make_client(handler, max_concurrency=4) as client:
        pages = [page async for page in client.paginate("products", per_page=10)]
        peak = client.limiter.peak_in_flight
    assert [p.number for p in pages] == list(range(1, 101))
    ids = [item["id"] for p in pages for item in p.items]
    assert ids == list(range(1, 996))
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
    handler = collection(450)
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


# --- counts that are missing, wrong, or change during the pull -----------------------


def live_collection(items: list[int], *, headers: str = "both", after_first: Any = None) -> Any:
    """Serves ``items`` (ids, ascending) like WooCommerce; ``after_first(items)`` edits them
    once page 1 has been answered (products created or deleted while the pull runs).

    ``headers``: "both", "none" (a proxy strips X-WP-*), "garbage", or "stale" (page 1
    claims one page fewer than there are).
    """
    requested: list[int] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        page = int(request.url.params["page"])
        per_page = int(request.url.params["per_page"])
        requested.append(page)
        body = [{"id": i} for i in items[(page - 1) * per_page : page * per_page]]
        total = len(items)
        pages = -(-total // per_page)
        if page == 1 and after_first is not None:
            after_first(items)
        head: dict[str, str] = {}
        if headers == "both":
            head = {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)}
        elif headers == "garbage":
            head = {"X-WP-Total": str(total), "X-WP-TotalPages": "NaN"}
        elif headers == "stale":
            claimed = pages - 1 if page == 1 else pages
            head = {"X-WP-Total": str(total), "X-WP-TotalPages": str(claimed)}
        return httpx2.Response(200, json=body, headers=head)

    handler.requested = requested  # type: ignore[attr-defined]
    return handler


async def _ids(client: Any, per_page: int = 100) -> list[int]:
    return [i["id"] async for p in client.paginate("products", per_page=per_page) for i in p.items]


async def test_without_count_headers_every_page_is_still_read(make_client: Any) -> None:
    """A proxy that strips X-WP-TotalPages must not end the pull (or an order lookup) at page 1."""
    handler = live_collection(list(range(1, 251)), headers="none")
    async with make_client(handler) as client:
        assert await _ids(client) == list(range(1, 251))
    assert sorted(handler.requested) == [1, 2, 3]


async def test_a_garbage_page_count_falls_back_to_the_item_count(make_client: Any) -> None:
    async with make_client(live_collection(list(range(1, 251)), headers="garbage")) as client:
        assert await _ids(client) == list(range(1, 251))


async def test_a_stale_page_count_is_corrected_by_later_pages(make_client: Any) -> None:
    async with make_client(live_collection(list(range(1, 351)), headers="stale")) as client:
        assert await _ids(client) == list(range(1, 351))


async def test_items_created_during_the_pull_are_read_to_the_new_end(make_client: Any) -> None:
    """Ordered by id, new products land on pages past the first answer's count."""

    def add(items: list[int]) -> None:
        items.extend(range(251, 431))

    async with make_client(live_collection(list(range(1, 251)), after_first=add)) as client:
        assert await _ids(client) == list(range(1, 431))


async def test_items_deleted_during_the_pull_end_it_without_empty_pages(make_client: Any) -> None:
    def remove(items: list[int]) -> None:
        del items[150:]

    async with make_client(live_collection(list(range(1, 401)), after_first=remove)) as client:
        pages = [p async for p in client.paginate("products")]
    assert [p.number for p in pages] == [1, 2]
    assert all(p.items for p in pages)


async def test_a_full_last_page_is_followed_by_one_look_past_it(make_client: Any) -> None:
    handler = live_collection(list(range(1, 201)))
    async with make_client(handler) as client:
        pages = [p async for p in client.paginate("products")]
    assert [p.number for p in pages] == [1, 2]
    assert sorted(handler.requested) == [1, 2, 3]  # page 3 answered [] and was not yielded


async def test_the_whole_sandbox_catalog_arrives_through_a_header_stripping_proxy(
    sandbox_app: Any, sandbox_config: Any
) -> None:
    class StripCounts(httpx2.AsyncBaseTransport):
        def __init__(self) -> None:
            self.inner = httpx2.ASGITransport(app=sandbox_app)

        async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
            response = await self.inner.handle_async_request(request)
            for name in ("x-wp-total", "x-wp-totalpages", "link"):
                response.headers.pop(name, None)
            return response

    from onetill.woo import WooClient

    key, secret = next(iter(sandbox_config.keys.items()))
    async with WooClient(sandbox_config.home_url, key, secret, transport=StripCounts()) as client:
        ids = [
            i["id"]
            async for p in client.paginate("products", {"orderby": "id", "order": "asc"})
            for i in p.items
        ]
    assert len(ids) == 320 and ids == sorted(ids)


# --- cancellation -------------------------------------------------------------------


async def test_a_cancelled_pull_leaves_no_task_and_no_request_behind(make_client: Any) -> None:
    inner = collection(995, delays=True)
    requested: list[int] = []

    async def handler(request: httpx2.Request) -> httpx2.Response:
        requested.append(int(request.url.params["page"]))
        return await inner(request)

    before = asyncio.all_tasks()
    second = asyncio.Event()
    async with make_client(handler, max_concurrency=4) as client:
        # Held here (as a caller's frame or a stored traceback would): the
        # generator is not collected, so only the client can stop its fetches.
        pages = client.paginate("products", per_page=10)

        async def pull() -> None:
            async for page in pages:
                if page.number == 2:
                    second.set()
                    await asyncio.sleep(10)

        task = asyncio.create_task(pull())
        await second.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        for _ in range(5):  # cancelled fetches need a loop turn to unwind
            await asyncio.sleep(0)
        assert asyncio.all_tasks() <= before
        assert client.limiter.in_flight == 0
        sent = len(requested)
        await asyncio.sleep(0.05)
        assert len(requested) == sent  # nothing kept fetching in the background
        await pages.aclose()  # type: ignore[attr-defined]


async def test_leaving_the_loop_without_aclose_still_stops_the_fetches(make_client: Any) -> None:
    import gc

    before = asyncio.all_tasks()
    async with make_client(collection(995, delays=True), max_concurrency=4) as client:

        async def first_three() -> None:
            async for page in client.paginate("products", per_page=10):
                if page.number == 3:
                    break

        await first_three()
        gc.collect()
        for _ in range(20):
            await asyncio.sleep(0.01)
            if asyncio.all_tasks() <= before:
                break
        assert asyncio.all_tasks() <= before
        assert client.limiter.in_flight == 0
