"""The delta sync (every 30 s by default), and what all catalog syncs share.

WooCommerce facts this depends on (WOOCOMMERCE.md):

* ``modified_after`` is strict (``>``) at one-second resolution, and with
  ``dates_are_gmt=true`` must be sent as naive UTC. We send ``cursor -
  overlap``: the boundary second is re-read, and so is anything saved while
  the previous poll's query ran (its ``Date`` can be later than the
  snapshot). Re-reads are harmless: upserts are keyed by id and guarded by
  ``date_modified_gmt``.
* The cursor is the server's ``Date`` of the poll's first answers, never the
  till's clock; it only moves when the whole poll was applied.
* Default ``status=any`` excludes trash: trashed products come from a second
  query with ``status=trash``. Force-deleted ones appear nowhere, hence the
  ID audit (``sync/audit.py``, hourly or ``onetill sync --audit``).
* A changed variation bumps its parent: a changed variable parent is the
  signal to read ``/variations?modified_after=`` (or the parent's list).
* An online order's stock drop bumps the product on WooCommerce 11, but
  older versions had bugs (#17841, #40060): items of orders modified since
  the cursor get their stock read back, at the cost of one request per poll.

An idle poll is three requests: products, trashed products, orders.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import msgspec

from onetill.store import Database
from onetill.store.catalog import apply_items
from onetill.store.sync_state import get_state, set_state
from onetill.sync.stock import refresh_stock
from onetill.woo import Page, WooClient, format_gmt_cursor, parse_gmt
from onetill.woo.errors import NoRouteError, TransportError, WooError

__all__ = [
    "CURSOR",
    "DEFAULT_OVERLAP_S",
    "LAST_SYNC_AT",
    "NotInitializedError",
    "SyncReport",
    "delta_sync",
    "earliest",
    "guarded",
    "pages_of",
    "record_success",
]

log = logging.getLogger("onetill.sync")

CURSOR = "catalog.cursor"
LAST_SYNC_AT = "catalog.last_sync_at"
STATE = "catalog.state"
LAST_ERROR = "catalog.last_error"
DEFAULT_OVERLAP_S = 60.0
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
    async with guarded(db):
        changed, trashed, orders = await asyncio.gather(
            pages_of(client, "products", window),
            pages_of(client, "products", {**window, "status": "trash"}),
            pages_of(client, "orders", window, fields=["id", "line_items"]),
        )
        report.requests = len(changed) + len(trashed) + len(orders)
        poll_time = earliest([p.server_time for p in (changed[:1] + trashed[:1] + orders[:1])])
        seen: set[int] = set()
        parents: list[int] = []
        for page in changed + trashed:
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
            report.requests += await _variations_of(
                client, db, sorted(set(parents)), since, global_variations, barcode_meta_key,
                report, seen,
            )  # fmt: skip
        sold: set[int] = set()
        for page in orders:
            for order in page.items:
                for line in (order.get("line_items") or []) if isinstance(order, dict) else []:
                    if isinstance(line, dict):
                        for key in ("product_id", "variation_id"):
                            if type(line.get(key)) is int and line[key] > 0:
                                sold.add(line[key])
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


async def _variations_of(
    client: WooClient,
    db: Database,
    parents: list[int],
    since: str,
    global_variations: bool,
    meta_key: str | None,
    report: SyncReport,
    seen: set[int],
) -> int:
    """Re-read the variations of changed variable parents; returns requests made."""
    pages: list[tuple[Page, int | None]] = []
    if global_variations:
        try:
            params = {
                "modified_after": since,
                "dates_are_gmt": "true",
                "orderby": "id",
                "order": "asc",
            }
            pages = [(p, None) for p in await pages_of(client, "variations", params)]
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
    return len(pages)
