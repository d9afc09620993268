"""A write that may have reached the store is never resent by the client, nor called transient.

Real sockets on 127.0.0.1 (a scripted raw HTTP server and the sandbox store)
show what httpx2 does underneath: no hidden retry on a fresh connection after
a kept-alive one died, and "never left" only when that is provable.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx2
import pytest

from onetill.woo import Outcome, WooClient, classify
from onetill.woo.errors import AmbiguousWriteError, AuthError, ResponseError, TransportError

pytestmark = pytest.mark.anyio

ORDER = {"status": "completed", "set_paid": True, "line_items": [{"product_id": 10, "quantity": 1}]}


# --- a scripted HTTP/1.1 server -------------------------------------------------------

Reply = Callable[[asyncio.StreamWriter, int], Awaitable[bool]]


class RawServer:
    """Reads requests on 127.0.0.1 and answers each with the next scripted reply.

    A reply returns False to close the connection. ``requests`` records
    ``(connection number, method)`` for every request that fully arrived.
    """

    def __init__(self, replies: list[Reply]) -> None:
        self.replies = replies
        self.requests: list[tuple[int, str]] = []
        self.connections = 0
        self.server: asyncio.Server | None = None
        self.url = ""

    async def __aenter__(self) -> RawServer:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = self.connections
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                length = 0
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                await reader.readexactly(length)
                self.requests.append((number, lines[0].split(" ")[0]))
                reply = self.replies.pop(0)
                if not await reply(writer, number):
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            if not writer.is_closing():
                writer.close()

    def methods(self) -> list[str]:
        return [method for _, method in self.requests]


def answer(status: int = 200, body: bytes = b"[]", *, declared: int | None = None) -> Reply:
    """An answer on a kept-alive connection; ``declared`` lies about the length (truncation)."""

    async def reply(writer: asyncio.StreamWriter, _: int) -> bool:
        length = len(body) if declared is None else declared
        writer.write(
            f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        if declared is not None:
            writer.close()
            return False
        return True

    return reply


async def hang_up(writer: asyncio.StreamWriter, _: int) -> bool:
    """Close without a word after the request arrived (a worker killed, a proxy reset)."""
    return False


async def reset(writer: asyncio.StreamWriter, _: int) -> bool:
    """TCP RST after the request arrived."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
    return False


async def answer_then_close(writer: asyncio.StreamWriter, number: int) -> bool:
    """Answer, then close the kept-alive connection (a server's idle timeout)."""
    await answer()(writer, number)
    return False


@pytest.fixture
async def fast_sleep() -> AsyncIterator[Callable[[float], Awaitable[None]]]:
    async def no_sleep(delay: float) -> None:
        pass

    yield no_sleep


async def test_a_connection_dying_under_a_post_is_ambiguous_and_not_resent(
    fast_sleep: Any,
) -> None:
    """The server takes the POST and hangs up: no second copy is sent. The POST has a
    connection of its own, even with an idle kept-alive one at hand (woo/transport.py)."""
    async with (
        RawServer([answer(), hang_up, answer(201, b'{"id": 1}')]) as srv,
        WooClient(srv.url, "ck_k", "cs_s", sleep=fast_sleep) as client,
    ):
        await client.get("products")
        with pytest.raises(AmbiguousWriteError) as caught:
            await client.post("orders", json=ORDER)
        await asyncio.sleep(0.1)  # time for any hidden retry to arrive
    assert srv.requests == [(1, "GET"), (2, "POST")]
    assert classify(caught.value) is Outcome.AMBIGUOUS


async def test_an_order_post_never_rides_a_kept_alive_connection(fast_sleep: Any) -> None:
    """Reads share kept-alive connections; each POST opens its own and closes it after, so an
    order is never written on a connection that may have died while idle (found by the chaos
    suite: after a network path change such a sale reached the store two minutes late)."""
    async with (
        RawServer([answer(), answer(), answer(201, b'{"id": 1}'), answer(201, b'{"id": 2}'),
                   answer()]) as srv,  # fmt: skip
        WooClient(srv.url, "ck_k", "cs_s", sleep=fast_sleep) as client,
    ):
        await client.get("products")
        await client.get("products")
        await client.post("orders", json=ORDER)
        await client.post("orders", json=ORDER)
        await client.get("products")
    assert srv.requests == [(1, "GET"), (1, "GET"), (2, "POST"), (3, "POST"), (1, "GET")]


