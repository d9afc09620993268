"""A fault-injecting TCP proxy between the till and the sandbox store (loopback only).

It speaks just enough HTTP/1.1 to find where a request and its response
end (``Content-Length`` or chunked), so it can break an exchange at the
moments that matter to the outbox:

========================  ===================================================
kind                      what the till sees / what the store did
========================  ===================================================
``refused``               connect refused (the listener is closed for a while)
``reset_before_send``     its request is read, never forwarded, then RST
``reset_after_send``      forwarded, the store answers (a POST is committed),
                          then RST instead of the answer
``cut_response``          half of the answer, then the connection closes
``slow_response``         the answer held longer than the till's timeout
``status_429``            429 with ``Retry-After``, request not forwarded
``status_503``            503 with ``Retry-After`` (maintenance), not forwarded
``html_200``              an HTML page with 200 (captive portal), not forwarded
``html_502``              an HTML 502 from the "reverse proxy"; the request was
                          forwarded (and committed) or not, half and half
``flap``                  the link goes down (every open connection reset, new
                          ones refused) and comes back a few seconds later
``freeze``                every open connection goes silent (the userspace
                          stand-in for a path change when no network namespace)
========================  ===================================================

Each request's fate comes from :class:`FaultPlan`, a pure function of the
seed, the request's class (``POST /orders``, other writes, reads) and how
many requests of that class came before it: the Nth order POST of a run
always meets the same fault.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import random
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["KINDS", "FaultPlan", "FaultProxy", "HttpMessage"]

KINDS = (
    "refused",
    "reset_before_send",
    "reset_after_send",
    "cut_response",
    "slow_response",
    "status_429",
    "status_503",
    "html_200",
    "html_502",
    "flap",
    "freeze",
)
# Per-request kinds and their weights, per request class. Order POSTs get the
# kinds that leave their fate unknown less often: each costs the queue a
# lookup and the minimum resend age.
_REQUEST_KINDS: dict[str, list[tuple[str, float]]] = {
    "order": [
        ("reset_before_send", 2), ("reset_after_send", 3), ("cut_response", 2),
        ("slow_response", 1), ("status_429", 3), ("status_503", 3), ("html_200", 1),
        ("html_502", 2),
    ],
    "write": [("status_429", 1), ("status_503", 1), ("reset_after_send", 1)],
    "read": [
        ("reset_before_send", 3), ("reset_after_send", 2), ("cut_response", 3),
        ("slow_response", 1), ("status_429", 3), ("status_503", 3), ("html_200", 2),
        ("html_502", 2),
    ],
}  # fmt: skip


def request_class(method: str, target: str) -> str:
    path = target.split("?", 1)[0]
    if method == "POST" and "/orders" in path:
        return "order"
    return "read" if method in ("GET", "HEAD") else "write"


@dataclass
class FaultPlan:
    """Which fault (if any) the Nth request of a class meets: a function of the seed."""

    seed: int
    rates: dict[str, float] = field(
        default_factory=lambda: {"order": 0.2, "write": 0.3, "read": 0.5}
    )
    enabled: bool = True
    _counts: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def decide(self, method: str, target: str) -> str | None:
        cls = request_class(method, target)
        with self._lock:
            n = self._counts[cls]
            self._counts[cls] += 1
        if not self.enabled:
            return None
        digest = hashlib.sha256(f"{self.seed}:{cls}:{n}".encode()).digest()
        rng = random.Random(int.from_bytes(digest[:8], "big"))
        if rng.random() >= self.rates.get(cls, 0.0):
            return None
        kinds = _REQUEST_KINDS[cls]
        return rng.choices([k for k, _ in kinds], [w for _, w in kinds])[0]


@dataclass
class HttpMessage:
    """One request or response: the head as received and the whole body."""

    head: bytes
    body: bytes
    start_line: str

    @property
    def raw(self) -> bytes:
        return self.head + self.body


class _Closed(Exception):
    pass


async def read_message(
    reader: asyncio.StreamReader, *, response_to: str | None = None
) -> HttpMessage:
    """Read one HTTP/1.1 message; ``response_to`` is the request method for a response."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError) as exc:
        raise _Closed(str(exc)) from None
    lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    body = b""
    try:
        status = lines[0].split(" ")[1] if response_to else ""
        if response_to == "HEAD" or status[:1] == "1" or status in ("204", "304"):
            pass
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            chunks = []
            while True:
                size_line = await reader.readuntil(b"\r\n")
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                data = await reader.readexactly(size + 2)
                chunks.append(size_line + data)
                if size == 0:
                    # (no trailers from uvicorn or httpx)
                    break
            body = b"".join(chunks)
        elif "content-length" in headers:
            body = await reader.readexactly(int(headers["content-length"]))
        elif response_to is not None:
            body = await reader.read()  # until close
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError) as exc:
        raise _Closed(str(exc)) from None
    return HttpMessage(head, body, lines[0])


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST (SO_LINGER 0), not FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort() if sock is None else writer.close()


