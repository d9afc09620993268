"""Reading a whole collection, page by page, a few pages at a time.

The first page fetched tells how many there are (``X-WP-TotalPages``,
``X-WP-Total``); the rest are fetched concurrently (the client's adaptive
limiter bounds how many are in flight) and yielded strictly in page order.

``Link`` headers are never followed: WooCommerce echoes the previous
request's ``oauth_*`` parameters in them, a nonce it has already seen. Each
page is a fresh request, signed afresh.

A page past the end is ``200 []`` on WooCommerce, not an error.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from onetill.woo.errors import WooError

if TYPE_CHECKING:
    from onetill.woo.requester import Requester
    from onetill.woo.responses import WooResponse

__all__ = ["Page", "paginate"]

MAX_PER_PAGE = 100  # WooCommerce answers 400 rest_invalid_param above this


@dataclass(frozen=True)
class Page:
    """One page of a collection.

    ``total`` and ``total_pages`` come from ``X-WP-Total`` /
    ``X-WP-TotalPages`` of *this* page's answer (computed from the item
    count, or from the items seen so far, when a proxy stripped them);
    ``server_time`` from its ``Date`` header.
    """

    number: int
    total_pages: int
    total: int
    items: list[Any]
    server_time: datetime | None


async def paginate(
    client: Requester,
    path: str,
    params: Mapping[str, Any] | None = None,
    *,
    per_page: int = 100,
    fields: Iterable[str] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    skip_pages: Iterable[int] | None = None,
    namespace: str = "wc/v3",
) -> AsyncIterator[Page]:
    """Yield every page of ``path`` in page order.

    The lowest page not in ``skip_pages`` is fetched first and always
    yielded (it carries the totals and the server time, even when it is
    empty); the others up to ``X-WP-TotalPages`` follow, fetched with
    bounded concurrency, and further pages while any answer shows more (or
    a full page has no count). Later pages that come back empty are not
    yielded. Pages in ``skip_pages`` (already stored by an interrupted run)
    are neither fetched nor yielded. ``on_progress(done, total)`` is called
    after each yielded page, counting items.
    """
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise ValueError(f"per_page must be between 1 and {MAX_PER_PAGE}, got {per_page}")
    base = dict(params or {})
    for reserved in ("page", "per_page", "_fields", "offset"):
        if reserved in base:
            raise ValueError(f"pass {reserved!r} through paginate's own arguments, not params")
    base["per_page"] = per_page
    if fields is not None:
        base["_fields"] = fields if isinstance(fields, str) else ",".join(fields)
    skip = set(skip_pages or ())

    async def fetch(number: int) -> Page:
        response = await client.request("GET", path, {**base, "page": number}, namespace=namespace)
        return _page_from(response, number, per_page)

    first_number = 1
    while first_number in skip:
        first_number += 1
    first = await fetch(first_number)
    done = len(first.items)
    yield first
    if on_progress is not None:
        on_progress(done, first.total)

    # The highest page known to exist. It grows when a later answer reports
    # more pages (items added during the pull) and when a page is full and
    # nothing says it is the last: a proxy that strips X-WP-* headers, or a
    # stale count, must not end a pull early. (The outbox looks orders up by
    # scanning pages: a page missed there would mean a duplicate order.)
    last = _last_known(first, per_page)
    # Keep enough requests queued to fill the limiter, but not the whole
    # catalog in memory: the window bounds pages fetched ahead of the reader.
    window = max(2, client.max_concurrency * 2)
    pending: dict[int, asyncio.Task[Page]] = {}
    scheduled = first_number
    number = first_number

    def abandon(_: object) -> None:
        # The reader's task ended (cancelled, or failed elsewhere) while this
        # generator sat at a ``yield``: nobody will close it soon, so stop
        # the pages fetched ahead now rather than when it is collected.
        for task in pending.values():
            task.cancel()

    owner: asyncio.Task[Any] | None = None
    try:
        while True:
            current = asyncio.current_task()
            if current is not owner:  # first pass, or handed to another task
                if owner is not None:
                    owner.remove_done_callback(abandon)
                owner = current
                if owner is not None:
                    owner.add_done_callback(abandon)
            while len(pending) < window and scheduled < last:
                scheduled += 1
                if scheduled not in skip:
                    pending[scheduled] = asyncio.create_task(fetch(scheduled))
            number += 1
            while number in skip:
                number += 1
            if number not in pending:
                break
            page = await pending.pop(number)
            last = max(last, _last_known(page, per_page))
            if not page.items:
                continue  # past the end (a probe, or items removed meanwhile)
            done += len(page.items)
            yield page
            if on_progress is not None:
                on_progress(done, max(page.total, first.total, done))
    finally:
        if owner is not None:
            owner.remove_done_callback(abandon)
        for task in pending.values():
            task.cancel()
        if pending:
            await asyncio.gather(*pending.values(), return_exceptions=True)


def _last_known(page: Page, per_page: int) -> int:
    """The highest page number ``page`` shows to exist."""
    last = page.total_pages
    if len(page.items) >= per_page and page.number >= last:
        # A full page claiming to be the last (or with no count at all): look
        # one further; WooCommerce answers a page past the end with 200 [].
        last = page.number + 1
    return last


def _page_from(response: WooResponse, number: int, per_page: int) -> Page:
    items = response.data
    if not isinstance(items, list):
        raise WooError(
            f"{response.url} did not return a list (got {type(items).__name__})",
            hint="this route is not a paginated collection",
        )
    seen = (number - 1) * per_page + len(items) if items else 0
    total = _int_header(response, "x-wp-total")
    pages = _int_header(response, "x-wp-totalpages")
    if pages is None and total is not None:
        pages = -(-total // per_page)
    if pages is None:
        # No counts at all: this page is the last one known; _last_known
        # looks further while pages come back full.
        pages = number if items else 0
    if total is None:
        total = seen
    return Page(
        number=number,
        total_pages=pages,
        total=total,
        items=items,
        server_time=response.server_time,
    )


def _int_header(response: WooResponse, name: str) -> int | None:
    """A count header as a non-negative int; None when absent or not a number."""
    raw = (response.headers.get(name) or "").strip()
    if not (raw.isascii() and raw.isdigit()):
        return None
    return int(raw)