async def test_a_connection_the_server_closed_while_idle_is_not_used_for_a_post(
    fast_sleep: Any,
) -> None:
    """Closed before the POST: the pool sees it and opens a new one; the order is sent once."""
    async with (
        RawServer([answer_then_close, answer(201, b'{"id": 7}')]) as srv,
        WooClient(srv.url, "ck_k", "cs_s", sleep=fast_sleep) as client,
    ):
        await client.get("products")
        await asyncio.sleep(0.1)  # the FIN reaches the client's idle socket
        response = await client.post("orders", json=ORDER)
    assert response.data == {"id": 7}
    assert srv.requests == [(1, "GET"), (2, "POST")]


async def test_a_reset_after_the_post_arrived_is_ambiguous(fast_sleep: Any) -> None:
    async with (
        RawServer([reset]) as srv,
        WooClient(srv.url, "ck_k", "cs_s", sleep=fast_sleep) as client,
    ):
        with pytest.raises(AmbiguousWriteError):
            await client.post("orders", json=ORDER)
        await asyncio.sleep(0.1)
    assert srv.methods() == ["POST"]


async def test_a_created_order_whose_body_is_cut_short_is_ambiguous(fast_sleep: Any) -> None:
    """201 announced 500 bytes, 12 arrived: the order exists, its answer is unreadable."""
    async with (
        RawServer([answer(201, b'{"id": 9, "st', declared=500)]) as srv,
        WooClient(srv.url, "ck_k", "cs_s", sleep=fast_sleep) as client,
    ):
        with pytest.raises(AmbiguousWriteError):
            await client.post("orders", json=ORDER)
    assert srv.methods() == ["POST"]


async def test_a_get_whose_connection_dies_is_retried_on_a_new_one(fast_sleep: Any) -> None:
    """Reads are idempotent: the same hang-up on a GET is simply retried."""
    async with (
        RawServer([answer(), hang_up, answer(200, b'[{"id": 1}]')]) as srv,
        WooClient(srv.url, "ck_k", "cs_s", sleep=fast_sleep) as client,
    ):
        await client.get("products")
        response = await client.get("products")
    assert response.data == [{"id": 1}]
    assert srv.requests == [(1, "GET"), (1, "GET"), (2, "GET")]


async def test_nothing_listening_is_provably_unsent_even_for_a_post(fast_sleep: Any) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with WooClient(f"http://127.0.0.1:{port}", "ck_k", "cs_s", sleep=fast_sleep) as c:
        with pytest.raises(TransportError) as caught:
            await c.post("orders", json=ORDER)
    assert not isinstance(caught.value, AmbiguousWriteError)
    assert caught.value.sent is False
    assert classify(caught.value) is Outcome.TRANSIENT


# --- which transport failures prove the request never left ---------------------------


@pytest.mark.parametrize(
    ("error", "ambiguous"),
    [
        (httpx2.ConnectError, False),
        (httpx2.ConnectTimeout, False),
        (httpx2.PoolTimeout, False),  # no connection was ever assigned
        (httpx2.WriteTimeout, True),  # part of the request may be out
        (httpx2.WriteError, True),
        (httpx2.ReadTimeout, True),
        (httpx2.ReadError, True),
        (httpx2.RemoteProtocolError, True),
        (httpx2.LocalProtocolError, True),
        (httpx2.DecodingError, True),  # an answer came: the order may exist
    ],
)
async def test_only_failures_before_sending_leave_a_post_unambiguous(
    make_client: Any, error: type[Exception], ambiguous: bool
) -> None:
    calls = 0

    def handler(request: httpx2.Request) -> httpx2.Response:
        nonlocal calls
        calls += 1
        if error is httpx2.DecodingError:
            raise error("bad gzip", request=request)
        raise error("boom", request=request)

    async with make_client(handler) as client:
        with pytest.raises(TransportError if not ambiguous else AmbiguousWriteError) as caught:
            await client.post("orders", json=ORDER)
    assert calls == 1
    if not ambiguous:
        assert not isinstance(caught.value, AmbiguousWriteError)
        assert caught.value.sent is False  # type: ignore[attr-defined]


