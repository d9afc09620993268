"""The engine's HTTP side: status JSON, status stream, webhook receiver.

Routes:

- ``GET /``: a placeholder page with the live status (the till screen comes
  in a later issue and will be served here);
- ``GET /api/status``: the status model as JSON;
- ``GET /api/status/stream``: Server-Sent Events, one ``status`` event with
  the whole model whenever it changes (and at least every few seconds);
- ``POST /webhooks/woocommerce``: WooCommerce deliveries.
- ``POST /webhooks/stripe``: Stripe events (when card payments are set up),
  verified with ``Stripe-Signature`` by ``onetill.pay.events``.

Every request must name this engine in its ``Host`` header (``hosts.py``:
DNS rebinding). A webhook body has ``body_timeout_s`` to arrive (3,000
trickling connections must not be held open), at most
``max_webhook_requests`` deliveries are read at once (more get 503), and a
client that disconnects mid-body costs one log line, not a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any

from sse_starlette.sse import EventSourceResponse
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from onetill.engine.webhooks import MAX_BODY_BYTES, WebhookReceiver

__all__ = [
    "BODY_TIMEOUT_S",
    "MAX_WEBHOOK_REQUESTS",
    "StatusHub",
    "check_hosts",
    "create_engine_app",
]

log = logging.getLogger("onetill.engine.http")

BODY_TIMEOUT_S = 10.0  # a WooCommerce delivery (at most 1 MB) arrives in well under that
MAX_WEBHOOK_REQUESTS = 16  # deliveries come a few at a time; more at once is a flood

_Scope = MutableMapping[str, Any]
_ASGI = Callable[[_Scope, Any, Any], Awaitable[None]]


class StatusHub:
    """The current status, and a way to wait for it to change.

    ``changed()`` is called by whoever changes something visible (a job
    finished, connectivity flipped, a webhook applied); watchers then
    recompute. They also recompute every ``refresh_s`` so ages stay fresh.
    """

    # Several screens watch at once: one database read serves them all for this long
    # (a change announced with ``changed()`` is read afresh at once).
    SHARE_S = 0.25

    def __init__(self, provider: Callable[[], dict[str, Any]], refresh_s: float = 2.0) -> None:
        self._provider = provider
        self.refresh_s = refresh_s
        self._event = asyncio.Event()
        self._closed = False
        self._version = 0
        self._cached: tuple[int, float, dict[str, Any]] | None = None

    def current(self) -> dict[str, Any]:
        """The status read now (``/api/status``: never older than the request)."""
        value = self._provider()
        self._cached = (self._version, time.monotonic(), value)
        return dict(value)

    def _shared(self) -> dict[str, Any]:
        """The status for watchers: one read serves all of them for ``SHARE_S``."""
        cached = self._cached
        if (
            cached is not None
            and cached[0] == self._version
            and time.monotonic() - cached[1] < self.SHARE_S
        ):
            return dict(cached[2])
        return self.current()

    def changed(self) -> None:
        self._version += 1
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
            status = self._shared()
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


StripeReceiver = Callable[[bytes, str | None], tuple[int, str]]


class _HostCheck:
    """400 for a request whose ``Host`` does not name this engine (DNS rebinding)."""

    def __init__(self, app: _ASGI, allowed: Callable[[str | None], bool]) -> None:
        self.app = app
        self.allowed = allowed
        self._logged = 0.0

    async def __call__(self, scope: _Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            host = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), None)
            if not self.allowed(host):
                if time.monotonic() - self._logged > 1.0:  # one line a second, even in a flood
                    self._logged = time.monotonic()
                    log.warning("refused a request for host %.80r: not an address this engine "
                                "listens on (DNS rebinding?)", host)  # fmt: skip
                response = PlainTextResponse(
                    "unknown host: open the engine at the address it listens on", 400
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def check_hosts(app: _ASGI, allowed: Callable[[str | None], bool]) -> _ASGI:
    """``app`` behind the ``Host`` check (see ``hosts.HostPolicy``)."""
    return _HostCheck(app, allowed)


def create_engine_app(
    receiver: WebhookReceiver,
    hub: StatusHub,
    stripe_receiver: StripeReceiver | None = None,
    *,
    host_allowed: Callable[[str | None], bool] | None = None,
    body_timeout_s: float = BODY_TIMEOUT_S,
    max_webhook_requests: int = MAX_WEBHOOK_REQUESTS,
) -> _ASGI:
    """The ASGI app served by ``onetill run`` (``host_allowed``: see ``hosts.HostPolicy``;
    the engine checks hosts around its whole app, the till screen included)."""
    busy = 0

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
        return await _capped(request, _webhook)

    async def _capped(
        request: Request, handle: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        """At most ``max_webhook_requests`` deliveries (WooCommerce and Stripe) at once."""
        nonlocal busy
        if busy >= max_webhook_requests:
            return JSONResponse(
                {"outcome": "rejected", "detail": "too many webhook requests at once"},
                status_code=503, headers={"Retry-After": "10"},
            )  # fmt: skip
        busy += 1
        try:
            return await handle(request)
        finally:
            busy -= 1

    async def _body(request: Request) -> bytes | Response:
        """The delivery's body, or the answer to a slow, cut or oversized one."""
        peer = request.client.host if request.client else "?"
        try:
            async with asyncio.timeout(body_timeout_s):
                body = await _read_limited(request, MAX_BODY_BYTES)
        except TimeoutError:
            log.info("webhook request from %s: body not received within %g s; dropped",
                     peer, body_timeout_s)  # fmt: skip
            return JSONResponse(
                {"outcome": "rejected", "detail": f"body not received within {body_timeout_s:g} s"},
                status_code=408, headers={"Connection": "close"},
            )  # fmt: skip
        except ClientDisconnect:
            log.info("webhook request from %s: the client disconnected before its whole body "
                     "arrived; nothing done", peer)  # fmt: skip
            return Response(status_code=400)
        if body is None:
            return JSONResponse(
                {"outcome": "rejected", "detail": f"body over {MAX_BODY_BYTES} bytes"},
                status_code=413,
            )
        return body

    async def _webhook(request: Request) -> Response:
        body = await _body(request)
        if isinstance(body, Response):
            return body
        result = await receiver.receive(request.headers, body)
        return JSONResponse(result.body(), status_code=result.status)

    async def stripe_webhook(request: Request) -> Response:
        return await _capped(request, _stripe_webhook)

    async def _stripe_webhook(request: Request) -> Response:
        body = await _body(request)
        if isinstance(body, Response):
            return body
        if stripe_receiver is None:
            detail = "card payments are not set up"
            return JSONResponse({"outcome": "rejected", "detail": detail}, status_code=400)
        status_code, outcome = stripe_receiver(body, request.headers.get("stripe-signature"))
        return JSONResponse({"outcome": outcome}, status_code=status_code)

    app = Starlette(
        routes=[
            Route("/", index),
            Route("/api/status", status),
            Route("/api/status/stream", stream),
            Route("/webhooks/woocommerce", webhook, methods=["POST"]),
            Route("/webhooks/stripe", stripe_webhook, methods=["POST"]),
        ]
    )
    return app if host_allowed is None else _HostCheck(app, host_allowed)


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
