"""The sockets under the client: writes on fresh connections, dead paths found in seconds.

A till moves between networks (the S710 reader from Wi-Fi to cellular, a
shop's router restarting). Every connection open at that moment goes
silent: no RST, no FIN, packets simply vanish. Two rules keep such a
moment from costing minutes:

* **A write never rides a pooled connection.** An order POST written on a
  kept-alive connection that died while idle is lost on the way, and its
  fate is then unknown: the outbox must look it up and wait out its
  minimum resend age before it may send it again. Each non-idempotent
  request gets a connection of its own, opened just before and closed
  after: a dead path is found by the handshake (connect refused or timed
  out: provably unsent), and a live new path carries the order at once.
  The price is one handshake per sale.
* **The kernel watches every connection.** TCP keepalive probes an idle or
  waiting connection every second after two idle seconds, and
  ``TCP_USER_TIMEOUT`` aborts one whose bytes or probes go unacknowledged
  for 6 s. A slow store still acknowledges (its kernel answers while PHP
  works), so only a dead path is cut, whatever the read timeout; and bytes
  of ours cannot linger in the kernel to reach the store long after we gave
  up on them. Where these options do not exist the read timeout still
  applies.

What a cut connection proves is decided elsewhere (``fate.py``): an
unacknowledged request may still have arrived (only its ACK may have been
lost on the way back), so it stays ambiguous; ``path_died`` only tells the
outbox it may look the order up at once instead of waiting for a slow
store to settle.
"""

from __future__ import annotations

import errno
import socket
import ssl
from typing import Any

import httpx2

__all__ = ["KEEPALIVE_IDLE_S", "USER_TIMEOUT_S", "StoreTransport", "path_died", "socket_options"]

KEEPALIVE_IDLE_S = 2
KEEPALIVE_INTERVAL_S = 1
KEEPALIVE_PROBES = 4
USER_TIMEOUT_S = 6.0
_NON_IDEMPOTENT = frozenset({"POST", "PATCH"})


def socket_options() -> list[tuple[int, int, int]]:
    """Keepalive and user-timeout options this platform supports."""
    options = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
    for name, value in (
        ("TCP_KEEPIDLE", KEEPALIVE_IDLE_S),
        ("TCP_KEEPALIVE", KEEPALIVE_IDLE_S),  # macOS spelling of TCP_KEEPIDLE
        ("TCP_KEEPINTVL", KEEPALIVE_INTERVAL_S),
        ("TCP_KEEPCNT", KEEPALIVE_PROBES),
        ("TCP_USER_TIMEOUT", int(USER_TIMEOUT_S * 1000)),
    ):
        if hasattr(socket, name):
            options.append((socket.IPPROTO_TCP, getattr(socket, name), value))
    return options


class StoreTransport(httpx2.AsyncBaseTransport):
    """Reads over a kept-alive pool; every write over a connection of its own."""

    def __init__(self, verify: bool | str | ssl.SSLContext = True, **kwargs: Any) -> None:
        options = socket_options()
        self._reads = httpx2.AsyncHTTPTransport(
            verify=verify, socket_options=options, trust_env=False, **kwargs
        )
        self._writes = httpx2.AsyncHTTPTransport(
            verify=verify,
            socket_options=options,
            trust_env=False,
            limits=httpx2.Limits(max_keepalive_connections=0),
            **kwargs,
        )

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        pool = self._writes if request.method in _NON_IDEMPOTENT else self._reads
        return await pool.handle_async_request(request)

    async def aclose(self) -> None:
        try:
            await self._reads.aclose()
        finally:
            await self._writes.aclose()


def path_died(exc: BaseException | None) -> bool:
    """True when the kernel gave up on the connection (keepalive or user timeout).

    Not a proof that a request was lost (its ACK may be what was lost), only
    that the network path, not the store, stopped answering.
    """
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno == errno.ETIMEDOUT:
            return True
        exc = exc.__cause__ or exc.__context__
    return False
