"""The outbox when the network path dies under an upload (the till moved to another network).

Found by the chaos suite (tests/chaos): a sale recorded at the moment of a
path change reached the store two minutes late. The upload's fate is still
unknown when the kernel cuts a dead connection (its answer may be what was
lost), but the store was not slow, so the order is looked up at once, not
after the settle time; a resend still waits for the minimum resend age.
"""

from __future__ import annotations

import asyncio
import errno
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx2
import pytest

from onetill.sandbox.config import DEFAULT_KEY, DEFAULT_SECRET
from onetill.sync.outbox import drain
from onetill.woo import WooClient
from till_support import Rig, close_rig, make_rig, order_uuid, sell

pytestmark = pytest.mark.anyio


class PathDiesAfterSending(httpx2.AsyncBaseTransport):
    """The network: the store gets the first order POST, then the path dies (ETIMEDOUT)."""

    def __init__(self, store: httpx2.AsyncBaseTransport, *, path_dies: bool = True) -> None:
        self.store = store
        self.armed = True
        self.path_dies = path_dies

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self.store.handle_async_request(request)
        if request.method == "POST" and self.armed:
            self.armed = False
            await response.aread()
            if not self.path_dies:  # the store is slow: the read timeout fires
                raise httpx2.ReadTimeout("")
            # What the kernel's keepalive / TCP_USER_TIMEOUT abort looks like to httpx.
            raise httpx2.ReadError("") from TimeoutError(errno.ETIMEDOUT, "Connection timed out")
        return response


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    rig = make_rig(tmp_path)
    yield rig
    await close_rig(rig)


def _client(rig: Rig, network: httpx2.AsyncBaseTransport) -> WooClient:
    return WooClient(rig.client.url, DEFAULT_KEY, DEFAULT_SECRET, transport=network, timeout=5.0)


async def test_an_order_cut_off_by_a_dead_path_is_looked_up_at_once(rig: Rig) -> None:
    """Lookup due a second after a dead path (not the 30 s settle); found; in the store once."""
    client = _client(rig, PathDiesAfterSending(httpx2.ASGITransport(app=rig.app)))
    sale = sell(rig.db, "SIMPLE-001")
    first = await drain(client, rig.db, settle_s=30.0, min_resend_age_s=120.0)
    assert first.retry_later == [sale.uuid] and first.next_attempt_at is not None
    # Due times are the store's clock: the wait is what the drain says, in seconds.
    wait = first.retry_in_s
    assert wait is not None and wait <= 1.5, f"looked up only {wait} s later"
    await asyncio.sleep(wait + 0.2)
    second = await drain(client, rig.db, settle_s=30.0, min_resend_age_s=120.0)
    assert second.found_by_lookup == [sale.uuid] and second.requests == 0
    assert [order_uuid(o) for o in rig.store.list_orders()].count(sale.uuid) == 1
    await client.aclose()


async def test_a_slow_store_still_gets_the_settle_time(rig: Rig) -> None:
    """A read timeout (the store is slow; its kernel still answers) keeps the 30 s settle."""
    network = PathDiesAfterSending(httpx2.ASGITransport(app=rig.app), path_dies=False)
    client = _client(rig, network)
    sale = sell(rig.db, "SIMPLE-001")
    report = await drain(client, rig.db, settle_s=30.0, min_resend_age_s=120.0)
    assert report.retry_later == [sale.uuid] and report.next_attempt_at is not None
    assert (report.next_attempt_at - datetime.now(UTC)).total_seconds() > 25
    await client.aclose()
