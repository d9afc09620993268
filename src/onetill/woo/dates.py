"""WooCommerce dates: polling cursors out, ``*_gmt`` fields and ``Date`` headers in.

WooCommerce facts these helpers depend on:

* With ``dates_are_gmt=true``, ``modified_after`` must be **naive UTC**
  (``2026-11-26T15:30:06``): a ``Z`` or an offset shifts the window by the
  site's UTC offset. Seconds are required; fractions are truncated, and the
  comparison is strict (``>``), at one-second resolution.
* ``date_modified_gmt`` and friends are UTC **without** ``Z``.
* The server's clock is in every response's ``Date`` header (RFC 7231).
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

__all__ = ["format_gmt_cursor", "parse_gmt", "parse_http_date"]


def format_gmt_cursor(dt: datetime) -> str:
    """``dt`` as naive UTC with whole seconds, for ``modified_after`` + ``dates_are_gmt=true``.

    Fractions are dropped (truncated, like WooCommerce does). A naive
    ``dt`` is refused: a polling cursor must come from the server with a
    known zone, never be guessed.
    """
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(
            f"cursor {dt.isoformat()} has no time zone: pass an aware datetime "
            "(e.g. the response's server_time or parse_gmt(...))"
        )
    return dt.astimezone(UTC).replace(tzinfo=None, microsecond=0).isoformat(timespec="seconds")


def parse_gmt(value: str) -> datetime:
    """A ``*_gmt`` field (``2026-11-26T15:30:06``, no zone) as an aware UTC datetime.

    A value that does carry a zone (``Z`` or ``+00:00``) is converted to UTC.
    """
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(f"not a WooCommerce GMT date: {value!r}") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_http_date(value: str | None) -> datetime | None:
    """An HTTP ``Date``/``Retry-After`` date as aware UTC, or None when absent or malformed."""
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        # RFC 7231 dates are always GMT; email.utils returns naive for "-0000".
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
