"""Signed webhook deliveries to the account's endpoints, as Stripe sends them.

``Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>" with
the endpoint's whsec_ secret>``. Each event goes to every enabled endpoint
whose ``enabled_events`` names its type (or ``*``); a failed delivery is
retried a few times with backoff (bounded: this is a test double).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx2

__all__ = ["WebhookDispatcher", "signature_header"]

log = logging.getLogger("onetill.stripe_sandbox.webhooks")

RETRY_DELAYS_S = (0.5, 2.0, 5.0)


def signature_header(body: bytes, secret: str, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


class WebhookDispatcher:
    """Queues deliveries on the server's event loop; ``log`` keeps every attempt."""

    def __init__(self, endpoints: Callable[[], list[dict[str, Any]]]) -> None:
        self._endpoints = endpoints
        self.log: list[dict[str, Any]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._client: httpx2.AsyncClient | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    def deliver(self, event: dict[str, Any]) -> None:
        if self.loop is None:
            return
        for ep in self._endpoints():
            wanted = ep["enabled_events"]
            if ep["status"] != "enabled" or ("*" not in wanted and event["type"] not in wanted):
                continue
            task = self.loop.create_task(self._send(ep, event))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send(self, ep: dict[str, Any], event: dict[str, Any]) -> None:
        if self._client is None:
            self._client = httpx2.AsyncClient(timeout=10.0)
        body = json.dumps(event, indent=2).encode()
        for attempt, delay in enumerate((0.0, *RETRY_DELAYS_S), start=1):
            if delay:
                await asyncio.sleep(delay)
            headers = {
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                "Stripe-Signature": signature_header(body, ep["secret"]),
            }
            entry: dict[str, Any] = {"event": event["id"], "type": event["type"],
                                     "url": ep["url"], "attempt": attempt}  # fmt: skip
            try:
                r = await self._client.post(ep["url"], content=body, headers=headers)
                entry["status"] = r.status_code
            except httpx2.HTTPError as exc:
                entry["error"] = type(exc).__name__
            self.log.append(entry)
            if 200 <= int(entry.get("status", 0)) < 300:
                return
        log.warning("webhook %s to %s failed after retries", event["id"], ep["url"])

    async def idle(self, wait_s: float = 10.0) -> None:
        """Wait until every queued delivery finished (or ``timeout``)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=wait_s)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._client is not None:
            await self._client.aclose()
