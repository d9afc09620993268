"""A connectivity probe that never boots WordPress: a TCP (and TLS) handshake.

Every REST request makes the store run PHP and load WordPress (0.1-0.3 s of
server time on the real test store, more on shared hosting). To know that
the store's host is still reachable while the till is idle, connecting to
the host and port the API uses is enough: the TCP handshake is answered by
the kernel and the TLS handshake by the web server, with no request, no PHP,
no line in the access log. For ``https`` the certificate is verified with the
same trust as the API client, so an intercepting network (a captive portal)
does not pass for the store.

What it cannot see (PHP down, the keys revoked, a WAF page) only requests
can: the monitor judges those from the traffic the till makes anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import httpx2

__all__ = ["handshake_probe"]


def handshake_probe(
    url: str, *, verify: bool | ssl.SSLContext = True, timeout_s: float = 3.0
) -> Callable[[], Awaitable[None]]:
    """A probe for the store at ``url``: returns when the host takes a connection (and
    completes a verified TLS handshake for ``https``), raises ``OSError`` (``ssl.SSLError``
    included) or ``TimeoutError`` when it does not."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    tls = parts.scheme == "https"
    port = parts.port or (443 if tls else 80)
    context = httpx2.create_ssl_context(verify=verify) if tls else None

    async def probe() -> None:
        async with asyncio.timeout(timeout_s):
            _reader, writer = await asyncio.open_connection(
                host, port, ssl=context, server_hostname=host if context else None
            )
        writer.close()
        with contextlib.suppress(OSError, TimeoutError):
            async with asyncio.timeout(1.0):
                await writer.wait_closed()

    return probe
