"""Retries, Retry-After, ambiguous writes and adaptive concurrency of WooClient."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx2
import pytest

from onetill.woo import Outcome, classify
from onetill.woo.errors import (
    AmbiguousWriteError,
    CertificateError,
    ResponseError,
    TransportError,
    WooAPIError,
)

pytestmark = pytest.mark.anyio

DATE = "Thu, 26 Nov 2026 15:39:29 GMT"


def _ok(body: Any = None) -> httpx2.Response:
    return httpx2.Response(200, json=[] if body is None else body)


async def test_get_is_retried_on_503_then_succeeds(make_client: Any, sleeps: Any) -> None:
    calls = 0

    def handler(request: httpx2.Request) -> httpx2.Response:
        nonlocal calls
        calls += 1
        return httpx2.Response(503, text="<h1>busy</h1>") if calls < 3 else _ok([{"id": 1}])

    async with make_client(handler) as client:
        response = await client.get("products")
    assert response.data == [{"id": 1}]
    assert calls == 3
    assert len(sleeps.delays) == 2


async def test_backoff_is_full_jitter_and_capped(make_client: Any, sleeps: Any) -> None:
    """Delays are uniform in [0, min(cap, base * 2**n)]: never above the cap."""

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(502, text="bad gateway")

    async with make_client(handler, max_attempts=8, backoff_base=1.0, backoff_cap=3.0) as c:
        with pytest.raises(ResponseError) as caught:
            await c.get("products")
    assert caught.value.status == 502
    assert len(sleeps.delays) == 7
    ceilings = [min(3.0, 1.0 * 2**n) for n in range(7)]
    assert all(0 <= d <= top for d, top in zip(sleeps.delays, ceilings, strict=True))


async def test_retry_after_seconds_is_honoured(make_client: Any, sleeps: Any) -> None:
    answers = [httpx2.Response(429, headers={"Retry-After": "7"}, text="slow down"), _ok()]

    async with make_client(lambda request: answers.pop(0)) as client:
        await client.get("products")
    assert sleeps.delays == [7.0]


async def test_retry_after_http_date_is_measured_against_the_servers_clock(
    make_client: Any, sleeps: Any
) -> None:
    """An HTTP-date Retry-After is relative to the server's Date, not the till's clock."""
    server_now = datetime(2026, 11, 26, 15, 39, 29, tzinfo=UTC)
    later = format_datetime(server_now + timedelta(seconds=12), usegmt=True)
    answers = [
        httpx2.Response(503, headers={"Retry-After": later, "Date": DATE}, text="maintenance"),
        _ok(),
    ]
    async with make_client(lambda request: answers.pop(0)) as client:
        await client.get("products")
    assert sleeps.delays == [pytest.approx(12.0)]


async def test_a_retry_after_beyond_the_limit_is_left_to_the_caller(
    make_client: Any, sleeps: Any
) -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(429, headers={"Retry-After": "3600"}, text="come back later")

    async with make_client(handler, max_retry_after=60) as client:
        with pytest.raises(ResponseError) as caught:
            await client.get("products")
    assert caught.value.retry_after == 3600
    assert sleeps.delays == []
    assert classify(caught.value) is Outcome.TRANSIENT


async def test_post_is_never_retried_on_503(make_client: Any, sleeps: Any) -> None:
    calls = 0

    def handler(request: httpx2.Request) -> httpx2.Response:
        nonlocal calls
        calls += 1
        return httpx2.Response(503, headers={"Retry-After": "1"}, text="busy")

    async with make_client(handler) as client:
        with pytest.raises(ResponseError) as caught:
            await client.post("orders", json={"status": "completed"})
    assert calls == 1
    assert sleeps.delays == []
    assert classify(caught.value) is Outcome.TRANSIENT


async def test_post_read_timeout_is_ambiguous_and_not_retried(make_client: Any) -> None:
    """A POST that timed out after sending may have created the order: AMBIGUOUS, sent once."""
    calls = 0

    def handler(request: httpx2.Request) -> httpx2.Response:
        nonlocal calls
        calls += 1
        raise httpx2.ReadTimeout("timed out", request=request)

    async with make_client(handler) as client:
        with pytest.raises(AmbiguousWriteError) as caught:
            await client.post("orders", json={"status": "completed"})
    assert calls == 1
    assert classify(caught.value) is Outcome.AMBIGUOUS


async def test_post_connection_reset_is_ambiguous(make_client: Any) -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.RemoteProtocolError("peer closed connection", request=request)

    async with make_client(handler) as client:
        with pytest.raises(AmbiguousWriteError):
            await client.post("orders", json={})


@pytest.mark.parametrize("status", [500, 502, 504])
async def test_post_answered_by_a_failing_proxy_is_ambiguous(make_client: Any, status: int) -> None:
    """A 502/504 (proxy) or 500 (PHP) may come after WooCommerce saved the order."""

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(status, text="<html><body>Bad Gateway</body></html>")

    async with make_client(handler) as client:
        with pytest.raises(AmbiguousWriteError) as caught:
            await client.post("orders", json={})
    assert caught.value.status == status


async def test_post_created_but_unreadable_is_ambiguous(make_client: Any) -> None:
    """201 with a body that is not JSON: the order exists but we cannot read it."""

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(201, text="<b>Fatal error</b>: Allowed memory size exhausted")

    async with make_client(handler) as client:
        with pytest.raises(AmbiguousWriteError):
            await client.post("orders", json={})


async def test_post_connect_error_is_transient_and_known_unsent(make_client: Any) -> None:
    calls = 0

    def handler(request: httpx2.Request) -> httpx2.Response:
        nonlocal calls
        calls += 1
        raise httpx2.ConnectError("connection refused", request=request)

    async with make_client(handler) as client:
        with pytest.raises(TransportError) as caught:
            await client.post("orders", json={})
    assert not isinstance(caught.value, AmbiguousWriteError)
    assert caught.value.sent is False
    assert calls == 1
    assert classify(caught.value) is Outcome.TRANSIENT
    assert "shop.test" in str(caught.value)


async def test_get_read_timeouts_are_retried_then_raised(make_client: Any) -> None:
    calls = 0

    def handler(request: httpx2.Request) -> httpx2.Response:
        nonlocal calls
        calls += 1
        raise httpx2.ReadTimeout("timed out", request=request)

    async with make_client(handler, max_attempts=3) as client:
        with pytest.raises(TransportError) as caught:
            await client.get("products")
    assert calls == 3
    assert caught.value.sent is True
    assert classify(caught.value) is Outcome.TRANSIENT


async def test_untrusted_certificate_is_permanent_with_a_hint(make_client: Any) -> None:
    """Told by the TLS error's type in the chain (as httpcore raises it), not its text."""
    import ssl

    def handler(request: httpx2.Request) -> httpx2.Response:
        try:
            raise ssl.SSLCertVerificationError(1, "verification failed")
        except ssl.SSLCertVerificationError as tls:
            raise httpx2.ConnectError("handshake failed", request=request) from tls

    async with make_client(handler, url="https://shop.test") as client:
        with pytest.raises(CertificateError) as caught:
            await client.get("products")
    assert "--ca-file" in str(caught.value)
    assert classify(caught.value) is Outcome.PERMANENT


