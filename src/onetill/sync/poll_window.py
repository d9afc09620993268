"""Where a delta poll starts reading, and where the next one will start.

WooCommerce facts this rests on (WOOCOMMERCE.md; the first three are checked
on the real store by ``tests/real/test_poll_window_real.py``):

* ``modified_after`` is strict (``>``) and dates have one-second resolution
  (stored truncated): an item stamped in second S is found by
  ``modified_after=S-1`` and not by ``modified_after=S``.
* A save stamps the product first and writes its data after: the data store
  sets ``post_modified`` (``wp_update_post``, whose ``save_post`` hooks run
  right then, or a bare ``UPDATE``), then writes the meta (price, stock,
  SKU), terms and attributes; a variation's parent is saved again at the end
  of the request. A poll can therefore read an item whose stamp is final and
  whose data is not yet: a later poll must read it again. How long a save
  can take between its stamp and its last write is ``COMMIT_LAG_S``: plugins
  hooked on ``save_post`` make it seconds on shared hosting; 10 s covers a
  slow host with headroom, and also covers a web server and PHP whose clocks
  differ by a few seconds.
* The ``Date`` header has one-second resolution (truncated) and is written
  when the answer is sent, after the queries ran.

The cursor a poll records is a store time at or before the moment its first
requests reached the store: ``floor(Date - elapsed)`` of the earliest first
answer (``elapsed`` measured on the till, from sending to the answer, so it
bounds the time the request spent in the store). The next poll reads
``modified_after = cursor - COMMIT_LAG_S - 1``. Why that is enough: an item
whose last write lands after the snapshot ``A`` was stamped at ``T0 >= A -
COMMIT_LAG_S``, stored as ``floor(T0) >= floor(A - COMMIT_LAG_S)``, which is
greater than ``cursor - COMMIT_LAG_S - 1`` because ``cursor <= A``.

A cursor written by anything else (the initial sync notes the ``Date`` of its
first answer without the request's duration) gets ``UNMEASURED_REQUEST_S``
more overlap once: no answer can take longer than the client's timeout.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from onetill.woo import Page, WooClient, format_gmt_cursor, parse_gmt

__all__ = [
    "BOUNDARY_S",
    "COMMIT_LAG_S",
    "DEFAULT_OVERLAP_S",
    "SNAPSHOT",
    "UNMEASURED_REQUEST_S",
    "Listing",
    "format_window",
    "previous_date",
    "read_listing",
    "snapshot_cursor",
    "window_start",
]

COMMIT_LAG_S = 10.0
BOUNDARY_S = 1.0
DEFAULT_OVERLAP_S = COMMIT_LAG_S + BOUNDARY_S
UNMEASURED_REQUEST_S = 30.0
# sync_state key: the cursor value a delta wrote as a measured snapshot bound.
SNAPSHOT = "catalog.cursor_snapshot"


class Listing:
    """The pages of one collection read, and how long its first answer took."""

    def __init__(self, pages: list[Page], first_elapsed_s: float | None) -> None:
        self.pages = pages
        self.first_elapsed_s = first_elapsed_s

    @property
    def first(self) -> tuple[datetime | None, float | None]:
        """The first page's ``Date`` and how long it took to arrive."""
        if not self.pages:
            return None, None
        return self.pages[0].server_time, self.first_elapsed_s


async def read_listing(
    client: WooClient, path: str, params: dict[str, Any], **kw: Any
) -> Listing:
    """Every page of ``path`` (100 a page), timing the first answer."""
    began = time.monotonic()
    pages: list[Page] = []
    first: float | None = None
    iterator: AsyncIterator[Page] = client.paginate(path, params, per_page=100, **kw)
    async for page in iterator:
        if first is None:
            first = time.monotonic() - began
        pages.append(page)
    return Listing(pages, first)


def snapshot_cursor(firsts: list[tuple[datetime | None, float | None]]) -> datetime | None:
    """A store time at or before the moment every one of these requests reached the store.

    ``firsts`` holds each listing's first ``Date`` and how long that answer
    took; None when no answer carried a ``Date``.
    """
    bounds = [
        date - timedelta(seconds=elapsed or 0.0) for date, elapsed in firsts if date is not None
    ]
    if not bounds:
        return None
    earliest = min(bounds)
    # Whole seconds, rounded down: the stamps it is compared with are truncated too.
    whole = math.floor(earliest.timestamp())
    return datetime.fromtimestamp(whole, UTC)


def window_start(cursor: str, snapshot: str | None, overlap_s: float) -> datetime:
    """Where a poll reads from: ``overlap_s`` before the cursor, more when the
    cursor was not written by a delta (its request's duration is unknown)."""
    extra = 0.0 if snapshot == cursor else UNMEASURED_REQUEST_S
    return parse_gmt(cursor) - timedelta(seconds=overlap_s + extra)


def format_window(start: datetime) -> dict[str, str]:
    """The query parameters of a ``modified_after`` window (naive UTC, ordered by id)."""
    return {
        "modified_after": format_gmt_cursor(start),
        "dates_are_gmt": "true",
        "orderby": "id",
        "order": "asc",
    }


def previous_date(last_date: str | None, cursor: str, snapshot: str | None) -> datetime | None:
    """A ``Date`` the last poll (or the initial sync) was answered with: every answer of a
    later poll carries one at least as late, unless the store's clock went back."""
    text = last_date or (cursor if snapshot != cursor else None)
    try:
        return parse_gmt(text) if text else None
    except ValueError:
        return None
