"""The engine's HTTP side: status JSON, status stream, webhook receiver.

Routes:

- ``GET /``: a placeholder page with the live status (the till screen comes
  in a later issue and will be served here);
- ``GET /api/status``: the status model as JSON;
- ``GET /api/status/stream``: Server-Sent Events, one ``status`` event with
  the whole model whenever it changes (and at least every few seconds);
- ``POST /webhooks/woocommerce``: WooCommerce deliveries.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from sse_starlette.sse import EventSourceResponse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from onetill.engine.webhooks import MAX_BODY_BYTES, WebhookReceiver

__all__ = ["WEBHOOK_BODY_TIMEOUT_S", "StatusHub", "create_engine_app"]


class StatusHub:
    """The current status, and a way to wait for it to change.

    ``changed()`` is called by whoever changes something visible (a job
    finished, connectivity flipped, a webhook applied); watchers then
    recompute. They also recompute every ``refresh_s`` so ages stay fresh.
    """

    def __init__(self, provider: Callable[[], dict[str, Any]], refresh_s: float = 2.0) -> None:
        self._provider = provider
        self.refresh_s = refresh_s
        self._event = asyncio.Event()
        self._closed = False

    def current(self) -> dict[str, Any]:
        return self._provider()

    def changed(self) -> None:
        event, self._event = self._event, asyncio.Event()
        event.set()

    def close(self) -> None:
        self._closed = True
        self.changed()

    @property
    def closed(self) -> bool:
        return self._closed

    async def watch(self) -> AsyncIterator[dict[str, Any]]:
        """Yield the status now, then each time it differs from the last one sent."""
        last: dict[str, Any] | None = None
        while not self._closed:
            event = self._event
            status = self._provider()
            if status != last:
                last = status
                yield status
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), timeout=self.refresh_s)


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>OneTill</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;margin:2rem;max-width:40rem}}
pre{{background:#f4f4f4;padding:1rem;border-radius:.5rem}}</style></head>
<body><h1>OneTill engine</h1>
<p>The till screen comes in a later release and will be served here.
The engine is running; its status updates live below.</p>
<pre id="status">{status}</pre>
<script>
const es = new EventSource("/api/status/stream");
es.addEventListener("status", e => {{
  document.getElementById("status").textContent = JSON.stringify(JSON.parse(e.data), null, 2);
}});
</script></body></html>
"""


# WooCommerce sends a delivery's body in one go; a body still trickling in
# after this is a slow-drip client holding a connection open: refuse it.
WEBHOOK_BODY_TIMEOUT_S = 10.0


def create_engine_app(
    receiver: WebhookReceiver, hub: StatusHub, *, body_timeout_s: float = WEBHOOK_BODY_TIMEOUT_S
) -> Starlette:
    """The Starlette app served by ``onetill run``."""

    async def index(request: Request) -> Response:
        text = html.escape(json.dumps(hub.current(), indent=2, default=str))
        return HTMLResponse(_PAGE.format(status=text))

    async def status(request: Request) -> Response:
        return JSONResponse(hub.current())

    async def stream(request: Request) -> Response:
        async def events() -> AsyncIterator[dict[str, str]]:
            async for snapshot in hub.watch():
                if await request.is_disconnected():
                    return
                yield {"event": "status", "data": json.dumps(snapshot, default=str)}

        return EventSourceResponse(events(), ping=15)

    async def webhook(request: Request) -> Response:
        try:
            async with asyncio.timeout(body_timeout_s):
                body = await _read_limited(request, MAX_BODY_BYTES)
        except TimeoutError:
            return JSONResponse(
                {"outcome": "rejected",
                 "detail": f"body not received within {body_timeout_s:g} s"},
                status_code=408,
            )  # fmt: skip
        if body is None:
            return JSONResponse(
                {"outcome": "rejected", "detail": f"body over {MAX_BODY_BYTES} bytes"},
                status_code=413,
            )
        result = await receiver.receive(request.headers, body)
        return JSONResponse(result.body(), status_code=result.status)

    return Starlette(
        routes=[
            Route("/", index),
            Route("/api/status", status),
            Route("/api/status/stream", stream),
            Route("/webhooks/woocommerce", webhook, methods=["POST"]),
        ]
    )


async def _read_limited(request: Request, limit: int) -> bytes | None:
    """The raw body, or None as soon as it is known to exceed ``limit``."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                return None
        except ValueError:
            return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