# --- answers that do not prove the POST was refused ----------------------------------


@pytest.mark.parametrize(
    ("status", "headers"),
    [
        (500, {}),
        (502, {}),
        (503, {}),  # Varnish "Backend fetch failed" after a first-byte timeout
        (504, {}),
        (507, {}),
        (520, {}),
        (524, {}),
    ],
)
async def test_a_5xx_to_a_post_without_proof_of_refusal_is_ambiguous(
    make_client: Any, status: int, headers: dict[str, str]
) -> None:
    calls = 0

    def handler(request: httpx2.Request) -> httpx2.Response:
        nonlocal calls
        calls += 1
        return httpx2.Response(status, text="<h1>Error</h1>", headers=headers)

    async with make_client(handler) as client:
        with pytest.raises(AmbiguousWriteError) as caught:
            await client.post("orders", json=ORDER)
    assert calls == 1
    assert caught.value.status == status


@pytest.mark.parametrize(
    ("status", "headers", "outcome"),
    [
        (503, {"Retry-After": "30"}, Outcome.TRANSIENT),  # maintenance mode, a rate limiter
        (429, {}, Outcome.TRANSIENT),
        (501, {}, Outcome.TRANSIENT),  # the web server refuses the method itself
        (521, {}, Outcome.TRANSIENT),  # Cloudflare could not reach the origin
    ],
)
async def test_a_refusal_in_front_of_php_stays_a_plain_error(
    make_client: Any, status: int, headers: dict[str, str], outcome: Outcome
) -> None:
    calls = 0

    def handler(request: httpx2.Request) -> httpx2.Response:
        nonlocal calls
        calls += 1
        return httpx2.Response(status, text="busy", headers=headers)

    async with make_client(handler) as client:
        with pytest.raises(ResponseError) as caught:
            await client.post("orders", json=ORDER)
    assert not isinstance(caught.value, AmbiguousWriteError)
    assert calls == 1
    assert classify(caught.value) is outcome


@pytest.mark.parametrize(
    "message",
    [
        "Invalid nonce - nonce has already been used.",
        "Ungültige Nonce – die Nonce wurde bereits verwendet.",  # a German store
        "The API key provided does not have write permissions.",
    ],
)
async def test_any_401_to_a_post_is_ambiguous_and_not_resent(
    make_client: Any, message: str
) -> None:
    """Nonces are fresh per attempt, so 'already used' means a copy of this POST got there
    first; WooCommerce says so in the site's language with the code a wrong key gets too.
    So every 401 to a write is ambiguous: looked up before any resend, never matched by text."""
    calls = 0

    def handler(request: httpx2.Request) -> httpx2.Response:
        nonlocal calls
        calls += 1
        return httpx2.Response(
            401,
            json={
                "code": "woocommerce_rest_authentication_error",
                "message": message,
                "data": {"status": 401},
            },
        )

    async with make_client(handler) as client:
        with pytest.raises(AmbiguousWriteError) as caught:
            await client.post("orders", json=ORDER)
    assert calls == 1
    assert classify(caught.value) is Outcome.AMBIGUOUS
    assert caught.value.status == 401 and caught.value.keys_refused


async def test_a_get_refused_as_a_replayed_nonce_is_resent_once_re_signed(
    make_client: Any,
) -> None:
    nonces: list[str] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        nonces.append(request.url.params["oauth_nonce"])
        if len(nonces) == 1:
            return httpx2.Response(
                401,
                json={
                    "code": "woocommerce_rest_authentication_error",
                    "message": "Invalid nonce - nonce has already been used.",
                    "data": {"status": 401},
                },
            )
        return httpx2.Response(200, json=[])

    async with make_client(handler) as client:
        await client.get("products")
    assert len(nonces) == 2 and nonces[0] != nonces[1]


