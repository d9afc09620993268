"""Tax rates in every delta poll: the only catalog data that changes without a trace.

WooCommerce facts: a tax rate has no ``date_modified`` (no ``modified_after``
filter) and no webhook topic, yet a changed rate changes every total the
store computes. A till that learnt of it only at the hourly ID audit would
charge the old rate meanwhile, and every sale uploaded in that hour would
come back with other totals. So each poll reads the first page of
``/taxes`` (one small request; two rates on a typical European store) and,
when the list differs from the till's, replaces it and logs each changed
rate. A store with more than 100 rates (US ZIP tables) is left to the ID
audit, which reads every page: a poll stays a fixed number of requests.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec

from onetill.store import Database
from onetill.store.discrepancies import log_discrepancy
from onetill.store.settings import replace_tax_rates
from onetill.woo import WooResponse

__all__ = ["TAXES_PARAMS", "apply_tax_rates"]

log = logging.getLogger("onetill.sync")

TAXES_PARAMS = {"per_page": 100}
_encode = msgspec.json.Encoder().encode


def apply_tax_rates(db: Database, response: WooResponse, cause: str) -> bool:
    """Take the store's tax rates from one ``GET /taxes`` answer if they are all in it and
    differ from the till's; returns whether anything changed."""
    rates = response.data
    pages = response.headers.get("x-wp-totalpages", "1")
    if not isinstance(rates, list) or (pages.isdigit() and int(pages) > 1):
        return False  # more than one page: the audit reads them all
    fresh = sorted((r for r in rates if isinstance(r, dict)), key=_rate_id)
    wanted = [_encode(r).decode() for r in fresh]
    with db.lock:  # the common case, nothing changed, costs a read and no transaction
        found = db.conn.execute("SELECT id, rate, raw FROM tax_rates ORDER BY id").fetchall()
    if [r[2] for r in found] == wanted:
        return False
    with db.write() as conn:
        held = {r[0]: (r[1], r[2]) for r in conn.execute("SELECT id, rate, raw FROM tax_rates")}
        replace_tax_rates(conn, fresh)
        kept = {r[0]: r[1] for r in conn.execute("SELECT id, rate FROM tax_rates")}
        for rid in sorted(set(held) | set(kept)):
            old = held[rid][0] if rid in held else None
            if old != kept.get(rid):
                log_discrepancy(conn, "tax_rate", rid, "rate", old, kept.get(rid), cause)
                log.warning("tax rate %s: %s -> %s (%s)", rid, old, kept.get(rid), cause)
    return True


def _rate_id(rate: dict[str, Any]) -> int:
    rid = rate.get("id")
    return rid if type(rid) is int else 0
