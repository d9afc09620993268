"""The ASGI middleware that acts out the fault rules of ``faults.py``.

Connection-level faults need the real socket. Under the sandbox's own
uvicorn server (``server.py``) the connection's asyncio transport is in the
scope: a reset sets ``SO_LINGER`` to zero and aborts (the client reads an
RST), a drop aborts without a byte of response (the client sees the server
disconnect). Simply raising would not do: uvicorn answers an exception
raised before the response starts with a 500, which is an answer.
In-process (``httpx2.ASGITransport``) there is no socket, so these faults
raise the httpx2 error a real socket would have produced.
"""

from __future__ import annotations

import asyncio
import math
import socket
import struct
import time
from collections.abc import Callable
from typing import Any

import anyio
import httpx2

from onetill.sandbox._asgi import (
    TRANSPORT_KEY,
    ASGIApp,
    BufferedResponse,
    Receive,
    Scope,
    Send,
    http_date,
    is_control_path,
    run_buffered,
)
from onetill.sandbox.faults import FaultInjector, FaultRule, Fired

__all__ = ["FaultMiddleware"]

_HTML = [(b"content-type", b"text/html; charset=UTF-8")]

# What WordPress shows when PHP dies (wp_die in the fatal error handler).
_WP_CRITICAL = (
    b"<!DOCTYPE html>\n<html lang=\"en-US\">\n<head><meta charset=\"UTF-8\" />\n"
    b"<title>WordPress &rsaquo; Error</title></head>\n<body id=\"error-page\">\n"
    b"<div class=\"wp-die-message\"><p>There has been a critical error on this website.</p>"
    b"<p><a href=\"https://wordpress.org/documentation/article/faq-troubleshooting/\">"
    b"Learn more about troubleshooting WordPress.</a></p></div></body>\n</html>\n"
)
_PROXY_PAGE = (
    b"<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n"
    b"<center><h1>%d %s</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
_WAF_PAGE = (
    b"<!DOCTYPE html><html lang=\"en-US\"><head><title>Just a moment...</title>"
    b"<meta http-equiv=\"refresh\" content=\"390\"></head><body>"
    b"<noscript>Enable JavaScript and cookies to continue</noscript>"
    b"<div id=\"challenge-form\">Checking if the site connection is secure</div>"
    b"</body></html>"
)
_PHP_NOTICE = (
    b"<br />\n<b>Deprecated</b>:  Creation of dynamic property WC_Legacy_Shim::$cache is "
    b"deprecated in <b>/var/www/html/wp-content/plugins/legacy-shim/shim.php</b> "
    b"on line <b>42</b><br />\n"
)
_REASONS = {
    429: b"Too Many Requests",
    500: b"Internal Server Error",
    502: b"Bad Gateway",
    503: b"Service Unavailable",
    504: b"Gateway Time-out",
}


class FaultMiddleware:
    """Wraps the store's API; consults the injector on every request."""

    def __init__(
        self, app: ASGIApp, injector: FaultInjector, clock: Callable[[], float] = time.time
    ) -> None:
        self.app = app
        self.injector = injector
        self.clock = clock  # the store's clock: every answer carries it in Date

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_control_path(scope):
            await self.app(scope, receive, send)
            return
        fired = self.injector.decide(scope["method"], scope["path"])
        if fired.delay_s > 0:
            await anyio.sleep(fired.delay_s)
        for key in fired.revoke:
            self.injector.revoke_key(key)
        rule = fired.terminal
        if rule is None:
            response = await run_buffered(self.app, scope, receive)
        elif rule.kind in {"status", "rate", "html", "waf"}:
            response = _refusal(rule, fired, self.clock())
        elif rule.kind == "reset":
            await _reset(scope, receive)
            return
        else:
            response = await run_buffered(self.app, scope, receive)
            if rule.kind == "commit_drop":
                await _drop(scope, receive)
                return
            if rule.kind in {"commit_html", "commit_status"}:
                # The store answered, but too late for the proxy in front of
                # it: the proxy's own error page replaces the JSON.
                response = _refusal(rule, fired, self.clock())
            elif rule.kind == "slow":
                if not await _hold(scope, receive, rule.number("slow")):
                    return
            else:
                _corrupt(response, rule.kind)
        if fired.clock_s is not None:
            response.set_header(b"date", http_date(self.clock() + fired.clock_s).encode())
        elif response.header(b"date") is None:
            response.set_header(b"date", http_date(self.clock()).encode())
        await response.send_to(send)


def _refusal(rule: FaultRule, fired: Fired, now: float) -> BufferedResponse:
    """A response from the host in front of PHP (for ``commit_*`` after the store's work)."""
    response = BufferedResponse(started=True, headers=list(_HTML))
    if rule.kind == "waf":
        response.status = int(rule.value or 403)
        response.set_header(b"cf-mitigated", b"challenge")
        response.set_body(_WAF_PAGE)
        return response
    code = 429 if rule.kind == "rate" else int(float(rule.value or 503))
    # html=500 is PHP dying inside WordPress; every other code is the proxy's page.
    response.status = code
    reason = _REASONS.get(code, b"Error")
    if rule.kind == "html" and code == 500:
        response.set_body(_WP_CRITICAL)
    else:
        response.set_body(_PROXY_PAGE % (code, reason, code, reason))
    if fired.retry_after_s is not None:
        response.set_header(b"retry-after", str(math.ceil(fired.retry_after_s)).encode())
    elif "retry_after" in rule.params:
        seconds = math.ceil(float(rule.params["retry_after"]))
        response.set_header(b"retry-after", str(seconds).encode())
    elif "retry_after_date" in rule.params:
        # An HTTP date on the server's clock, as its Date header shows it.
        moment = now + float(rule.params["retry_after_date"])
        response.set_header(b"retry-after", http_date(math.ceil(moment)).encode())
    return response


def _corrupt(response: BufferedResponse, kind: str) -> None:
    if kind == "malformed":
        # display_errors on: PHP prints the notice before WordPress's JSON.
        response.set_body(_PHP_NOTICE + response.body)
    else:
        response.set_body(response.body[: max(1, len(response.body) // 2)])


def _transport(scope: Scope) -> asyncio.Transport | None:
    extensions: dict[str, Any] = scope.get("extensions") or {}
    transport = extensions.get(TRANSPORT_KEY)
    return transport if isinstance(transport, asyncio.BaseTransport) else None  # type: ignore[return-value]


async def _reset(scope: Scope, receive: Receive) -> None:
    transport = _transport(scope)
    if transport is None:
        raise httpx2.ReadError("[Errno 104] Connection reset by peer (sandbox fault: reset)")
    sock = transport.get_extra_info("socket")
    if sock is not None:
        # Linger 0: close() sends RST instead of FIN.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    await _until_disconnected(receive)


async def _drop(scope: Scope, receive: Receive) -> None:
    transport = _transport(scope)
    if transport is None:
        raise httpx2.RemoteProtocolError(
            "Server disconnected without sending a response. (sandbox fault: commit_drop)"
        )
    transport.abort()
    await _until_disconnected(receive)


async def _hold(scope: Scope, receive: Receive, seconds: float) -> bool:
    """Wait ``seconds`` before answering; False when the client hung up first."""
    if _transport(scope) is None:
        raise httpx2.ReadTimeout("sandbox fault: slow (the response never came in time)")
    with anyio.move_on_after(seconds):
        await _until_disconnected(receive, limit=None)
        return False
    return True


async def _until_disconnected(receive: Receive, limit: float | None = 5.0) -> None:
    """Let uvicorn notice the closed connection, so it neither logs nor answers.

    uvicorn's ``receive`` returns ``http.disconnect`` once ``connection_lost``
    has run; returning earlier would make it send a 500 on a dead socket.
    """
    with anyio.move_on_after(limit if limit is not None else math.inf):
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
