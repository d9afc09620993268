"""The status as the till screen's status bar shows it.

The engine's status model (``onetill.status``), plus what the bar needs:
how long ago the last good sync was (by the store's clock, corrected for
this machine's skew, so a till whose clock is off still says "12 s ago"),
how many orders need attention, and the demo store's state.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from onetill.web.context import Till

__all__ = ["augment"]


def augment(status: dict[str, Any], till: Till, counts: dict[str, int]) -> dict[str, Any]:
    data = dict(status)
    ago: float | None = None
    last = status.get("last_sync_at")
    if isinstance(last, str) and last:
        try:
            then = datetime.fromisoformat(last.replace("Z", "+00:00"))
        except ValueError:
            then = None
        if then is not None:
            if then.tzinfo is None:
                then = then.replace(tzinfo=UTC)
            store_now = datetime.now(UTC) + timedelta(seconds=till.backend.clock_skew_s)
            ago = max(0.0, (store_now - then).total_seconds())
    data["synced_ago_s"] = ago
    data["attention_orders"] = counts.get("failed", 0) + counts.get("synced_with_discrepancy", 0)
    demo = till.backend.demo
    data["demo_store_online"] = demo.store_online if demo is not None else None
    return data
