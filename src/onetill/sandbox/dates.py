"""Dates as WooCommerce shows and parses them: site-local and GMT, one-second resolution.

Stored times are UTC epoch seconds (ints). WooCommerce prints ``date_x`` in the
site's timezone and ``date_x_gmt`` in UTC, both without an offset. Query
parameters (``modified_after``, ``after`` ...) go through WordPress's
``rest_parse_date`` (strict RFC 3339 shape) and then ``WP_Date_Query``, which
converts a zoned value to *site-local* time and truncates fractions before
comparing it with the column: that is why ``...Z`` with ``dates_are_gmt=true``
shifts the window by the site's offset.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

__all__ = [
    "InvalidDate",
    "format_gmt",
    "format_local",
    "parse_query_date",
    "parse_write_date",
    "utc_offset_hours",
]

# rest_parse_date(): date, 'T' (or 't' or space), time with seconds, optional
# fraction and zone; the zone is an upper-case Z or +HH / +HH:MM (no +HHMM, no z).
_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?"
    r"(Z|[+-]\d{2}(?::\d{2})?)?$"
)


class InvalidDate(ValueError):
    """A date parameter WordPress rejects with ``rest_invalid_date``."""


def format_gmt(ts: int) -> str:
    """``2026-11-26T15:30:06``: UTC without ``Z``, as in ``date_modified_gmt``."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def format_local(ts: int, tz: ZoneInfo) -> str:
    """Site-local time without an offset, as in ``date_modified``."""
    return datetime.fromtimestamp(ts, tz).strftime("%Y-%m-%dT%H:%M:%S")


def utc_offset_hours(tz: ZoneInfo, ts: int) -> float | int:
    """``gmt_offset`` of the index: hours east of UTC at ``ts`` (an int when whole)."""
    off = datetime.fromtimestamp(ts, tz).utcoffset() or timedelta(0)
    hours = off.total_seconds() / 3600
    return int(hours) if hours == int(hours) else hours


def _match(value: str) -> tuple[datetime, bool]:
    m = _RFC3339.match(value)
    if not m:
        raise InvalidDate(value)
    y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
    try:
        naive = datetime(y, mo, d, h, mi, s)  # the fraction is truncated
    except ValueError as exc:
        raise InvalidDate(value) from exc
    zone = m.group(8)
    if not zone:
        return naive, False
    if zone == "Z":
        return naive.replace(tzinfo=UTC), True
    sign = 1 if zone[0] == "+" else -1
    minutes = int(zone[1:3]) * 60 + (int(zone[4:6]) if len(zone) > 3 else 0)
    return naive.replace(tzinfo=UTC) - sign * timedelta(minutes=minutes), True


def parse_query_date(value: str, dates_are_gmt: bool, tz: ZoneInfo) -> int:
    """The UTC epoch second a list filter compares against, WordPress's way.

    A naive value is taken as written and compared with the GMT column when
    ``dates_are_gmt`` is set, else with the site-local column. A zoned value is
    first converted to site-local wall time (``WP_Date_Query``), and that wall
    time is compared with the same column: with ``dates_are_gmt`` this shifts
    the window by the site's UTC offset, exactly like the real store.
    """
    parsed, zoned = _match(value)
    wall = parsed.astimezone(tz).replace(tzinfo=None) if zoned else parsed
    if dates_are_gmt:
        return int(wall.replace(tzinfo=UTC).timestamp())
    return int(wall.replace(tzinfo=tz).timestamp())


def parse_write_date(value: str, is_gmt: bool, tz: ZoneInfo) -> int:
    """A date written in a request body (``date_on_sale_from`` ...), as UTC epoch seconds."""
    parsed, zoned = _match(value)
    if zoned:
        return int(parsed.timestamp())
    return int(parsed.replace(tzinfo=UTC if is_gmt else tz).timestamp())
