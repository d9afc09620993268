"""The server cost model: a merchant's host has few PHP workers and each
request costs time.

The real store answered a 100-product page in 0.2-0.6 s of server time with
8 PHP-FPM workers; shared hosts often have 2-4. ``--workers W`` lets W
requests be served at once (the rest queue, as at PHP-FPM's listen socket);
each request holds its worker for at least ``latency_ms + per_item_ms x
items``, where items are the objects returned (a list's length, 1 for an
object) or written (a batch's create + update + delete). Counters record
what was served, so a benchmark can compute the physical lower bound of a
sync: ``busy_s / workers`` (no client can finish sooner on this server).
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from dataclasses import asdict, dataclass
from typing import Any

import anyio
import msgspec

from onetill.sandbox._asgi import (
    ASGIApp,
    BufferedResponse,
    Receive,
    Scope,
    Send,
    is_control_path,
    run_buffered,
)

__all__ = ["CostCounters", "CostMiddleware", "CostModel", "count_items"]

_BATCH_KEYS = frozenset({"create", "update", "delete"})


@dataclass
class CostCounters:
    """What the server did, for benchmarks (all times in seconds)."""

    requests: int = 0
    items: int = 0
    busy_s: float = 0.0  # total time worker slots were held
    modelled_s: float = 0.0  # what the cost model charged (latency + per item)
    queued_s: float = 0.0  # total time requests waited for a free worker
    max_in_flight: int = 0

    def as_dict(self, workers: int | None) -> dict[str, Any]:
        data = asdict(self)
        data["workers"] = workers
        data["lower_bound_s"] = self.busy_s / workers if workers else None
        return data


class CostModel:
    """Worker slots and charges; one per sandbox app, shared across requests."""

    def __init__(
        self, workers: int | None = None, latency_ms: float = 0.0, per_item_ms: float = 0.0
    ) -> None:
        if workers is not None and workers < 1:
            raise ValueError(f"workers must be at least 1 (or None for unbounded), not {workers}")
        if latency_ms < 0 or per_item_ms < 0:
            raise ValueError("latency_ms and per_item_ms cannot be negative")
        self.workers = workers
        self.latency_ms = latency_ms
        self.per_item_ms = per_item_ms
        self.counters = CostCounters()
        self._lock = threading.Lock()
        self._in_flight = 0
        # A semaphore belongs to one event loop; tests run several loops in turn.
        self._slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]
        self._slots = weakref.WeakKeyDictionary()

    def charge_s(self, items: int) -> float:
        return (self.latency_ms + self.per_item_ms * items) / 1000.0

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return self.counters.as_dict(self.workers)

    def reset(self) -> None:
        with self._lock:
            self.counters = CostCounters()

    def _semaphore(self) -> asyncio.Semaphore | None:
        if self.workers is None:
            return None
        loop = asyncio.get_running_loop()
        slots = self._slots.get(loop)
        if slots is None:
            slots = self._slots[loop] = asyncio.Semaphore(self.workers)
        return slots

    async def serve(self, app: ASGIApp, scope: Scope, receive: Receive) -> BufferedResponse:
        """Run one request in a worker slot, charging its modelled cost."""
        arrived = time.monotonic()
        slots = self._semaphore()
        if slots is not None:
            await slots.acquire()
        try:
            started = time.monotonic()
            with self._lock:
                self._in_flight += 1
                self.counters.max_in_flight = max(self.counters.max_in_flight, self._in_flight)
            try:
                response = await run_buffered(app, scope, receive)
                items = count_items(scope, response)
                charge = self.charge_s(items)
                remaining = charge - (time.monotonic() - started)
                if remaining > 0:
                    await anyio.sleep(remaining)
            finally:
                finished = time.monotonic()
                with self._lock:
                    self._in_flight -= 1
            with self._lock:
                c = self.counters
                c.requests += 1
                c.items += items
                c.busy_s += finished - started
                c.modelled_s += charge
                c.queued_s += started - arrived
            return response
        finally:
            if slots is not None:
                slots.release()


class CostMiddleware:
    """ASGI middleware applying a ``CostModel`` to every store request."""

    def __init__(self, app: ASGIApp, model: CostModel) -> None:
        self.app = app
        self.model = model

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_control_path(scope):
            await self.app(scope, receive, send)
            return
        response = await self.model.serve(self.app, scope, receive)
        await response.send_to(send)


def count_items(scope: Scope, response: BufferedResponse) -> int:
    """Objects returned or written by one successful JSON response."""
    if not 200 <= response.status < 300 or not response.body:
        return 0
    body = response.body.lstrip()
    try:
        if body[:1] == b"[":
            return len(msgspec.json.decode(body, type=list[msgspec.Raw]))
        if body[:1] != b"{":
            return 0
        path: str = scope.get("path", "")
        if scope.get("method") == "POST" and path.rstrip("/").endswith("/batch"):
            parts = msgspec.json.decode(body, type=dict[str, msgspec.Raw])
            return sum(
                len(msgspec.json.decode(raw, type=list[msgspec.Raw]))
                for key, raw in parts.items()
                if key in _BATCH_KEYS
            )
    except msgspec.DecodeError:
        return 0
    return 1