def _page(status: int, reason: str, body: bytes, ctype: str, extra: str = "") -> bytes:
    return (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\n"
        f"Content-Length: {len(body)}\r\n{extra}Connection: close\r\n\r\n"
    ).encode() + body


_HTML_200 = b"<html><body><h1>Welcome to Guest Wi-Fi</h1><p>Accept the terms.</p></body></html>"
_HTML_502 = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"


class FaultProxy:
    """The proxy, served from its own thread and event loop.

    ``listen`` is ``(host, port)`` (port fixed so the till's URL survives
    restarts); ``upstream`` the sandbox's address. ``slow_s`` is how long a
    ``slow_response`` is held (past the till's timeout). ``log(event)`` gets
    one line per injected fault.
    """

    def __init__(
        self,
        listen: tuple[str, int],
        upstream: tuple[str, int],
        plan: FaultPlan,
        *,
        slow_s: float = 8.0,
        log: Callable[[str], None] = lambda _line: None,
    ) -> None:
        self.listen = listen
        self.upstream = upstream
        self.plan = plan
        self.slow_s = slow_s
        self.log = log
        self.counts: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="chaos-proxy", daemon=True
        )
        self._server: asyncio.Server | None = None
        self._conns: set[_Conn] = set()
        self._rng = random.Random(plan.seed ^ 0x5EED)
        self.upstream_source: str | None = None  # bind upstream connections to this address

    # -- control (any thread) -------------------------------------------------

    def start(self) -> None:
        self._thread.start()
        self._call(self._open())

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        if not self._thread.is_alive():
            for task in asyncio.all_tasks(self._loop):
                task.cancel()
            with contextlib.suppress(Exception):
                self._loop.run_until_complete(asyncio.sleep(0))
            self._loop.close()

    def down(self, *, count: bool = True) -> None:
        """Link down: reset every open connection, refuse new ones."""
        self._call(self._down(count))

    def up(self) -> None:
        self._call(self._open())

    def refuse_new(self, seconds: float) -> None:
        """New connections are refused for ``seconds``; open ones carry on."""
        self._call(self._close_listener())
        self.note("refused", f"for {seconds:.1f} s")
        time.sleep(seconds)
        self._call(self._open())

    @property
    def is_up(self) -> bool:
        return self._server is not None

    def freeze(self) -> int:
        """Every open connection goes silent (no FIN, no RST); new ones work. Returns how many."""
        return int(self._call(self._freeze()))

    def note(self, kind: str, detail: str = "") -> None:
        self.counts[kind] += 1
        self.log(f"{time.time():.3f} fault {kind} {detail}".rstrip())

    def _call(self, coro: object) -> object:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(15)  # type: ignore[arg-type]

    # -- inside the loop --------------------------------------------------------

    async def _open(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(
                self._handle, self.listen[0], self.listen[1], reuse_address=True, backlog=512
            )

    async def _down(self, count: bool) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        if count:
            self.note("flap", f"{len(self._conns)} connections reset")
        for conn in list(self._conns):
            conn.reset()

    async def _close_listener(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    async def _shutdown(self) -> None:
        await self._down(False)

    async def _freeze(self) -> int:
        frozen = [c for c in self._conns if not c.frozen]
        for conn in frozen:
            conn.frozen = True
        self.note("freeze", f"{len(frozen)} connections silent")
        return len(frozen)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        if sock is not None and hasattr(socket, "TCP_USER_TIMEOUT"):
            # A client whose path died never says goodbye: forget it in time.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, 20_000)
        conn = _Conn(self, reader, writer)
        self._conns.add(conn)
        try:
            await conn.serve()
        except Exception as exc:  # a proxy bug must show, not hide as a network fault
            self.log(f"{time.time():.3f} proxy error {type(exc).__name__}: {exc}")
        finally:
            self._conns.discard(conn)
            conn.close()


class _Conn:
    """One client connection and its upstream connection (opened on demand)."""

    def __init__(
        self, proxy: FaultProxy, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ):
        self.proxy = proxy
        self.reader = reader
        self.writer = writer
        self.up_reader: asyncio.StreamReader | None = None
        self.up_writer: asyncio.StreamWriter | None = None
        self.frozen = False
        self.dead = False

    def reset(self) -> None:
        self.dead = True
        _reset(self.writer)
        self._close_upstream()

    def close(self) -> None:
        if self.frozen:
            # Silent: leave the socket open, as a dead path would. The till's
            # side gives up on its own; our TCP_USER_TIMEOUT cleans up.
            asyncio.get_running_loop().call_later(60, self._final_close)
        elif not self.dead:
            with contextlib.suppress(Exception):
                self.writer.close()
        self._close_upstream()

    def _final_close(self) -> None:
        with contextlib.suppress(Exception):
            _reset(self.writer)

    def _close_upstream(self) -> None:
        if self.up_writer is not None:
            with contextlib.suppress(Exception):
                self.up_writer.close()
            self.up_writer = self.up_reader = None

    async def _wait_frozen(self) -> None:
        # A frozen connection never reads nor writes again.
        await asyncio.sleep(3600)

    async def _send(self, data: bytes) -> None:
        if self.frozen:
            await self._wait_frozen()
        self.writer.write(data)
        await self.writer.drain()

    async def _exchange(self, request: HttpMessage, method: str) -> HttpMessage | None:
        """Forward the request and read the store's answer (None: the store is unreachable)."""
        for _ in range(2):
            if self.up_writer is None:
                try:
                    self.up_reader, self.up_writer = await asyncio.open_connection(
                        *self.proxy.upstream,
                        local_addr=(self.proxy.upstream_source, 0)
                        if self.proxy.upstream_source
                        else None,
                    )
                except OSError:
                    return None
            assert self.up_reader is not None and self.up_writer is not None
            try:
                self.up_writer.write(request.raw)
                await self.up_writer.drain()
                return await read_message(self.up_reader, response_to=method)
            except (_Closed, ConnectionError, OSError):
                # The store restarted under a kept-alive connection: an
                # answer never came. Only a request that provably did not
                # reach it may be sent again, and we cannot tell: give up.
                self._close_upstream()
                return None
        return None

    async def serve(self) -> None:
        while not self.dead:
            if self.frozen:
                await self._wait_frozen()
            try:
                request = await read_message(self.reader)
            except _Closed:
                return
            if self.frozen:
                await self._wait_frozen()
            method, _, rest = request.start_line.partition(" ")
            target = rest.rsplit(" ", 1)[0]
            cls = request_class(method, target)
            self.proxy.requests[cls] += 1
            kind = self.proxy.plan.decide(method, target)
            what = f"{method} {target.split('?', 1)[0]}"
            if kind is not None:
                self.proxy.note(kind, what)
            if kind == "reset_before_send":
                self.reset()
                return
            if kind in ("status_429", "status_503"):
                wait = self.proxy._rng.choice((1, 2, 3))
                status, reason = (
                    (429, "Too Many Requests")
                    if kind == "status_429"
                    else (503, "Service Unavailable")
                )
                body = (
                    b'{"code":"rate_limited","message":"Slow down.","data":{"status":%d}}' % status
                    if kind == "status_429"
                    else b"<html><body>Maintenance</body></html>"
                )
                ctype = "application/json" if kind == "status_429" else "text/html"
                await self._send(_page(status, reason, body, ctype, f"Retry-After: {wait}\r\n"))
                return
            if kind == "html_200":
                await self._send(_page(200, "OK", _HTML_200, "text/html; charset=UTF-8"))
                return
            if kind == "html_502" and self.proxy._rng.random() < 0.5:
                await self._send(_page(502, "Bad Gateway", _HTML_502, "text/html"))
                return
            response = await self._exchange(request, method)
            if response is None:  # the store is down: what nginx would say
                await self._send(_page(502, "Bad Gateway", _HTML_502, "text/html"))
                return
            if kind == "html_502":
                await self._send(_page(502, "Bad Gateway", _HTML_502, "text/html"))
                return
            if kind == "reset_after_send":
                self.reset()
                return
            if kind == "cut_response":
                raw = response.raw
                await self._send(raw[: max(1, len(raw) // 2)])
                with contextlib.suppress(Exception):
                    self.writer.close()
                self.dead = True
                return
            if kind == "slow_response":
                await asyncio.sleep(self.proxy.slow_s)
            try:
                await self._send(response.raw)
            except (ConnectionError, OSError):
                return
            if (
                b"connection: close" in response.head.lower()
                or b"connection: close" in request.head.lower()
            ):
                return
