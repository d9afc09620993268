"""The outbox under steps of the till's clock: every wait and age is measured with the
store's clock (its Date, advanced by a monotonic clock), so an RTC kept in local time and
corrected by NTP, in either direction, neither stalls the queue nor ends a wait early."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest

from onetill.store.orders import get_order
from onetill.sync.outbox import drain
from till_support import Rig, close_rig, make_rig, order_uuid, sell

pytestmark = pytest.mark.anyio

DAY = 86400.0


def _copies(rig: Rig, uuid: str) -> int:
    return sum(1 for o in rig.store.list_orders() if order_uuid(o) == uuid)


def _till(offset_s: float) -> Any:
    """A till clock ``offset_s`` off the true time."""
    return lambda: datetime.now(UTC) + timedelta(seconds=offset_s)


async def test_an_upload_sent_with_the_till_clock_ahead_is_found_after_the_correction(
    tmp_path: Path,
) -> None:
    """Sold and sent while the till's clock ran a day ahead, answer lost: once the clock is
    corrected, the lookup finds the order (no second copy) at once, and nothing waits a day."""
    rig = make_rig(tmp_path, home_url="https://sandbox.test")
    try:
        ahead = _till(DAY)
        sale = sell(rig.db, "SIMPLE-001", now=ahead())
        behind = sell(rig.db, "SIMPLE-002", now=ahead())
        rig.faults.add("POST /orders*:commit_drop@nth=1")
        first = await drain(rig.client, rig.db, batch_size=1, settle_s=5, clock=ahead)
        assert first.retry_later == [sale.uuid]
        rig.advance(6)  # the settle time passes; NTP corrects the till's clock meanwhile
        second = await drain(rig.client, rig.db, batch_size=1, settle_s=5, clock=_till(0))
        assert second.found_by_lookup == [sale.uuid]
        assert get_order(rig.db.conn, behind.uuid).state == "synced"  # the queue moved on
        assert _copies(rig, sale.uuid) == 1
    finally:
        await close_rig(rig)


class _HeldFirstPost(httpx2.AsyncBaseTransport):
    """An overloaded host: the first order POST times out for the till but sits in PHP's
    queue, and is committed only when :meth:`commit` says."""

    def __init__(self, rig: Rig) -> None:
        self.inner = httpx2.ASGITransport(app=rig.app)
        self.held: httpx2.Request | None = None
        self.posts = 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.method == "POST" and request.url.path.endswith("/orders"):
            self.posts += 1
            if self.posts == 1:
                await request.aread()
                self.held = request
                raise httpx2.ReadTimeout("the proxy gave up waiting", request=request)
        return await self.inner.handle_async_request(request)

    async def commit(self) -> None:
        assert self.held is not None
        await (await self.inner.handle_async_request(self.held)).aread()


async def test_a_forward_jump_of_the_till_clock_does_not_end_the_minimum_age_early(
    tmp_path: Path,
) -> None:
    """A lost upload is looked up and not found yet; NTP then moves the till's clock a day
    forward. The next drain must not take the send for a day old and resend it: the host
    commits the first request a minute later, and the store holds the sale once."""
    rig = make_rig(tmp_path, home_url="https://sandbox.test")
    try:
        sale = sell(rig.db, "SIMPLE-001")
        edge = _HeldFirstPost(rig)
        async with rig.client_for(edge) as client:
            first = await drain(client, rig.db, settle_s=0, min_resend_age_s=120, clock=_till(0))
            assert first.looked_up == 1 and first.found_by_lookup == []
            jumped = await drain(client, rig.db, settle_s=0, min_resend_age_s=120,
                                 clock=_till(DAY))  # fmt: skip
            assert jumped.requests == 0 and edge.posts == 1, "resent before the minimum age"
            rig.advance(60)
            await edge.commit()  # within the minimum age of the send
            rig.advance(61)
            last = await drain(client, rig.db, settle_s=0, min_resend_age_s=120,
                               clock=_till(DAY))  # fmt: skip
        assert last.found_by_lookup == [sale.uuid]
        assert _copies(rig, sale.uuid) == 1 and edge.posts == 1
    finally:
        await close_rig(rig)


async def test_a_backoff_set_while_the_till_clock_ran_ahead_does_not_hold_the_queue(
    tmp_path: Path,
) -> None:
    """A 503 with Retry-After 10 answered while the till's clock was half an hour ahead:
    after the clock is corrected the sale goes 10 s later (store time), not 30 minutes."""
    rig = make_rig(tmp_path, home_url="https://sandbox.test")
    try:
        sale = sell(rig.db, "SIMPLE-001", now=_till(1800)())
        rig.faults.add("POST /orders*:status=503,retry_after=10@nth=1")
        first = await drain(rig.client, rig.db, clock=_till(1800))
        assert first.retry_later == [sale.uuid] and first.retry_in_s is not None
        assert 9 <= first.retry_in_s <= 11
        rig.advance(11)
        again = await drain(rig.client, rig.db, clock=_till(0))
        assert again.synced == [sale.uuid]
    finally:
        await close_rig(rig)


@pytest.mark.parametrize("state", ["pending_sync", "in_flight"])
async def test_a_due_time_beyond_any_wait_the_outbox_sets_counts_as_due(
    tmp_path: Path, state: str
) -> None:
    """A row whose next attempt is three days ahead (written under a clock corrected since)
    does not hold the queue: nothing the outbox schedules waits that long, so it is due."""
    from onetill.store.outbox import mark_in_flight, mark_pending

    rig = make_rig(tmp_path, home_url="https://sandbox.test")
    try:
        sale = sell(rig.db, "SIMPLE-001")
        far = datetime.now(UTC) + timedelta(days=3)
        with rig.db.write() as conn:
            if state == "in_flight":
                mark_in_flight(conn, [sale.uuid], far, None, lookup_after=far)
            else:
                mark_pending(conn, sale.uuid, far, "HTTP 503")
        report = await drain(rig.client, rig.db, settle_s=0, min_resend_age_s=0)
        assert report.synced == [sale.uuid]
        assert _copies(rig, sale.uuid) == 1
    finally:
        await close_rig(rig)


def test_the_age_of_a_sale_dated_by_a_clock_ahead_is_not_hidden(tmp_path: Path) -> None:
    """A sale dated two hours ahead (the RTC was corrected since): the status does not clamp
    its age to 0, which would make a stuck queue look fresh; it shows the negative age and
    `onetill status` says the clock was changed."""
    from click.testing import CliRunner

    from onetill.cli import cli
    from onetill.config import Config, save_config
    from onetill.status import collect_status
    from till_support import seeded_db

    save_config(tmp_path, Config(url="http://127.0.0.1:9", key="ck_x", secret="cs_x"))
    db = seeded_db(tmp_path / "onetill.db")
    try:
        sell(db, "SIMPLE-001", now=_till(7200)())
        status = collect_status(db)
    finally:
        db.close()
    assert status.oldest_pending_age_s is not None and status.oldest_pending_age_s < -7000
    shown = CliRunner().invoke(cli, ["status", "--home", str(tmp_path)])
    assert "ahead of this till's clock" in shown.output, shown.output
