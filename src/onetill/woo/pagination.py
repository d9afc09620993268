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
    from onetill.woo.client import WooClient
    from onetill.woo.responses import WooResponse

__all__ = ["Page", "paginate"]

MAX_PER_PAGE = 100  # WooCommerce answers 400 rest_invalid_param above this


@dataclass(frozen=True)
class Page:
    """One page of a collection.

    ``total`` and ``total_pages`` come from ``X-WP-Total`` /
    ``X-WP-TotalPages`` of *this* page's answer; ``server_time`` from its
    ``Date`` header.
    """

    number: int
    total_pages: int
    total: int
    items: list[Any]
    server_time: datetime | None


async def paginate(
    client: WooClient,
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
    bounded concurrency. Pages in ``skip_pages`` (already stored by an
    interrupted run) are neither fetched nor yielded. ``on_progress(done,
    total)`` is called after each yielded page, counting items.
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
        return _page_from(response, number)

    first_number = 1
    while first_number in skip:
        first_number += 1
    first = await fetch(first_number)
    done = len(first.items)
    yield first
    if on_progress is not None:
        on_progress(done, first.total)

    remaining = [n for n in range(first_number + 1, first.total_pages + 1) if n not in skip]
    # Keep enough requests queued to fill the limiter, but not the whole
    # catalog in memory: the window bounds pages fetched ahead of the reader.
    window = max(2, client.max_concurrency * 2)
    pending: dict[int, asyncio.Task[Page]] = {}
    position = 0
    try:
        for number in remaining:
            while position < len(remaining) and len(pending) < window:
                ahead = remaining[position]
                pending[ahead] = asyncio.create_task(fetch(ahead))
                position += 1
            page = await pending.pop(number)
            done += len(page.items)
            yield page
            if on_progress is not None:
                on_progress(done, max(page.total, first.total))
    finally:
        for task in pending.values():
            task.cancel()
        if pending:
            await asyncio.gather(*pending.values(), return_exceptions=True)


def _page_from(response: WooResponse, number: int) -> Page:
    items = response.data
    if not isinstance(items, list):
        raise WooError(
            f"{response.url} did not return a list (got {type(items).__name__})",
            hint="this route is not a paginated collection",
        )
    total = _int_header(response, "x-wp-total", len(items))
    total_pages = _int_header(response, "x-wp-totalpages", 1 if items else 0)
    return Page(
        number=number,
        total_pages=total_pages,
        total=total,
        items=items,
        server_time=response.server_time,
    )


def _int_header(response: WooResponse, name: str, default: int) -> int:
    raw = response.headers.get(name)
    if raw is None:
        return default
    try:
        return int(raw.strip())
    except ValueError:
        return default