async def test_a_self_signed_store_is_an_untrusted_certificate_over_real_tls(
    start_sandbox: Any, tls_cert: Any
) -> None:
    """A real handshake with a certificate nobody vouched for: CertificateError, permanent."""
    from onetill.woo import WooClient

    cert, key = tls_cert
    srv = start_sandbox(ssl_certfile=cert, ssl_keyfile=key)
    async with WooClient(srv.url, srv.key, srv.secret, max_attempts=1) as client:
        with pytest.raises(CertificateError) as caught:
            await client.get("products")
    assert classify(caught.value) is Outcome.PERMANENT


async def test_put_and_delete_are_retried_like_get(make_client: Any) -> None:
    seen: list[str] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request.method)
        if seen.count(request.method) == 1:
            return httpx2.Response(504, text="gateway timeout")
        return _ok({"id": 10})

    async with make_client(handler) as client:
        await client.put("products/10", json={"regular_price": "5.00"})
        await client.delete("products/10", {"force": True})
    assert seen == ["PUT", "PUT", "DELETE", "DELETE"]


async def test_a_400_is_not_retried(make_client: Any) -> None:
    calls = 0

    def handler(request: httpx2.Request) -> httpx2.Response:
        nonlocal calls
        calls += 1
        return httpx2.Response(
            400,
            json={
                "code": "rest_invalid_param",
                "message": "Invalid parameter(s): per_page",
                "data": {"status": 400, "params": {"per_page": "too big"}},
            },
        )

    async with make_client(handler) as client:
        with pytest.raises(WooAPIError) as caught:
            await client.get("products", {"per_page": 101})
    assert calls == 1
    assert caught.value.code == "rest_invalid_param"
    assert caught.value.data["params"] == {"per_page": "too big"}
    assert classify(caught.value) is Outcome.PERMANENT


