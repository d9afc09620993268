"""What the till shows at a glance: online or not, last sync, queue, catalog, problems.

``collect_status(db)`` reads everything from the database, so it answers
the same with or without a running engine. The engine extends ``Status``
with live facts (connectivity probes, webhooks).
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import msgspec

from onetill.store import Database
from onetill.store.catalog import count_items
from onetill.store.discrepancies import count_discrepancies
from onetill.store.orders import count_by_state, oldest_pending_at
from onetill.store.sync_state import get_json, get_state

__all__ = ["STATES", "Status", "collect_status"]

STATES = ("online", "offline", "degraded")


class ProgressState(msgspec.Struct, frozen=True):
    """The last known progress of one resource of a catalog pull."""

    resource: str
    done: int
    total: int | None = None
    finished: bool = False


class Status(msgspec.Struct):
    """The till's status (``onetill status --json`` prints exactly this)."""

    state: str  # online | offline | degraded
    last_sync_at: str | None  # server time (UTC) of the last good sync
    products: int
    variations: int
    pending_orders: int
    failed_orders: int
    oldest_pending_age_s: float | None
    discrepancies: int
    plugin: bool
    progress: list[ProgressState] = msgspec.field(default_factory=list)
    last_error: str | None = None
    initial_sync_done: bool = False
    queue_paused: str | None = None  # why uploads are paused (keys rejected), else None
    plugin_version: str | None = None  # the companion plugin's, when present


def _orders(conn: sqlite3.Connection) -> tuple[int, int, float | None]:
    counts = count_by_state(conn)
    pending = counts.get("pending_sync", 0) + counts.get("in_flight", 0)
    created = oldest_pending_at(conn)
    # An age for display: the till's clock is fine here, never for cursors.
    oldest = None if created is None else max(0.0, (datetime.now(UTC) - created).total_seconds())
    return pending, counts.get("failed", 0), oldest


def collect_status(db: Database) -> Status:
    """The status as recorded in the database."""
    with db.lock:
        conn = db.conn
        state = get_state(conn, "catalog.state") or "offline"
        if state not in STATES:
            state = "degraded"
        last_sync = get_state(conn, "catalog.last_sync_at")
        products, variations = count_items(conn)
        pending, failed, oldest = _orders(conn)
        progress = [msgspec.convert(p, ProgressState) for p in get_json(conn, "progress", []) or []]
        error = get_state(conn, "catalog.last_error") or None
        return Status(
            state=state,
            last_sync_at=(last_sync + "Z") if last_sync else None,
            products=products,
            variations=variations,
            pending_orders=pending,
            failed_orders=failed,
            oldest_pending_age_s=oldest,
            discrepancies=count_discrepancies(conn),
            plugin=get_state(conn, "store.plugin") == "1",
            plugin_version=get_state(conn, "store.plugin_version") or None,
            progress=progress,
            last_error=error,
            # Written by the outbox (sync.outbox_policy.PAUSE_KEY) when the store refused the keys.
            queue_paused=get_state(conn, "outbox.paused") or None,
            initial_sync_done=get_state(conn, "catalog.cursor") is not None
            and get_state(conn, "initial.started_at") is None,
        )
