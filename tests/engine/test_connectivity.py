"""Connectivity: online/offline/degraded from real request outcomes, and the probe cadence."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx2
import pytest

from engine.engine_support import eventually
from onetill.engine.connectivity import ConnectivityMonitor, State, judge
from onetill.woo import WooClient
from onetill.woo.errors import AmbiguousWriteError, PayloadError, TransportError

JSON = {"content-type": "application/json"}


class Store:
    """The store's side of the wire, switchable between behaviours (a MockTransport handler)."""

    def __init__(self) -> None:
        self.mode = "up"
        self.requests: list[float] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(time.monotonic())
        if self.mode == "down":
            raise httpx2.ConnectError("connection refused", request=request)
        if self.mode == "html":
            return httpx2.Response(200, text="<html>Please log in</html>",
                                   headers={"content-type": "text/html"})
        if self.mode == "keys":
            return httpx2.Response(401, json={"code": "woocommerce_rest_cannot_view",
                                              "message": "Sorry", "data": {"status": 401}})
        if self.mode == "5xx":
            return httpx2.Response(503, json={"code": "x", "message": "busy",
                                              "data": {"status": 503}})
        return httpx2.Response(200, json=[{"id": 1}], headers=JSON)


def probe_with(store: Store) -> Callable[[], object]:
    client = WooClient("https://shop.test", "ck_x", "cs_y", transport=httpx2.MockTransport(store),
                       max_attempts=1)

    async def probe() -> object:
        return await client.get("products", {"per_page": 1, "_fields": "id"})

    return probe


def state_of(result: object) -> State | None:
    verdict = judge(result)
    return None if verdict is None else verdict.state


def test_judgements_of_request_outcomes() -> None:
    request = httpx2.Request("GET", "https://shop.test/wp-json/wc/v3/products")
    assert state_of(httpx2.Response(200, json=[], request=request)) is State.ONLINE
    assert state_of(httpx2.ConnectError("refused", request=request)) is State.OFFLINE
    assert state_of(TransportError("cannot reach shop.test")) is State.OFFLINE
    assert state_of(AmbiguousWriteError("reset", method="POST", url="u")) is State.OFFLINE
    html = httpx2.Response(200, text="<html>", headers={"content-type": "text/html"})
    assert state_of(html) is State.DEGRADED
    keys = httpx2.Response(401, json={"code": "woocommerce_rest_cannot_view"}, headers=JSON)
    verdict = judge(keys)
    assert verdict is not None and verdict.state is State.DEGRADED and "keys" in verdict.reason
    storm = judge(httpx2.Response(503, json={"code": "x"}, headers=JSON))
    assert storm is not None and storm.server_error
    # A validation error is the store answering properly: online.
    invalid = httpx2.Response(400, json={"code": "rest_invalid_param"}, headers=JSON)
    assert state_of(invalid) is State.ONLINE
    malformed = PayloadError("bad field", what="product", object_id=1, field="price")
    assert state_of(malformed) is State.ONLINE
    # Not a request at all: says nothing.
    assert judge(ValueError("a bug")) is None


@pytest.mark.anyio
async def test_state_follows_real_requests_and_tells_listeners() -> None:
    store = Store()
    monitor = ConnectivityMonitor(probe_with(store))
    changes: list[tuple[State, State]] = []
    monitor.add_listener(lambda old, new: changes.append((old, new)))
    store.mode = "down"
    assert await monitor.probe_once() is State.OFFLINE
    assert monitor.reason  # says why
    store.mode = "up"
    assert await monitor.probe_once() is State.ONLINE
    store.mode = "keys"
    assert await monitor.probe_once() is State.DEGRADED and "keys" in monitor.reason
    store.mode = "html"
    assert await monitor.probe_once() is State.DEGRADED and "HTML" in monitor.reason
    assert changes == [(State.ONLINE, State.OFFLINE), (State.OFFLINE, State.ONLINE),
                       (State.ONLINE, State.DEGRADED)]


@pytest.mark.anyio
async def test_one_server_error_is_not_a_storm_but_three_in_a_row_are() -> None:
    store = Store()
    monitor = ConnectivityMonitor(probe_with(store), storm_threshold=3)
    store.mode = "5xx"
    assert await monitor.probe_once() is State.ONLINE
    assert await monitor.probe_once() is State.ONLINE
    store.mode = "up"
    assert await monitor.probe_once() is State.ONLINE  # a success resets the count
    store.mode = "5xx"
    for _ in range(2):
        await monitor.probe_once()
    assert await monitor.probe_once() is State.DEGRADED


@pytest.mark.anyio
async def test_offline_probe_backs_off_and_finds_the_store_again() -> None:
    """Probes while offline double their interval up to the cap; success means online."""
    store = Store()
    store.mode = "down"
    monitor = ConnectivityMonitor(probe_with(store), probe_min_s=0.05, probe_max_s=0.2,
                                  idle_probe_s=100)
    await monitor.probe_once()
    assert monitor.state is State.OFFLINE
    store.requests.clear()
    task = asyncio.create_task(monitor.run())
    try:
        await asyncio.sleep(1.0)
        gaps = [b - a for a, b in zip(store.requests, store.requests[1:], strict=False)]
        assert len(store.requests) >= 4
        assert gaps[0] < gaps[1] < gaps[2] + 0.02  # growing
        assert max(gaps) < 0.35  # capped near probe_max_s
        store.mode = "up"
        await eventually(lambda: monitor.state is State.ONLINE)
        assert monitor.state is State.ONLINE
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


@pytest.mark.anyio
async def test_idle_online_till_probes_and_notices_it_went_offline() -> None:
    store = Store()
    monitor = ConnectivityMonitor(probe_with(store), probe_min_s=0.05, probe_max_s=0.2,
                                  idle_probe_s=0.1)
    task = asyncio.create_task(monitor.run())
    try:
        await asyncio.sleep(0.35)
        assert monitor.state is State.ONLINE and len(store.requests) >= 2
        store.mode = "down"
        await eventually(lambda: monitor.state is State.OFFLINE)
        assert monitor.state is State.OFFLINE
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


@pytest.mark.anyio
async def test_real_traffic_replaces_the_idle_probe() -> None:
    """While jobs keep talking to the store, the idle probe stays quiet."""
    store = Store()
    monitor = ConnectivityMonitor(probe_with(store), idle_probe_s=0.2)
    task = asyncio.create_task(monitor.run())
    ok = httpx2.Response(200, json=[], headers=JSON)
    try:
        for _ in range(10):
            monitor.observe(ok)
            await asyncio.sleep(0.05)
        assert monitor.probes == 0
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
