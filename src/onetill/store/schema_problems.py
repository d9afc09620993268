"""Catalog items the store sent but the till could not take (migration ``0004_catalog_problems``).

One row per item whose latest copy was refused (a field of the wrong type,
an integer out of range, an id that is not a number). While the row exists
the item is not sold ("needs a look in WooCommerce"): the till keeps no
stale price on sale. The next good copy of the item removes the row.
``object_id`` is text: a broken store may send an id that is not a number.
"""

from __future__ import annotations

__all__ = ["STATEMENTS"]

STATEMENTS: list[str] = [
    """
    CREATE TABLE catalog_problems (
        object_id TEXT PRIMARY KEY,        -- the id as sent ("12", or "'abc'" when not a number)
        object_type TEXT NOT NULL,         -- product | variation
        field TEXT NOT NULL,
        value TEXT,                        -- the value as received, cut short
        problem TEXT NOT NULL,
        cause TEXT NOT NULL,               -- which sync or webhook brought it
        at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    )
    """,
]
