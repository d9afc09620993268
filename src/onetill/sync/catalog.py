"""The initial catalog pull: everything the till needs, resumable after a kill.

How it works (DESIGN.md, "Sync protocol"):

* The server's own clock (HTTP ``Date``) of the earliest answer is noted
  before anything is applied; the delta sync later starts from it, so
  changes made while the pull ran are not missed. The till's clock is never
  used.
* Products (every status but trash: WooCommerce's default ``status=any``),
  variations (global ``/variations`` on 10.3+, else per variable parent with
  bounded concurrency), tax rates and classes, categories and the
  ``general``/``tax`` settings are pulled concurrently, 100 per page.
* Each page is applied in its own transaction together with the record that
  the page is done (``initial.pages.<resource>``), so a killed run resumes
  with the pages it lacks and never refetches a stored one. Pages are
  ordered by id (``orderby=id&order=asc``): new products land at the end and
  do not shift the pages already stored. A resumed pull, one whose listing
  shrank while it was paged (a later page's ``X-WP-Total`` below the
  first's), and a ``full`` one end with an ID audit, which fetches anything
  a deletion shifted past and drops what the store deleted for good.
* A ``full`` pull takes the store's copy of every item whatever its date
  (logging any it sets back): it repairs a till holding copies dated by a
  store clock that was ahead. Otherwise a stored date after the store's
  clock (``store_clock.py``) guards nothing.

``delta_sync`` (``sync/delta.py``) and ``audit_ids`` (``sync/audit.py``)
are re-exported here.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import sqlite3
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import partial
from typing import Any

import msgspec

from onetill.store import Database
from onetill.store import settings as store_settings
from onetill.store.catalog import VARIATION_SELLABLE, apply_items
from onetill.store.sync_state import delete_prefix, get_json, get_state, set_json, set_state
from onetill.sync.audit import audit_ids
from onetill.sync.delta import (
    CURSOR,
    LAST_SYNC_AT,
    SyncReport,
    dateless_cursor,
    delta_sync,
    guarded,
    newest_modified,
    record_success,
)
from onetill.sync.progress import ProgressBoard, ProgressListener
from onetill.woo import Page, WooClient, format_gmt_cursor, parse_gmt
from onetill.woo.errors import NoRouteError
from onetill.woo.store_clock import StoreClock

__all__ = ["SyncReport", "audit_ids", "delta_sync", "initial_sync", "needs_initial_sync"]

log = logging.getLogger("onetill.sync")

STARTED_AT = "initial.started_at"
_FALLBACK = "initial.dateless"  # run token -> cursor candidate, when no Date header came
_PAGES = "initial.pages."
_DONE = "initial.done."
PER_PAGE = 100
INITIAL_CAUSE = "initial sync"


def needs_initial_sync(db: Database) -> bool:
    """True until an initial sync has completed (or while one is unfinished)."""
    with db.lock:
        return get_state(db.conn, CURSOR) is None or get_state(db.conn, STARTED_AT) is not None


class _Run:
    """State shared by the concurrent parts of one initial sync."""

    def __init__(
        self,
        client: WooClient,
        db: Database,
        board: ProgressBoard,
        meta_key: str | None,
        full: bool = False,
    ):
        self.client = client
        # A full pull takes the store's copy whatever its date: it is what
        # repairs a till that holds copies dated by a store clock that was ahead.
        self.full = full
        self.clock = StoreClock()
        self.db = db
        self.board = board
        self.meta_key = meta_key
        self.report = SyncReport(kind="initial")
        self.resumed = False
        self.shifted = False  # a listing changed size while paged: items may have slid
        self.latest: datetime | None = None
        self.no_global_variations = False
        self.started = time.monotonic()
        self.token = secrets.token_hex(4)
        self.fallback: datetime | None = None

    def note_time(
        self, conn: Any, server_time: datetime | None, pages: list[Page] | None = None
    ) -> None:
        """Keep the earliest server time as the future cursor (in the page's transaction)."""
        if server_time is None:
            # No Date header: remember this run's best dateless cursor. A resumed
            # pull takes the earliest run's, so edits between runs are re-read.
            fallback = dateless_cursor(newest_modified(pages or []), self.started)
            if fallback is not None and (self.fallback is None or fallback > self.fallback):
                self.fallback = fallback
                runs = get_json(conn, _FALLBACK, {}) or {}
                runs[self.token] = format_gmt_cursor(fallback)
                set_json(conn, _FALLBACK, runs)
            return
        if self.latest is None or server_time > self.latest:
            self.latest = server_time
        noted = get_state(conn, STARTED_AT)
        if noted is None or server_time < parse_gmt(noted):
            set_state(conn, STARTED_AT, format_gmt_cursor(server_time))

    def progress(self, conn: Any) -> None:
        set_json(conn, "progress", [msgspec.to_builtins(p) for p in self.board.snapshot()])

    async def items(self, resource: str, path: str, kind: str, params: dict[str, Any]) -> None:
        """Pull one paginated product/variation collection, a transaction per page."""
        key = _PAGES + resource
        with self.db.lock:
            if get_state(self.db.conn, _DONE + resource):
                self.resumed = True
                self.board.update(resource, 0, None, finished=True)
                return
            done_pages: set[int] = set(get_json(self.db.conn, key, []))
        self.resumed = self.resumed or bool(done_pages)
        total_pages = 0
        count = 0
        first_total: int | None = None
        shrank = False
        async for page in self.client.paginate(
            path, params, per_page=PER_PAGE, skip_pages=done_pages
        ):
            total_pages = page.total_pages
            if first_total is None:
                first_total = page.total  # always read before the others
            shrank = shrank or page.total < first_total
            self.clock.observe(page.server_time)
            with self.db.write() as conn:
                result = apply_items(
                    conn, page.items, kind=kind, cause=INITIAL_CAUSE,
                    barcode_meta_key=self.meta_key, trusted_until=self.clock.trusted_until(),
                    force=self.full,
                )  # fmt: skip
                done_pages.add(page.number)
                set_json(conn, key, sorted(done_pages))
                self.note_time(conn, page.server_time, [page])
                count = min(page.total, len(done_pages) * PER_PAGE)
                self.board.update(resource, count, page.total)
                self.progress(conn)
            self.report.applied += result.applied
            self.report.skipped += len(result.skipped)
        if shrank:
            # Pages are ordered by id: an item trashed or deleted while later
            # pages were still to come moved the next item onto a page already
            # read (new products only ever append). The ID audit at the end
            # fetches whatever slipped through.
            log.info("the %s listing shrank while it was read: auditing ids afterwards", resource)
            self.shifted = True
        with self.db.write() as conn:
            set_state(conn, _DONE + resource, str(total_pages))
            self.board.update(resource, count, None, finished=True)
            self.progress(conn)

    async def global_variations(self, params: dict[str, Any]) -> None:
        """Variations from ``/variations`` (10.3+); notes when the store lacks the route."""
        try:
            await self.items("variations", "variations", "variation", params)
        except NoRouteError:
            log.info("this store has no global /variations route: reading them per parent")
            self.no_global_variations = True

    async def variations_per_parent(self, concurrency: int) -> None:
        """Variations without the global endpoint: per parent, a few parents at once."""
        resource = "variations"
        with self.db.lock:
            if get_state(self.db.conn, _DONE + resource):
                self.resumed = True
                return
            done: set[int] = set(get_json(self.db.conn, "initial.parents_done", []))
            parents = [
                r[0]
                for r in self.db.conn.execute(
                    "SELECT id FROM products WHERE type = 'variable' AND status != 'trash'"
                    " ORDER BY id"
                )
            ]
        self.resumed = self.resumed or bool(done)
        todo = [p for p in parents if p not in done]
        gate = asyncio.Semaphore(concurrency)
        self.board.update(resource, len(done), len(parents))

        async def one(parent: int) -> None:
            async with gate:
                objects: list[Any] = []
                server_time = None
                path = f"products/{parent}/variations"
                async for page in self.client.paginate(path, {"orderby": "id", "order": "asc"}):
                    objects += page.items
                    server_time = server_time or page.server_time
                    self.clock.observe(page.server_time)
            with self.db.write() as conn:
                result = apply_items(
                    conn, objects, kind="variation", cause=INITIAL_CAUSE,
                    barcode_meta_key=self.meta_key, parent_id=parent,
                    trusted_until=self.clock.trusted_until(), force=self.full,
                )  # fmt: skip
                done.add(parent)
                set_json(conn, "initial.parents_done", sorted(done))
                self.note_time(conn, server_time)
                self.board.update(resource, len(done), len(parents))
                self.progress(conn)
            self.report.applied += result.applied
            self.report.skipped += len(result.skipped)

        async with asyncio.TaskGroup() as tg:
            for parent in todo:
                tg.create_task(one(parent))
        with self.db.write() as conn:
            set_state(conn, _DONE + resource, str(len(parents)))
            self.board.update(resource, len(parents), len(parents), finished=True)
            self.progress(conn)

    async def small(
        self,
        resource: str,
        fetch: Callable[[], Awaitable[tuple[list[Any], datetime | None]]],
        store: Callable[[sqlite3.Connection, list[Any]], int],
    ) -> None:
        """A small list (tax rates, classes, categories, settings): replaced whole."""
        with self.db.lock:
            if get_state(self.db.conn, _DONE + resource):
                return
        items, server_time = await fetch()
        with self.db.write() as conn:
            n = store(conn, items)
            self.note_time(conn, server_time)
            set_state(conn, _DONE + resource, str(n))
            self.board.update(resource, n, n, finished=True)
            self.progress(conn)


_Fetch = Callable[[], Awaitable[tuple[list[Any], datetime | None]]]
_Store = Callable[[sqlite3.Connection, list[Any]], int]


def _replace_group(group: str, conn: sqlite3.Connection, items: list[Any]) -> int:
    return store_settings.replace_settings(conn, group, items)


async def fetch_all(client: WooClient, path: str) -> tuple[list[Any], datetime | None]:
    """Every item of a (small) paginated collection, and the first answer's server time."""
    items: list[Any] = []
    first: datetime | None = None
    async for page in client.paginate(path, per_page=PER_PAGE):
        items += page.items
        first = first or page.server_time
    return items, first


async def fetch_one(client: WooClient, path: str) -> tuple[list[Any], datetime | None]:
    """An unpaginated list (``taxes/classes``, ``settings/<group>``)."""
    response = await client.get(path)
    data = response.data if isinstance(response.data, list) else []
    return data, response.server_time


async def initial_sync(
    client: WooClient,
    db: Database,
    progress: ProgressListener | None = None,
    *,
    global_variations: bool = True,
    barcode_meta_key: str | None = None,
    parent_concurrency: int = 4,
    full: bool = False,
) -> SyncReport:
    """Pull the whole catalog (resuming an unfinished pull); then the delta sync may start.

    ``full`` starts over (refetching every page) even if a pull completed.
    Raises the client's ``WooError`` on failure; what was applied stays,
    and the next call resumes.
    """
    board = ProgressBoard(*([progress] if progress else []))
    run = _Run(client, db, board, barcode_meta_key, full=full)
    if full:
        with db.write() as conn:
            delete_prefix(conn, "initial.")
    async with guarded(db):
        order = {"orderby": "id", "order": "asc"}
        async with asyncio.TaskGroup() as tg:
            tg.create_task(run.items("products", "products", "product", order))
            small: list[tuple[str, _Fetch, _Store]] = [
                ("tax_rates", partial(fetch_all, client, "taxes"),
                 store_settings.replace_tax_rates),
                ("tax_classes", partial(fetch_one, client, "taxes/classes"),
                 store_settings.replace_tax_classes),
                ("categories", partial(fetch_all, client, "products/categories"),
                 store_settings.replace_categories),
                ("settings_general", partial(fetch_one, client, "settings/general"),
                 partial(_replace_group, "general")),
                ("settings_tax", partial(fetch_one, client, "settings/tax"),
                 partial(_replace_group, "tax")),
            ]  # fmt: skip
            for resource, fetch, store in small:
                tg.create_task(run.small(resource, fetch, store))
            if global_variations:
                tg.create_task(run.global_variations(order))
        if not global_variations or run.no_global_variations:
            await run.variations_per_parent(parent_concurrency)
        with db.write() as conn:
            # Variations applied before their parent could not see its status.
            conn.execute(VARIATION_SELLABLE.format(where="1"))
        if run.resumed or run.shifted or full:
            # A resumed or shifted pull may have lost items between pages; a
            # full one is asked for as an exact copy, and force deletes leave
            # no trace in any listing.
            audit = await audit_ids(
                client, db, global_variations=global_variations, barcode_meta_key=barcode_meta_key,
                refresh_settings=False,
            )  # fmt: skip
            run.report.removed += audit.removed
            run.report.applied += audit.applied
        with db.write() as conn:
            started = get_state(conn, STARTED_AT)
            runs = get_json(conn, _FALLBACK, {}) or {}
            if started is None and runs:
                log.warning("the store's answers carry no Date header: cursor from item dates")
                started = min(runs.values())
            if started is not None:
                set_state(conn, CURSOR, started)
            latest = format_gmt_cursor(run.latest) if run.latest else started
            if latest is not None:
                set_state(conn, LAST_SYNC_AT, latest)
            delete_prefix(conn, "initial.")
            record_success(conn)
            run.report.cursor = started
    return run.report
