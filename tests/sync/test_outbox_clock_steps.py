"""The outbox under steps of the till's clock: every wait and age is measured with the
store's clock (its Date, advanced by a monotonic clock), so an RTC kept in local time and
corrected by NTP, in either direction, neither stalls the queue nor ends a wait early."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

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