# --- the sandbox store on a real socket ----------------------------------------------


async def test_a_store_reset_during_an_order_is_ambiguous_and_the_order_is_not_doubled(
    start_sandbox: Any,
) -> None:
    srv = start_sandbox(faults="POST /orders:reset@nth=1;POST /orders:commit_drop@nth=2")
    async with WooClient(srv.url, srv.key, srv.secret, timeout=5) as client:
        for _ in range(2):
            with pytest.raises(AmbiguousWriteError):
                await client.post("orders", json=ORDER)
    # The reset came before processing, the drop after: exactly one order exists.
    assert len(srv.control.orders()) == 1


async def test_a_503_page_from_the_store_to_a_post_is_ambiguous(start_sandbox: Any) -> None:
    srv = start_sandbox(faults="POST /orders:html=503@nth=1")
    async with WooClient(srv.url, srv.key, srv.secret, timeout=5) as client:
        with pytest.raises(AmbiguousWriteError) as caught:
            await client.post("orders", json=ORDER)
    assert caught.value.status == 503


async def test_a_missing_nonce_parameter_is_never_resent(make_client: Any) -> None:
    """A proxy that drops the query loses oauth_nonce: a setup problem, sent once. The read
    is an auth error; the write, like any refused write, is ambiguous (looked up first)."""
    calls = 0

    def handler(request: httpx2.Request) -> httpx2.Response:
        nonlocal calls
        calls += 1
        return httpx2.Response(
            401,
            json={
                "code": "woocommerce_rest_authentication_missing_parameter",
                "message": "Missing OAuth parameter oauth_nonce",
                "data": {"status": 401},
            },
        )

    async with make_client(handler) as client:
        with pytest.raises(AmbiguousWriteError) as posted:
            await client.post("orders", json=ORDER)
        with pytest.raises(AuthError) as read:
            await client.get("products")
    assert calls == 2  # neither the POST nor the GET was resent: resending cannot help
    assert isinstance(posted.value.refusal, AuthError) and posted.value.keys_refused
    assert classify(read.value) is Outcome.AUTH


async def test_under_random_faults_a_plain_error_always_means_no_order(start_sandbox: Any) -> None:
    """The contract the outbox builds on, over a real socket with every kind of write fault:
    success -> exactly one order; a non-ambiguous error -> none; ambiguous -> at most one."""
    faults = ";".join(
        f"POST /orders:{kind}@p={p}"
        for kind, p in [
            ("reset", 0.12),
            ("commit_drop", 0.12),
            ("slow=2", 0.06),
            ("html=502", 0.08),
            ("status=503", 0.08),
            ("status=503,retry_after=5", 0.08),
            ("status=429,retry_after=1", 0.08),
            ("truncated", 0.06),
            ("malformed", 0.06),
        ]
    )
    srv = start_sandbox(faults=faults, seed=11)
    outcomes: dict[str, str] = {}
    async with WooClient(srv.url, srv.key, srv.secret, timeout=0.5) as client:
        for n in range(40):
            uuid = f"u-{n}"
            order = {**ORDER, "meta_data": [{"key": "_onetill_order_uuid", "value": uuid}]}
            try:
                await client.post("orders", json=order)
                outcomes[uuid] = "success"
            except AmbiguousWriteError:
                outcomes[uuid] = "ambiguous"
            except (TransportError, ResponseError) as exc:
                assert classify(exc) is not Outcome.AMBIGUOUS
                outcomes[uuid] = "refused"
    counts = {uuid: 0 for uuid in outcomes}
    for stored in srv.control.orders():
        for meta in stored.get("meta_data", []):
            if meta.get("key") == "_onetill_order_uuid" and meta.get("value") in counts:
                counts[meta["value"]] += 1
    for uuid, outcome in outcomes.items():
        expected = {"success": {1}, "refused": {0}, "ambiguous": {0, 1}}[outcome]
        assert counts[uuid] in expected, (uuid, outcome, counts[uuid])
    assert {"success", "refused", "ambiguous"} <= set(outcomes.values())
