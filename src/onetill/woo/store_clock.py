"""The store's clock, as far as the till can tell, for judging dates the store sent.

A date the store wrote (``date_modified_gmt``) can be compared with another
only if both came from a clock that was right. A store whose clock ran a
day ahead wrote dates a day in the future; once its clock is corrected,
every later edit looks older than the copy the till holds. So dates after
the store's own "now" are not trusted (``store.catalog.apply_items``,
``trusted_until``).

The store's "now" comes from the ``Date`` headers of its answers, carried
forward with the till's monotonic clock (which cannot jump): each answer
gives ``Date - monotonic()``, a lower bound of the store's offset from the
monotonic clock (the ``Date`` was written before the answer arrived), and
the largest bound seen is the best estimate, so the estimate never runs
back for Date's one-second rounding or a slow answer. A bound more than
``SET_BACK_S`` below it means the store's clock was set back: it is taken.
The till's wall clock is never used.

One model for the whole till: ``WooClient`` keeps one (``server_now``, the
outbox's time), and a sync pass keeps its own for the dates it judges.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from onetill.woo.dates import format_gmt_cursor

__all__ = ["FUTURE_SLACK_S", "SET_BACK_S", "StoreClock"]

# A Date header has one-second resolution, and may come from a proxy or CDN
# whose clock differs a little from PHP's (which writes the dates): a minute
# of slack keeps such a store from reporting every edit as "from the future".
# A store clock that ran ahead by less than this and was put back can hold
# back an edit for at most this long; a full pull repairs even that.
FUTURE_SLACK_S = 60.0
# A Date this far behind the store time already known is no rounding and no
# slow answer (requests time out well before): the store's clock was set back.
SET_BACK_S = 120.0


class StoreClock:
    """The store's current time, estimated from the ``Date`` headers seen so far."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._offset: float | None = None  # store time (epoch s) minus monotonic()

    def observe(self, *server_times: datetime | None) -> None:
        """Take the ``Date`` of answers that have just arrived (None: no header)."""
        now = self._monotonic()
        for server_time in server_times:
            if server_time is None:
                continue
            offset = server_time.timestamp() - now
            known = self._offset
            if known is None or offset > known or offset < known - SET_BACK_S:
                self._offset = offset

    def observe_pages(self, pages: Iterable[object]) -> None:
        """``observe`` the ``server_time`` of every page (or response) given."""
        self.observe(*(getattr(p, "server_time", None) for p in pages))

    def now(self) -> datetime | None:
        """The store's time now, or None when no answer carried a ``Date``."""
        if self._offset is None:
            return None
        return datetime.fromtimestamp(self._monotonic() + self._offset, UTC)

    def trusted_until(self) -> str | None:
        """Naive UTC text: a date the store wrote after this came from a clock that was
        ahead (``apply_items(trusted_until=...)``); None when the clock is unknown."""
        now = self.now()
        if now is None:
            return None
        return format_gmt_cursor(now + timedelta(seconds=FUTURE_SLACK_S))
