"""The delta sync (every 30 s by default), and what all catalog syncs share.

WooCommerce facts this depends on (WOOCOMMERCE.md):

* ``modified_after`` is strict (``>``) at one-second resolution, and with
  ``dates_are_gmt=true`` must be sent as naive UTC. We send ``cursor -
  overlap``: the boundary second is re-read, and so is anything saved while
  the previous poll's query ran (its ``Date`` can be later than the
  snapshot). Re-reads are harmless: upserts are keyed by id and guarded by
  ``date_modified_gmt``.
* The cursor is the server's ``Date`` of the poll's first answers, never the
  till's clock; it only moves when the whole poll was applied. Without any
  ``Date`` (a proxy stripped it) it falls back to the newest
  ``date_modified_gmt`` seen, minus how long the read took.
* Default ``status=any`` excludes trash: trashed products come from a second
  query with ``status=trash``. Force-deleted ones appear nowhere, hence the
  ID audit (``sync/audit.py``, hourly or ``onetill sync --audit``).
* A scheduled product goes live without a new ``date_modified`` (cron's
  ``wp_publish_post()`` sets the status alone): local ``future`` products
  past their publish time (``date_created_gmt``) are read again by id.
* A changed variation bumps its parent: a changed variable parent is the
  signal to read ``/variations?modified_after=`` (or the parent's list).
* An online order's stock drop bumps the product on WooCommerce 11, but
  older versions had bugs (#17841, #40060): items of orders modified since
  the cursor get their stock read back, at the cost of one request per poll.
* Tax rates have no modified date and no webhook: the first page of
  ``/taxes`` is read every poll (``sync/tax_rates.py``).

An idle poll is four requests: products, trashed products, orders, taxes.
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
from onetill.sync.stock import order_item_ids, refresh_stock
from onetill.sync.tax_rates import TAXES_PARAMS, apply_tax_rates
from onetill.woo import Page, WooClient, format_gmt_cursor, parse_gmt
from onetill.woo.errors import NoRouteError, TransportError, WooError

__all__ = [
    "CURSOR",
    "DEFAULT_OVERLAP_S",
    "LAST_SYNC_AT",
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
DEFAULT_OVERLAP_S = 60.0
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
) -> SyncReport:
    """One poll: changed, trashed and sold items since the cursor; then move the cursor."""
    with db.lock:
        cursor = get_state(db.conn, CURSOR)
    if cursor is None:
        raise NotInitializedError(
            "the catalog has never been pulled",
            hint="run `onetill sync` for the initial sync first",
        )
    since = format_gmt_cursor(parse_gmt(cursor) - timedelta(seconds=overlap_s))
    window = {"modified_after": since, "dates_are_gmt": "true", "orderby": "id", "order": "asc"}
    report = SyncReport(kind="delta")
    began = time.monotonic()
    async with guarded(db):
        changed, trashed, orders, taxes = await asyncio.gather(
            pages_of(client, "products", window),
            pages_of(client, "products", {**window, "status": "trash"}),
            pages_of(client, "orders", window, fields=["id", "line_items"]),
            client.get("taxes", TAXES_PARAMS),
        )
        report.requests = len(changed) + len(trashed) + len(orders) + 1
        apply_tax_rates(db, taxes, DELTA_CAUSE)
        poll_time = earliest([p.server_time for p in (changed[:1] + trashed[:1] + orders[:1])])
        if poll_time is None:
            # No Date header at all: never later than the old cursor's successor.
            fallback = dateless_cursor(newest_modified(changed + trashed), began)
            old = parse_gmt(cursor)
            poll_time = max(old, fallback) if fallback is not None else None
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
            changed, trashed = await asyncio.gather(
                pages_of(client, "products", window),
                pages_of(client, "products", {**window, "status": "trash"}),
            )
            report.requests += len(changed) + len(trashed)
            passes.append(changed + trashed)
        seen: set[int] = set()
        parents: list[int] = []
        for page in (p for pages in passes for p in pages):
            with db.write() as conn:
                result = apply_items(
                    conn, page.items, kind="product", cause=DELTA_CAUSE,
                    barcode_meta_key=barcode_meta_key,
                )  # fmt: skip
            report.applied += result.applied
            report.skipped += len(result.skipped)
            seen.update(result.ids)
            parents += result.variable_parents
        if parents:
            asked, settled = await _variations_of(
                client, db, sorted(set(parents)), window, global_variations, barcode_meta_key,
                report, seen,
            )  # fmt: skip
            report.requests += asked
            if not settled:
                log.warning("the variation listing kept changing while paged; re-read next poll")
                poll_time = None
        report.requests += await _scheduled_due(
            client, db, poll_time or parse_gmt(cursor), barcode_meta_key, report, seen
        )
        sold = {
            iid
            for page in orders
            for order in page.items
            if isinstance(order, dict)
            for iid in order_item_ids(order)
        }
        stale = sold - seen
        if stale:
            refreshed = await refresh_stock(
                client, db, stale, ORDER_CAUSE, global_variations=global_variations
            )
            report.stock_refreshed = len(refreshed)
        with db.write() as conn:
            if poll_time is not None:
                report.cursor = format_gmt_cursor(poll_time)
                set_state(conn, CURSOR, report.cursor)
                set_state(conn, LAST_SYNC_AT, report.cursor)
            record_success(conn)
    return report


async def _scheduled_due(
    client: WooClient,
    db: Database,
    now: datetime,
    meta_key: str | None,
    report: SyncReport,
    seen: set[int],
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
        with db.write() as conn:
            result = apply_items(
                conn, items, kind="product", cause=DELTA_CAUSE, barcode_meta_key=meta_key
            )
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
    for page, parent in pages:
        with db.write() as conn:
            result = apply_items(
                conn, page.items, kind="variation", cause=DELTA_CAUSE, barcode_meta_key=meta_key,
                parent_id=parent,
            )  # fmt: skip
        report.applied += result.applied
        report.skipped += len(result.skipped)
        seen.update(result.ids)
    return len(pages), settled
