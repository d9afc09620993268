"""Which store a till's database belongs to, and starting afresh with another one.

A till's catalog, cursors and queued sales belong to one WooCommerce store.
Connecting the till to another store must not send the old store's queued
sales to the new one, nor keep selling from the old catalog: the caller
refuses while sales wait (``unsent_orders``), and otherwise calls
``forget_store``, which drops the old store's catalog, settings, cursors
and webhook history and keeps every order (the sales history stays
readable). The store a database belongs to is ``sync_state['store.identity']``.
"""

from __future__ import annotations

import sqlite3

from onetill.store.discrepancies import log_discrepancy
from onetill.store.sync_state import get_state, set_state

__all__ = [
    "IDENTITY",
    "UNSENT_STATES",
    "forget_store",
    "record_identity",
    "store_identity",
    "unsent_orders",
]

IDENTITY = "store.identity"
# Sales not (known to be) in the store: they would be uploaded wherever the till points.
UNSENT_STATES = ("pending_sync", "in_flight", "failed")
_CATALOG_TABLES = (
    "products", "tax_rates", "tax_classes", "categories", "settings", "catalog_problems",
    "webhook_deliveries",
)  # fmt: skip
# sync_state keys that describe the old store (cursors, resume points, progress, pauses).
_STORE_STATE = ("catalog.", "initial.", "audit.", "progress", "store.", "outbox.paused")


def store_identity(conn: sqlite3.Connection) -> str | None:
    """The store this database's catalog and queue belong to (None: not recorded)."""
    return get_state(conn, IDENTITY)


def unsent_orders(conn: sqlite3.Connection) -> dict[str, int]:
    """How many orders wait in each state that has not reached the store."""
    marks = ",".join("?" * len(UNSENT_STATES))
    return {
        str(r[0]): int(r[1])
        for r in conn.execute(
            f"SELECT state, COUNT(*) FROM orders WHERE state IN ({marks}) GROUP BY state",
            UNSENT_STATES,
        )
    }


def forget_store(conn: sqlite3.Connection, old: str | None, new: str) -> None:
    """Start afresh for the store ``new``: no catalog, no cursors; orders kept. In a write."""
    for table in _CATALOG_TABLES:
        conn.execute(f"DELETE FROM {table}")
    for prefix in _STORE_STATE:
        conn.execute("DELETE FROM sync_state WHERE substr(key, 1, ?) = ?", (len(prefix), prefix))
    log_discrepancy(
        conn, "store", new, "identity", old, new,
        "connect: another store; the old store's catalog and cursors were dropped, "
        "its orders kept",
    )  # fmt: skip
    set_state(conn, IDENTITY, new)


def record_identity(conn: sqlite3.Connection, identity: str) -> None:
    """Note which store this database belongs to (same store reconnected). In a write."""
    if get_state(conn, IDENTITY) != identity:
        set_state(conn, IDENTITY, identity)
