"""The delta sync (every 30 s by default), and what all catalog syncs share.

WooCommerce facts this depends on (WOOCOMMERCE.md):

* ``modified_after`` is strict (``>``) at one-second resolution, and with
  ``dates_are_gmt=true`` must be sent as naive UTC. A poll reads from
  ``cursor - overlap``; the cursor is a store time at or before the moment
  the previous poll's requests reached the store, and the overlap covers the
  boundary second and a slow save's stamp-to-commit lag (``poll_window``).
  Re-reads are harmless: upserts are keyed by id and guarded by
  ``date_modified_gmt``.
* The cursor is the server's ``Date`` of the poll's first answers (minus how
  long they took), never the till's clock; it only moves when the whole poll
  was applied. Without any ``Date`` (a proxy stripped it) it falls back to
  the newest ``date_modified_gmt`` seen, minus how long the read took. A
  ``Date`` older than the cursor means the store's clock went back: the poll
  reads again from ``setback_reread_s`` before it.
* Default ``status=any`` excludes trash: where the store understands
  ``include_status`` (9.6+) one query lists every status, trash included;
  elsewhere trash is a second query (``poll_shape``). Force-deleted products
  appear nowhere, hence the ID audit (``sync/audit.py``, hourly or
  ``onetill sync --audit``).
* A scheduled product goes live without a new ``date_modified`` (cron's
  ``wp_publish_post()`` sets the status alone): local ``future`` products
  past their publish time (``date_created_gmt``) are read again by id.
* A changed variation bumps its parent: a changed variable parent is the
  signal to read ``/variations?modified_after=`` (or the parent's list).
* An online order's stock drop bumps the product on WooCommerce 11, but
  older versions had bugs (#17841, #40060): the orders window (items of orders
  modified since the cursor get their stock read back) is read on every poll
  until this store has shown the bump, then every 10 minutes (``sale_signal``).
* Tax rates have no modified date and no webhook: the first page of
  ``/taxes`` is read every poll (``sync/tax_rates.py``).

An idle poll is two requests (products, taxes) on WooCommerce 9.6+ once sales
are known to bump their products, three before that, four on older versions.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import msgspec

from onetill.store import Database
from onetill.store.catalog import apply_items, scheduled_ids
from onetill.store.sync_state import get_state, set_state
from onetill.sync import poll_shape, sale_signal
from onetill.sync.poll_shape import read_poll, read_products
from onetill.sync.poll_window import (
    DEFAULT_OVERLAP_S,
    SNAPSHOT,
    format_window,
    previous_date,
    snapshot_cursor,
    window_start,
)
from onetill.sync.stock import order_item_ids, refresh_stock
from onetill.sync.tax_rates import TAXES_PARAMS, apply_tax_rates
from onetill.woo import Page, WooClient, format_gmt_cursor, parse_gmt
from onetill.woo.errors import NoRouteError, TransportError, WooError
from onetill.woo.store_clock import StoreClock

__all__ = [
    "CURSOR",
    "DEFAULT_OVERLAP_S",
    "LAST_SYNC_AT",
    "SETBACK_REREAD_S",
    "NotInitializedError",
    "SyncReport",
    "dateless_cursor",
    "delta_sync",
    "earliest",
    "guarded",
    "newest_modified",
    "pages_of",
    "record_success",
    "shifted",
]

log = logging.getLogger("onetill.sync")

CURSOR = "catalog.cursor"
LAST_SYNC_AT = "catalog.last_sync_at"
STATE = "catalog.state"
LAST_ERROR = "catalog.last_error"
SETBACK_REREAD_S = 3600.0
SETBACK_TOLERANCE_S = 1.0
LAST_DATE = "catalog.last_date"  # the latest Date of the last poll's first answers
MAX_REREADS = 2
DELTA_CAUSE = "delta sync"
ORDER_CAUSE = "online order (stock read back)"


class NotInitializedError(WooError):
    """A delta sync was asked for before any initial sync finished."""


class SyncReport(msgspec.Struct):
    """What one sync run did."""

    kind: str
    applied: int = 0
    skipped: int = 0
    removed: int = 0
    stock_refreshed: int = 0
    requests: int = 0
    cursor: str | None = None


def record_success(conn: sqlite3.Connection) -> None:
    set_state(conn, STATE, "online")
    set_state(conn, LAST_ERROR, "")


@asynccontextmanager
async def guarded(db: Database) -> AsyncIterator[None]:
    """Record a failed sync as offline/degraded and re-raise its first real error.

    TaskGroups wrap errors in ``ExceptionGroup``; callers want the client's
    ``WooError`` (it carries the clear message), so the group is unwrapped.
    """
    try:
        yield
    except BaseException as exc:
        err = _first(exc)
        if isinstance(err, Exception):
            state = "offline" if isinstance(err, TransportError) else "degraded"
            with db.write() as conn:
                set_state(conn, STATE, state)
                set_state(conn, LAST_ERROR, str(err)[:500])
        if err is not exc:
            raise err from exc
        raise


def _first(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        # Prefer a real error over the cancellations it caused.
        real = [e for e in exc.exceptions if not isinstance(e, asyncio.CancelledError)]
        exc = (real or list(exc.exceptions))[0]
    return exc


async def pages_of(client: WooClient, path: str, params: dict[str, Any], **kw: Any) -> list[Page]:
    return [page async for page in client.paginate(path, params, per_page=100, **kw)]


def shifted(listing: list[Page], trashed: list[Page], known: set[int]) -> bool:
    """True when items may have slid between the pages of ``listing`` while it was read.

    Pages are ordered by id: an item that leaves the listing after page k
    was read (trashed, force-deleted) moves every later item one place
    forward, so the first item of page k+1 lands on page k, already read.
    A single page cannot lose anything, and items *entering* the listing
    only push later items back (read twice, harmlessly). Signs of an item
    leaving: a later page counts fewer items (``X-WP-Total``) than the first,
    or an item was trashed (``date_modified_gmt``) at or after the second the
    first page was answered (ids in ``known`` were already counted by an
    earlier read; the new ones are added to it). The first page is always
    read before the others.
    """
    fresh = {
        o["id"]
        for page in trashed
        for o in page.items
        if isinstance(o, dict) and type(o.get("id")) is int and o["id"] not in known
    }
    known |= fresh
    if len(listing) < 2:
        return False
    if any(page.total < listing[0].total for page in listing[1:]):
        return True
    started = listing[0].server_time
    if started is None:
        return False  # no Date header: the totals are all there is to go on
    since = format_gmt_cursor(started - timedelta(seconds=1))
    return any(
        o["id"] in fresh and str(o.get("date_modified_gmt") or "") >= since
        for page in trashed
        for o in page.items
        if isinstance(o, dict) and type(o.get("id")) is int
    )


def newest_modified(pages: list[Page]) -> str | None:
    """The newest ``date_modified_gmt`` on ``pages`` (naive UTC text), if any."""
    dates = [
        o["date_modified_gmt"]
        for page in pages
        for o in page.items
        if isinstance(o, dict) and isinstance(o.get("date_modified_gmt"), str)
    ]
    return max(dates) if dates else None


def dateless_cursor(newest: str | None, started: float) -> datetime | None:
    """A cursor for answers without a ``Date`` header (a proxy stripped it).

    The newest ``date_modified_gmt`` seen is the store's clock at some moment
    of the read, at most the read's duration (the till's monotonic clock,
    used only as a duration) after it began: the difference is a time at or
    before the read began, as a cursor must be.
    """
    if newest is None:
        return None
    try:
        seen = parse_gmt(newest)
    except ValueError:
        return None
    return seen - timedelta(seconds=time.monotonic() - started)


def earliest(times: list[datetime | None]) -> datetime | None:
    known = [t for t in times if t is not None]
    return min(known) if known else None


async def delta_sync(
    client: WooClient,
    db: Database,
    *,
    overlap_s: float = DEFAULT_OVERLAP_S,
    global_variations: bool = True,
    barcode_meta_key: str | None = None,
    fold_trash: bool | None = None,
    setback_reread_s: float = SETBACK_REREAD_S,
) -> SyncReport:
    """One poll: changed, trashed and sold items since the cursor; then move the cursor.

    ``overlap_s``: seconds re-read before the cursor (``poll_window``);
    ``fold_trash``: list trash with the rest in one query (None: when the store
    can, ``poll_shape``); ``setback_reread_s``: how far back to read when the
    store's clock went back since the last poll.
    """
    with db.lock:
        cursor = get_state(db.conn, CURSOR)
        snapshot = get_state(db.conn, SNAPSHOT)
        last_date = get_state(db.conn, LAST_DATE)
    if cursor is None:
        raise NotInitializedError(
            "the catalog has never been pulled",
            hint="run `onetill sync` for the initial sync first",
        )
    last = parse_gmt(cursor)
    start = window_start(cursor, snapshot, overlap_s)
    report = SyncReport(kind="delta")
    began = time.monotonic()
    async with guarded(db):
        folded = fold_trash if fold_trash is not None else await poll_shape.fold_trash(
            client, db, last
        )
        with db.lock:
            orders_from = sale_signal.orders_since(db.conn, start, last, overlap_s)
            signal_proven = sale_signal.proven(db.conn)
        (changed, trashed, orders, firsts), taxes = await asyncio.gather(
            read_poll(client, start, folded, orders_from), client.get("taxes", TAXES_PARAMS)
        )
        report.requests = len(changed) + len(trashed) + len(orders) + 1
        apply_tax_rates(db, taxes, DELTA_CAUSE)
        clock = StoreClock()
        clock.observe_pages(changed + trashed + orders)
        poll_time = snapshot_cursor(firsts)
        dated = earliest([first for first, _ in firsts])
        before = previous_date(last_date, cursor, snapshot)
        if (
            poll_time is not None
            and dated is not None
            and before is not None
            and dated < before - timedelta(seconds=SETBACK_TOLERANCE_S)
        ):
            # The store's clock went back (every answer of this poll was sent after
            # the last poll's): what was saved since the jump carries stamps older
            # than the cursor. Read again from well before it. (A second of slack:
            # web servers behind one address may disagree by a fraction of one, and
            # a set-back that small is inside the overlap.)
            log.warning(
                "the store's clock is %.0f s behind the last poll's: reading changes since %s",
                (before - dated).total_seconds(), format_gmt_cursor(poll_time),
            )  # fmt: skip
            start = min(start, poll_time - timedelta(seconds=setback_reread_s + overlap_s))
            orders_from = start if orders_from is not None else None
            changed, trashed, orders, _ = await read_poll(client, start, folded, orders_from)
            clock.observe_pages(changed + trashed + orders)
            report.requests += len(changed) + len(trashed) + len(orders)
        window = format_window(start)
        if poll_time is None:
            # No Date header at all: never later than the old cursor's successor.
            fallback = dateless_cursor(newest_modified(changed + trashed), began)
            poll_time = max(last, fallback) if fallback is not None else None
        passes = [changed + trashed]
        rereads = 0
        known: set[int] = set()
        while shifted(changed, trashed, known):
            if rereads == MAX_REREADS:
                # Still moving: keep the old cursor so the next poll reads it all again.
                log.warning("the product listing kept changing while paged; re-read next poll")
                poll_time = None
                break
            rereads += 1
            changed, trashed, _ = await read_products(client, window, folded)
            clock.observe_pages(changed + trashed)
            report.requests += len(changed) + len(trashed)
            passes.append(changed + trashed)
        seen: set[int] = set()
        parents: list[int] = []
        for page in (p for pages in passes for p in pages):
            with db.write() as conn:
                result = apply_items(
                    conn, page.items, kind="product", cause=DELTA_CAUSE,
                    barcode_meta_key=barcode_meta_key, trusted_until=clock.trusted_until(),
                )  # fmt: skip
            report.applied += result.applied
            report.skipped += len(result.skipped)
            seen.update(result.ids)
            parents += result.variable_parents
        if parents:
            asked, settled = await _variations_of(
                client, db, sorted(set(parents)), window, global_variations, barcode_meta_key,
                report, seen, clock,
            )  # fmt: skip
            report.requests += asked
            if not settled:
                log.warning("the variation listing kept changing while paged; re-read next poll")
                poll_time = None
        report.requests += await _scheduled_due(
            client, db, poll_time or last, barcode_meta_key, report, seen, clock
        )
        sold_in = [o for page in orders for o in page.items if isinstance(o, dict)]
        verdict = None
        if orders_from is not None:
            with db.lock:
                verdict = sale_signal.judge(db.conn, sold_in, poll_time)
        # Until this store has shown that sales stamp their products, every item an
        # order in the window sold is read back unless the listing just brought it.
        stale = set() if verdict is None else set(verdict.stale)
        if not signal_proven:
            stale |= {iid for order in sold_in for iid in order_item_ids(order)} - seen
        if stale:
            refreshed = await refresh_stock(
                client, db, stale, ORDER_CAUSE, global_variations=global_variations
            )
            report.stock_refreshed = len(refreshed)
        with db.write() as conn:
            if verdict is not None:
                sale_signal.record(conn, verdict, poll_time)
            if poll_time is not None:
                report.cursor = format_gmt_cursor(poll_time)
                set_state(conn, CURSOR, report.cursor)
                set_state(conn, SNAPSHOT, report.cursor)
                set_state(conn, LAST_SYNC_AT, format_gmt_cursor(dated or poll_time))
                latest = max((first for first, _ in firsts if first is not None), default=None)
                if latest is not None:
                    set_state(conn, LAST_DATE, format_gmt_cursor(latest))
            record_success(conn)
    return report


async def _scheduled_due(
    client: WooClient,
    db: Database,
    now: datetime,
    meta_key: str | None,
    report: SyncReport,
    seen: set[int],
    clock: StoreClock,
) -> int:
    """Re-read scheduled ("future") products whose publish time has come; returns requests.

    WordPress publishes them from cron with ``wp_publish_post()``, which
    changes the status alone: ``date_modified`` stays, so no
    ``modified_after`` query ever shows the product going live.
    """
    with db.write() as conn:
        due = [i for i in scheduled_ids(conn, format_gmt_cursor(now)) if i not in seen]
    for start in range(0, len(due), 100):
        chunk = due[start : start + 100]
        response = await client.get(
            "products", {"include": ",".join(map(str, chunk)), "per_page": 100}
        )
        items = response.data if isinstance(response.data, list) else []
        clock.observe(response.server_time)
        with db.write() as conn:
            result = apply_items(
                conn, items, kind="product", cause=DELTA_CAUSE, barcode_meta_key=meta_key,
                trusted_until=clock.trusted_until(),
            )  # fmt: skip
        report.applied += result.applied
        report.skipped += len(result.skipped)
        seen.update(result.ids)
    return (len(due) + 99) // 100


async def _variations_of(
    client: WooClient,
    db: Database,
    parents: list[int],
    window: dict[str, str],
    global_variations: bool,
    meta_key: str | None,
    report: SyncReport,
    seen: set[int],
    clock: StoreClock,
) -> tuple[int, bool]:
    """Re-read the variations of changed variable parents (``window``: the
    products query's ``modified_after`` window).

    Returns the requests made, and False when the listing kept shrinking
    while it was paged (the cursor must then stay where it is).
    """
    pages: list[tuple[Page, int | None]] = []
    rereads = 0
    settled = True
    if global_variations:
        try:
            listing = await pages_of(client, "variations", window)
            pages = [(p, None) for p in listing]
            # Variations are deleted for good (they have no trash): one deleted
            # while this listing is paged slides the next one onto a read page.
            known: set[int] = set()
            while shifted(listing, [], known):
                if rereads == MAX_REREADS:
                    settled = False
                    break
                rereads += 1
                listing = await pages_of(client, "variations", window)
                pages += [(p, None) for p in listing]
        except NoRouteError:
            global_variations = False
    if not global_variations:
        gate = asyncio.Semaphore(4)

        async def one(parent: int) -> list[tuple[Page, int | None]]:
            async with gate:
                return [
                    (p, parent) for p in await pages_of(client, f"products/{parent}/variations", {})
                ]

        for found in await asyncio.gather(*(one(p) for p in parents)):
            pages += found
    clock.observe_pages(page for page, _ in pages)
    for page, parent in pages:
        with db.write() as conn:
            result = apply_items(
                conn, page.items, kind="variation", cause=DELTA_CAUSE, barcode_meta_key=meta_key,
                parent_id=parent, trusted_until=clock.trusted_until(),
            )  # fmt: skip
        report.applied += result.applied
        report.skipped += len(result.skipped)
        seen.update(result.ids)
    return len(pages), settled
