"""The cost model: few workers, each request costs server time, counters for benchmarks."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import anyio
import httpx2
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from onetill.sandbox._asgi import BufferedResponse
from onetill.sandbox.cost import CostMiddleware, CostModel, count_items
from sandbox_support import OAuthSigner


async def _items(request: Request) -> JSONResponse:
    n = int(request.query_params.get("n", "1"))
    return JSONResponse([{"id": i} for i in range(n)])


async def _batch(request: Request) -> JSONResponse:
    body = await request.json()
    return JSONResponse({k: [{"id": 1}] * len(v) for k, v in body.items()})


_DOWNSTREAM = Starlette(
    routes=[
        Route("/wp-json/wc/v3/products", _items),
        Route("/wp-json/wc/v3/products/batch", _batch, methods=["POST"]),
    ]
)


def _client(model: CostModel) -> httpx2.AsyncClient:
    transport = httpx2.ASGITransport(app=CostMiddleware(_DOWNSTREAM, model))
    return httpx2.AsyncClient(transport=transport, base_url="http://sandbox.test/wp-json/wc/v3/")


def _response(body: bytes, status: int = 200) -> BufferedResponse:
    return BufferedResponse(status=status, body=body)


@pytest.mark.parametrize(
    ("method", "path", "status", "body", "items"),
    [
        ("GET", "/wp-json/wc/v3/products", 200, b'[{"id": 1}, {"id": 2}, {"id": 3}]', 3),
        ("GET", "/wp-json/wc/v3/products", 200, b"[]", 0),
        ("GET", "/wp-json/wc/v3/products/10", 200, b'{"id": 10, "variations": [1, 2]}', 1),
        ("POST", "/wp-json/wc/v3/orders", 201, b'{"id": 500}', 1),
        (
            "POST",
            "/wp-json/wc/v3/products/batch",
            200,
            b'{"create": [{"id": 1}], "update": [{"id": 2}, {"id": 3}], "delete": []}',
            3,
        ),
        ("GET", "/wp-json/wc/v3/products/99", 404, b'{"code": "x", "message": "", "data": {}}', 0),
        ("GET", "/wp-json/wc/v3/products", 200, b"<html>oops</html>", 0),
    ],
)
def test_items_are_what_a_response_returned_or_a_batch_wrote(
    method: str, path: str, status: int, body: bytes, items: int
) -> None:
    scope: dict[str, Any] = {"method": method, "path": path}
    assert count_items(scope, _response(body, status)) == items


@pytest.mark.anyio
async def test_requests_beyond_the_worker_count_queue() -> None:
    """2 workers, 100 ms each: 6 requests at once need at least 3 rounds."""
    model = CostModel(workers=2, latency_ms=100)
    async with _client(model) as client:
        started = time.monotonic()
        async with anyio.create_task_group() as tg:
            for _ in range(6):
                tg.start_soon(client.get, "products")
        elapsed = time.monotonic() - started
    counters = model.snapshot()
    assert counters["max_in_flight"] == 2
    assert counters["requests"] == 6
    assert elapsed >= 0.29
    assert counters["queued_s"] >= 0.5  # 2 waited 100 ms, 2 waited 200 ms
    assert counters["busy_s"] >= 0.59
    assert counters["lower_bound_s"] == pytest.approx(counters["busy_s"] / 2)


@pytest.mark.anyio
async def test_each_item_adds_its_cost_to_the_request() -> None:
    model = CostModel(latency_ms=20, per_item_ms=2)
    async with _client(model) as client:
        started = time.monotonic()
        response = await client.get("products", params={"n": 40})
        elapsed = time.monotonic() - started
    assert len(response.json()) == 40
    assert elapsed >= 0.1  # 20 ms + 40 x 2 ms
    counters = model.snapshot()
    assert counters["items"] == 40
    assert counters["modelled_s"] == pytest.approx(0.1)


@pytest.mark.anyio
async def test_batch_writes_count_every_created_updated_and_deleted_item() -> None:
    model = CostModel()
    async with _client(model) as client:
        response = await client.post(
            "products/batch", json={"create": [{}, {}], "update": [{}], "delete": [7, 8, 9]}
        )
    assert response.status_code == 200
    assert model.snapshot()["items"] == 6


@pytest.mark.anyio
async def test_unbounded_workers_serve_everything_at_once() -> None:
    model = CostModel(workers=None, latency_ms=100)
    async with _client(model) as client, anyio.create_task_group() as tg:
        for _ in range(5):
            tg.start_soon(client.get, "products")
    assert model.snapshot()["max_in_flight"] == 5
    assert model.snapshot()["lower_bound_s"] is None


@pytest.mark.anyio
async def test_reset_zeroes_the_counters_between_benchmark_runs() -> None:
    model = CostModel()
    async with _client(model) as client:
        await client.get("products", params={"n": 3})
    assert model.snapshot()["items"] == 3
    model.reset()
    assert model.snapshot()["requests"] == model.snapshot()["items"] == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"workers": 0}, "workers must be at least 1"), ({"latency_ms": -1}, "cannot be negative")],
)
def test_impossible_cost_settings_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CostModel(**kwargs)


def test_the_real_server_bounds_workers_and_reports_items(
    start_sandbox: Callable[..., Any],
) -> None:
    """Through uvicorn: 2 workers at 150 ms, 4 pages of 5 products at once take 2 rounds."""
    srv = start_sandbox(workers=2, latency_ms=150)
    url = f"{srv.url}/wp-json/wc/v3/products"

    async def fetch_all() -> list[int]:
        auth = OAuthSigner(srv.key, srv.secret)
        async with httpx2.AsyncClient(auth=auth, timeout=10) as client:
            statuses: list[int] = []

            async def one(page: int) -> None:
                response = await client.get(url, params={"per_page": 5, "page": page})
                statuses.append(response.status_code)

            async with anyio.create_task_group() as tg:
                for page in range(1, 5):
                    tg.start_soon(one, page)
        return statuses

    started = time.monotonic()
    assert anyio.run(fetch_all) == [200] * 4
    assert time.monotonic() - started >= 0.3
    counters = srv.control.cost()
    assert (counters["requests"], counters["items"], counters["max_in_flight"]) == (4, 20, 2)
    assert counters["workers"] == 2
    assert counters["lower_bound_s"] >= 0.3
