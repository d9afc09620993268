"""Store-wide data the till prices with: tax rates, tax classes, categories, settings.

These lists are small and WooCommerce offers no ``modified_after`` for
them, so each sync replaces a whole list in one transaction (rows the store
no longer has disappear). Malformed entries are skipped and logged.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec

__all__ = [
    "get_setting",
    "replace_categories",
    "replace_settings",
    "replace_tax_classes",
    "replace_tax_rates",
]

log = logging.getLogger("onetill.catalog")
_encode = msgspec.json.Encoder().encode


def _skip(what: str, oid: object, field: str, value: object) -> None:
    log.error("%s %s: field %r has an unexpected value %.40r; skipped", what, oid, field, value)


def _is_decimal(text: str) -> bool:
    try:
        return Decimal(text).is_finite()
    except InvalidOperation:
        return False


def replace_tax_rates(conn: sqlite3.Connection, rates: Iterable[Any]) -> int:
    """Replace all tax rates with ``rates`` (``GET /taxes`` objects); returns how many stored."""
    rows: list[tuple[Any, ...]] = []
    for r in rates:
        rid = r.get("id") if isinstance(r, dict) else None
        if type(rid) is not int:
            _skip("tax rate", "?", "id", rid)
            continue
        rate = r.get("rate")
        if type(rate) is not str or not _is_decimal(rate):
            # WooCommerce sends the rate as a decimal string ("19.0000"); the
            # till computes tax from it, so anything else cannot be used.
            _skip("tax rate", rid, "rate", rate)
            continue
        ints = ("priority", "order")
        bad = next((f for f in ints if r.get(f) is not None and type(r.get(f)) is not int), None)
        if bad is not None:
            _skip("tax rate", rid, bad, r.get(bad))
            continue
        postcodes = r.get("postcodes")
        if postcodes is None:
            postcodes = [r["postcode"]] if r.get("postcode") else []
        cities = r.get("cities")
        if cities is None:
            cities = [r["city"]] if r.get("city") else []
        rows.append((
            rid, str(r.get("country") or ""), str(r.get("state") or ""),
            _encode(postcodes).decode(), _encode(cities).decode(), rate,
            str(r.get("name") or ""), int(r.get("priority") or 1), int(bool(r.get("compound"))),
            int(bool(r.get("shipping", True))), int(r.get("order") or 0),
            str(r.get("class") or "standard"), _encode(r).decode(),
        ))  # fmt: skip
    conn.execute("DELETE FROM tax_rates")
    conn.executemany(
        "INSERT INTO tax_rates (id, country, state, postcodes, cities, rate, name, priority,"
        " compound, shipping, rate_order, class, raw) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        rows,
    )
    return len(rows)


def replace_tax_classes(conn: sqlite3.Connection, classes: Iterable[Any]) -> int:
    """Replace all tax classes (``GET /taxes/classes``)."""
    rows = []
    for c in classes:
        slug = c.get("slug") if isinstance(c, dict) else None
        if type(slug) is not str:
            _skip("tax class", "?", "slug", slug)
            continue
        rows.append((slug, str(c.get("name") or slug)))
    conn.execute("DELETE FROM tax_classes")
    conn.executemany("INSERT OR REPLACE INTO tax_classes (slug, name) VALUES (?, ?)", rows)
    return len(rows)


def replace_categories(conn: sqlite3.Connection, categories: Iterable[Any]) -> int:
    """Replace all product categories (``GET /products/categories``)."""
    rows = []
    for c in categories:
        cid = c.get("id") if isinstance(c, dict) else None
        if type(cid) is not int or type(c.get("name")) is not str:
            _skip("category", cid, "id/name", c)
            continue
        parent = c.get("parent")
        rows.append(
            (cid, parent if type(parent) is int else 0, c["name"], str(c.get("slug") or ""),
             _encode(c).decode())
        )  # fmt: skip
    conn.execute("DELETE FROM categories")
    conn.executemany(
        "INSERT OR REPLACE INTO categories (id, parent, name, slug, raw) VALUES (?,?,?,?,?)", rows
    )
    return len(rows)


def replace_settings(conn: sqlite3.Connection, group: str, items: Iterable[Any]) -> int:
    """Replace one settings group (``general`` or ``tax``): id -> value (non-strings as JSON)."""
    rows = []
    for s in items:
        sid = s.get("id") if isinstance(s, dict) else None
        if type(sid) is not str or "value" not in s:
            _skip(f"setting ({group})", sid, "id/value", s)
            continue
        value = s["value"]
        rows.append((group, sid, value if type(value) is str else _encode(value).decode()))
    conn.execute("DELETE FROM settings WHERE grp = ?", (group,))
    conn.executemany("INSERT OR REPLACE INTO settings (grp, id, value) VALUES (?, ?, ?)", rows)
    return len(rows)


def get_setting(conn: sqlite3.Connection, group: str, sid: str) -> str | None:
    """One stored setting value, e.g. ``get_setting(conn, 'general', 'woocommerce_currency')``."""
    row = conn.execute(
        "SELECT value FROM settings WHERE grp = ? AND id = ?", (group, sid)
    ).fetchone()
    return None if row is None else str(row[0])
