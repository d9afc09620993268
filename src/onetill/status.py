"""What the till shows at a glance: online or not, last sync, queue, catalog, problems.

``collect_status(db)`` reads everything from the database, so it answers
the same with or without a running engine. The engine extends ``Status``
with live facts (connectivity probes, webhooks); without one, ``state`` is
only what the last sync recorded, and ``engine.status.read_status`` says so
(``unknown``, with the last contact with the store and when).

``queue_blocked`` is set whenever the oldest order not yet in the store has
been the oldest for longer than the poll interval: since when (store time,
as the drainer noted it; else the sale's time) and why (keys refused, a
lookup it waits for, the last error, no engine running).
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import msgspec

from onetill.store import Database
from onetill.store.catalog import count_items
from onetill.store.catalog_problems import count_problems, list_problems
from onetill.store.discrepancies import count_discrepancies
from onetill.store.orders import DUE_NOW, count_by_state, oldest_pending_at, parse_ts
from onetill.store.outbox import count_store_copies, queue_head
from onetill.store.sync_state import get_json, get_state

__all__ = ["STATES", "QueueBlocked", "Status", "collect_status"]

STATES = ("online", "offline", "degraded")
# Written by the outbox (sync.outbox_policy): why uploads are paused, the
# store's time of the last answer heard, and the store-minus-till clock.
PAUSE_KEY = "outbox.paused"
LAST_CONTACT_KEY = "store.last_contact_at"
SKEW_KEY = "store.clock_skew_s"


class QueueBlocked(msgspec.Struct, frozen=True):
    """The oldest order not in the store has made no progress for a while."""

    uuid: str
    since: str  # ISO UTC with Z
    reason: str


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
    queue_blocked: QueueBlocked | None = None
    duplicates: int = 0  # sales the store holds where it should not (twice, or voided)
    last_contact_at: str | None = None  # store time of the last answer heard (ISO, Z)
    # Items whose latest copy from the store could not be taken: not sold until fixed.
    catalog_problems: int = 0
    problem_items: list[str] = msgspec.field(default_factory=list)  # the newest few, described
    plugin_version: str | None = None  # the companion plugin's, when present


def _orders(conn: sqlite3.Connection, now: datetime) -> tuple[int, int, float | None]:
    counts = count_by_state(conn)
    pending = counts.get("pending_sync", 0) + counts.get("in_flight", 0)
    created = oldest_pending_at(conn)
    # Not clamped: a negative age says the sale was dated by a clock ahead of
    # this one (an RTC corrected since), and hiding it as 0 would hide a stuck
    # queue. Display only: no decision is made with the till's clock.
    oldest = None if created is None else (now - created).total_seconds()
    return pending, counts.get("failed", 0), oldest


def _latest(*texts: str | None) -> str | None:
    """The latest of some UTC times (naive or with Z), as ISO with Z."""
    times = [parse_ts(t if t.endswith("Z") else t + "Z") for t in texts if t]
    return max(times).isoformat().replace("+00:00", "Z") if times else None


def _blocked(
    conn: sqlite3.Connection,
    till_now: datetime,
    store_now: datetime,
    poll_interval_s: float,
    engine_running: bool,
) -> QueueBlocked | None:
    head = queue_head(conn)
    if head is None:
        return None
    order = head.order
    if head.since is not None:
        since, now = parse_ts(head.since), store_now
    else:  # no drain has seen it yet: it has waited since it was sold
        since, now = parse_ts(order.created_at), till_now
    if (now - since).total_seconds() <= poll_interval_s:
        return None
    due = None if order.next_attempt_at == DUE_NOW else parse_ts(order.next_attempt_at)
    when = f" at {due:%H:%M:%S} UTC (store time)" if due is not None else ""
    paused = get_state(conn, PAUSE_KEY)
    if paused:
        reason = paused
    elif order.state == "in_flight":
        reason = (
            "its upload may have reached the store; it is looked up by its UUID"
            f"{when or ' now'} before anything is sent again"
        )
        if order.last_error:
            reason += f" ({order.last_error})"
    elif order.last_error:
        reason = f"{order.last_error}; next attempt{when or ' now'}"
    elif not engine_running:
        reason = "no engine is running to upload it (`onetill run`, or `onetill drain` now)"
    else:
        reason = "it has not been sent yet"
    if not engine_running and not paused:
        reason += "; the engine is not running"
    return QueueBlocked(order.uuid, since.isoformat().replace("+00:00", "Z"), reason)


def collect_status(
    db: Database,
    *,
    store_now: datetime | None = None,
    poll_interval_s: float = 30.0,
    engine_running: bool = False,
) -> Status:
    """The status as recorded in the database.

    ``store_now``: the store's clock (the engine's client knows it); else the
    till's clock plus the difference last measured. It only dates
    ``queue_blocked``.
    """
    with db.lock:
        conn = db.conn
        till_now = datetime.now(UTC)
        if store_now is None:
            skew = get_state(conn, SKEW_KEY)
            store_now = till_now + timedelta(seconds=float(skew) if skew else 0.0)
        state = get_state(conn, "catalog.state") or "offline"
        if state not in STATES:
            state = "degraded"
        last_sync = get_state(conn, "catalog.last_sync_at")
        products, variations = count_items(conn)
        pending, failed, oldest = _orders(conn, till_now)
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
            queue_paused=get_state(conn, PAUSE_KEY) or None,
            initial_sync_done=get_state(conn, "catalog.cursor") is not None
            and get_state(conn, "initial.started_at") is None,
            queue_blocked=_blocked(conn, till_now, store_now, poll_interval_s, engine_running),
            duplicates=count_store_copies(conn),
            last_contact_at=_latest(last_sync, get_state(conn, LAST_CONTACT_KEY)),
            catalog_problems=count_problems(conn),
            problem_items=[p.describe() for p in list_problems(conn, limit=5)],
        )