# --- adaptive concurrency ------------------------------------------------------------


async def test_concurrency_halves_on_429_and_grows_back_slowly(make_client: Any) -> None:
    overloaded = True

    def handler(request: httpx2.Request) -> httpx2.Response:
        if overloaded:
            return httpx2.Response(429, text="too many")
        return _ok()

    async with make_client(handler, max_concurrency=8, max_attempts=1, grow_after=3) as client:
        assert client.concurrency == 8
        with pytest.raises(ResponseError):
            await client.get("products")
        assert client.concurrency == 4
        with pytest.raises(ResponseError):
            await client.get("products")
        assert client.concurrency == 2
        overloaded = False
        for _ in range(3):
            await client.get("products")
        assert client.concurrency == 3
        for _ in range(30):
            await client.get("products")
        assert client.concurrency == 8  # never above the maximum


async def test_one_burst_of_429s_halves_once(make_client: Any) -> None:
    """Requests that were already in flight when the limit dropped do not halve it again."""
    release = asyncio.Event()

    async def handler(request: httpx2.Request) -> httpx2.Response:
        await release.wait()
        return httpx2.Response(429, text="too many")

    async with make_client(handler, max_concurrency=4, max_attempts=1) as client:
        tasks = [asyncio.create_task(client.get("products")) for _ in range(4)]
        await asyncio.sleep(0.01)
        release.set()
        results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, ResponseError) for r in results)
    assert client.concurrency == 2


async def test_requests_in_flight_never_exceed_the_limit(make_client: Any) -> None:
    in_flight = 0
    peak = 0

    async def handler(request: httpx2.Request) -> httpx2.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.005)
        in_flight -= 1
        return _ok()

    async with make_client(handler, max_concurrency=3) as client:
        await asyncio.gather(*(client.get("products") for _ in range(20)))
    assert peak == 3


async def test_timeouts_reduce_concurrency(make_client: Any) -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ReadTimeout("slow", request=request)

    async with make_client(handler, max_concurrency=4, max_attempts=1) as client:
        with pytest.raises(TransportError):
            await client.get("products")
    assert client.concurrency == 2


async def test_a_cancelled_request_gives_its_slot_back(make_client: Any) -> None:
    started = asyncio.Event()

    async def handler(request: httpx2.Request) -> httpx2.Response:
        started.set()
        await asyncio.sleep(10)
        return _ok()

    async with make_client(handler, max_concurrency=1) as client:
        task = asyncio.create_task(client.get("products"))
        await started.wait()
        assert client.limiter.in_flight == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert client.limiter.in_flight == 0
        assert client.concurrency == 1
