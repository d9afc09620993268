"""Retry-After in every form hosts send it, the adaptive limit's bounds, the server's clock."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from onetill.woo.errors import ResponseError
from onetill.woo.limiter import AdaptiveLimiter

pytestmark = pytest.mark.anyio


def _busy_then_ok(retry_after: str, busy: int = 1) -> Any:
    answers = [
        *(
            httpx2.Response(503, headers={"Retry-After": retry_after.encode()}, text="busy")
            for _ in range(busy)
        ),
        httpx2.Response(200, json=[]),
    ]
    return lambda request: answers.pop(0)


@pytest.mark.parametrize("garbage", ["²", "-5", "soon", "1e3", "", "12 seconds", "Thu, 99 Foo"])
async def test_a_garbled_retry_after_falls_back_to_the_backoff(
    make_client: Any, sleeps: Any, garbage: str
) -> None:
    """Unusable values are ignored (the capped backoff applies), never an exception."""
    async with make_client(_busy_then_ok(garbage), backoff_base=1.0) as client:
        response = await client.get("products")
    assert response.status == 200
    assert len(sleeps.delays) == 1 and 0 <= sleeps.delays[0] <= 1.0


async def test_a_fractional_retry_after_is_honoured(make_client: Any, sleeps: Any) -> None:
    async with make_client(_busy_then_ok("1.5")) as client:
        await client.get("products")
    assert sleeps.delays == [1.5]


@pytest.mark.parametrize("zero", ["0", "date in the past"])
async def test_a_zero_retry_after_does_not_make_a_tight_loop(
    make_client: Any, sleeps: Any, zero: str
) -> None:
    """Retry-After is a minimum: "0" (or a past date) still waits the jittered backoff."""
    value = zero
    if zero == "date in the past":
        value = format_datetime(datetime.now(UTC) - timedelta(minutes=5), usegmt=True)
    async with make_client(_busy_then_ok(value, busy=3), backoff_base=1.0) as client:
        await client.get("products")
    assert len(sleeps.delays) == 3
    assert all(d > 0 for d in sleeps.delays)


async def test_retry_after_longer_than_the_backoff_wins(make_client: Any, sleeps: Any) -> None:
    async with make_client(_busy_then_ok("9", busy=2), backoff_base=0.1) as client:
        await client.get("products")
    assert sleeps.delays == [9.0, 9.0]


# --- the adaptive limit ---------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    maximum=st.integers(min_value=1, max_value=12),
    signals=st.lists(st.sampled_from(["ok", "overload", "neutral"]), max_size=80),
)
def test_the_limit_stays_between_one_and_the_maximum(maximum: int, signals: list[str]) -> None:
    async def run() -> None:
        limiter = AdaptiveLimiter(maximum, grow_after=2)
        for signal in signals:
            token = await limiter.acquire()
            assert limiter.in_flight <= limiter.limit <= maximum
            limiter.release(token, signal)
            assert 1 <= limiter.limit <= maximum
            assert limiter.in_flight == 0

    asyncio.run(run())


async def test_endless_429s_leave_one_request_in_flight_not_none(make_client: Any) -> None:
    """After a storm of 429s the limit is 1, and requests still go out (no deadlock)."""
    storm = True

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(429, text="slow down") if storm else httpx2.Response(200, json=[])

    async with make_client(handler, max_concurrency=8, max_attempts=1) as client:
        for _ in range(10):
            with pytest.raises(ResponseError):
                await client.get("products")
        assert client.concurrency == 1
        storm = False
        response = await asyncio.wait_for(client.get("products"), timeout=2)
    assert response.status == 200


def test_a_zero_concurrency_is_refused_with_the_reason() -> None:
    from onetill.woo import WooClient

    with pytest.raises(ValueError, match="max_concurrency must be at least 1"):
        WooClient("https://shop.test", "ck", "cs", max_concurrency=0)


# --- the server's clock ---------------------------------------------------------------


async def test_a_cached_answer_does_not_skew_the_signing_clock(make_client: Any) -> None:
    """A cache serves a 20-minute-old Date with Age: 1200; the server's clock is still ours."""
    old = format_datetime(datetime.now(UTC) - timedelta(seconds=1200), usegmt=True)
    stamps: list[int] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        stamps.append(int(request.url.params.get("oauth_timestamp", "0")))
        return httpx2.Response(200, json={"namespaces": []}, headers={"Date": old, "Age": "1200"})

    async with make_client(handler) as client:
        await client.get("products")
        await client.get("products")
    assert client.clock_skew_s == pytest.approx(0, abs=5)
    assert client.clock_offset_s == 0
    assert abs(stamps[1] - time.time()) < 5


@pytest.mark.parametrize("date", ["yesterday", "", "Thu, 99 Nov 2026 99:99:99 GMT"])
async def test_an_unreadable_date_header_leaves_the_clock_alone(
    make_client: Any, date: str
) -> None:
    async with make_client(lambda r: httpx2.Response(200, json=[], headers={"Date": date})) as c:
        response = await c.get("products")
    assert response.server_time is None
    assert c.clock_skew_s is None and c.clock_offset_s == 0


async def test_a_very_long_retry_budget_stays_capped(make_client: Any, sleeps: Any) -> None:
    """Hundreds of attempts: the exponential step is capped, never an overflow."""
    async with make_client(
        lambda r: httpx2.Response(503, text="down"), max_attempts=1200, backoff_cap=2.0
    ) as client:
        with pytest.raises(ResponseError):
            await client.get("products")
    assert len(sleeps.delays) == 1199
    assert max(sleeps.delays) <= 2.0


@given(
    attempt=st.integers(1, 2000),
    retry_after=st.none() | st.floats(0, 10**6),
    seed=st.integers(0, 2**32),
)
def test_one_backoff_rule_for_the_client_and_the_outbox(
    attempt: int, retry_after: float | None, seed: int
) -> None:
    """The client (between attempts of a request) and the outbox (between attempts of a
    sale) wait by the same rule, only with different numbers: full jitter under the capped
    doubling step, never below Retry-After, never beyond the outbox's longest wait."""
    import random

    from onetill.sync.outbox_policy import QUEUE_BACKOFF
    from onetill.woo import WooClient
    from onetill.woo.backoff import Backoff

    client = WooClient("https://shop.test", "ck", "cs", backoff_base=0.5, backoff_cap=30.0)
    assert isinstance(client.backoff, Backoff) and isinstance(QUEUE_BACKOFF, Backoff)
    for rule in (client.backoff, QUEUE_BACKOFF):
        step = min(rule.cap, rule.base * 2.0 ** min(attempt - 1, 60))
        wait = rule.delay(attempt, random.Random(seed), retry_after)
        floor = retry_after or 0.0
        top = max(step, floor)
        if rule.longest is not None:
            floor, top = min(floor, rule.longest), min(top, rule.longest)
        assert floor <= wait <= top
