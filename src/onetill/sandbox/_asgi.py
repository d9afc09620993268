"""Small ASGI plumbing shared by the sandbox's middleware.

The cost model and the fault injector both need the downstream response as
a whole before anything reaches the wire (to count its items, to corrupt it,
or to throw it away after the write was committed), so they run the app
against a buffering ``send`` and replay it later.
"""

from __future__ import annotations

import email.utils
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CONTROL_PREFIX",
    "TRANSPORT_KEY",
    "ASGIApp",
    "BufferedResponse",
    "Message",
    "Receive",
    "Scope",
    "Send",
    "http_date",
    "is_control_path",
    "run_buffered",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Where the real server (sandbox/server.py) puts the connection's asyncio
# transport, so connection-level faults can reset or drop a socket. Absent
# in-process (httpx2.ASGITransport), where those faults raise instead.
TRANSPORT_KEY = "onetill.sandbox.transport"

CONTROL_PREFIX = "/__sandbox__"


def is_control_path(scope: Scope) -> bool:
    """Control routes are test machinery: never costed, never faulted."""
    path: str = scope.get("path", "")
    return path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/")


def http_date(timestamp: float) -> str:
    """An RFC 7231 date (``Date``, ``Retry-After``) for a POSIX timestamp."""
    return email.utils.formatdate(timestamp, usegmt=True)


@dataclass
class BufferedResponse:
    """A complete response captured from an ASGI app, ready to replay."""

    status: int = 500
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""
    started: bool = False

    def header(self, name: bytes) -> bytes | None:
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None

    def set_header(self, name: bytes, value: bytes) -> None:
        self.headers = [(k, v) for k, v in self.headers if k.lower() != name]
        self.headers.append((name, value))

    def set_body(self, body: bytes) -> None:
        self.body = body
        self.set_header(b"content-length", str(len(body)).encode("ascii"))

    async def send_to(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        await send({"type": "http.response.body", "body": self.body, "more_body": False})


async def run_buffered(app: ASGIApp, scope: Scope, receive: Receive) -> BufferedResponse:
    """Run ``app`` to completion and return what it would have sent."""
    response = BufferedResponse()
    chunks: list[bytes] = []

    async def capture(message: Message) -> None:
        if message["type"] == "http.response.start":
            response.started = True
            response.status = int(message["status"])
            response.headers = [(bytes(k), bytes(v)) for k, v in message.get("headers", [])]
        elif message["type"] == "http.response.body":
            chunks.append(bytes(message.get("body", b"")))

    await app(scope, receive, capture)
    response.body = b"".join(chunks)
    return response
