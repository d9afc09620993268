"""Items the store sent that the till could not take, and the rule that they are not sold.

``note_problem`` records the item (log, ``catalog_problems``, and a
discrepancy when the problem is new, so a poll re-reading the same broken
item does not repeat it), and takes a known item off sale. A good copy
clears it (``clear_problems``, called by ``apply_items``). ``NOT_BROKEN``
is the SQL condition every sellability rule adds.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable

import msgspec

from onetill.store.catalog_rows import MAX_ID
from onetill.store.discrepancies import log_discrepancy

__all__ = [
    "NOT_BROKEN",
    "CatalogProblem",
    "clear_id_problems",
    "clear_problems",
    "count_problems",
    "get_problem",
    "list_problems",
    "note_problem",
]

log = logging.getLogger("onetill.catalog")

# Appended to the sellability rules: an item whose latest copy was refused is not sold.
NOT_BROKEN = (
    "NOT EXISTS (SELECT 1 FROM catalog_problems c WHERE c.object_id = CAST(products.id AS TEXT))"
)


class CatalogProblem(msgspec.Struct, frozen=True):
    """One item the till could not take: which, which field, what came, and why not."""

    object_id: str
    object_type: str
    field: str
    value: str | None
    problem: str
    cause: str
    at: str

    def describe(self) -> str:
        return f"{self.object_type} {self.object_id}: field {self.field!r} {self.problem}"


def note_problem(
    conn: sqlite3.Connection,
    object_type: str,
    object_id: object,
    field: str,
    value: str | None,
    problem: str,
    cause: str,
) -> bool:
    """Record that the store's copy of an item was refused; take it off sale.

    ``object_id`` is the item's id, or (when the id itself is unreadable) a
    text showing what came instead. Returns True when this problem is new
    for the item (then it is logged and written to the discrepancy log).
    Call inside ``db.write()``.
    """
    known = type(object_id) is int and 0 < object_id <= MAX_ID
    key = str(object_id) if known else object_id if isinstance(object_id, str) else "?"
    row = conn.execute(
        "SELECT field, value, problem FROM catalog_problems WHERE object_id = ?", (key,)
    ).fetchone()
    new = row is None or tuple(row) != (field, value, problem)
    conn.execute(
        "INSERT INTO catalog_problems (object_id, object_type, field, value, problem, cause)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(object_id) DO UPDATE SET"
        " object_type = excluded.object_type, field = excluded.field, value = excluded.value,"
        " problem = excluded.problem, cause = excluded.cause",
        (key, object_type, field, value, problem, cause),
    )
    if known:
        conn.execute("UPDATE products SET sellable = 0 WHERE id = ?", (object_id,))
    if new:
        log.error("%s %s: field %r %s; not taken (%s): needs a look in WooCommerce",
                  object_type, key, field, problem, cause)  # fmt: skip
        log_discrepancy(
            conn, object_type, key, field, None, value,
            f"{cause}: not taken, {problem}; needs a look in WooCommerce",
        )  # fmt: skip
    return new


def clear_problems(conn: sqlite3.Connection, ids: Iterable[int]) -> None:
    """A good copy of these items arrived: they are no longer a problem."""
    keys = [str(i) for i in ids]
    if keys:
        conn.execute(
            "DELETE FROM catalog_problems WHERE object_id IN (SELECT value FROM json_each(?))",
            (msgspec.json.encode(keys).decode(),),
        )


def clear_id_problems(conn: sqlite3.Connection, still_listed: Iterable[str]) -> None:
    """Forget items refused for an unusable id that a full id listing no longer shows
    (a good copy of such an item cannot say which problem it fixed)."""
    conn.execute(
        "DELETE FROM catalog_problems WHERE field = 'id'"
        " AND object_id NOT IN (SELECT value FROM json_each(?))",
        (msgspec.json.encode(sorted(set(still_listed))).decode(),),
    )


def get_problem(conn: sqlite3.Connection, item_id: int) -> CatalogProblem | None:
    """Why this item is not sold, if its latest copy was refused."""
    row = conn.execute(
        "SELECT object_id, object_type, field, value, problem, cause, at FROM catalog_problems"
        " WHERE object_id = ?",
        (str(item_id),),
    ).fetchone()
    return None if row is None else CatalogProblem(*tuple(row))


def list_problems(conn: sqlite3.Connection, limit: int | None = None) -> list[CatalogProblem]:
    """The items waiting for a good copy, newest first."""
    sql = (
        "SELECT object_id, object_type, field, value, problem, cause, at FROM catalog_problems"
        " ORDER BY at DESC, object_id"
    )
    params: tuple[int, ...] = ()
    if limit is not None:
        sql += " LIMIT ?"
        params = (limit,)
    return [CatalogProblem(*tuple(r)) for r in conn.execute(sql, params)]


def count_problems(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM catalog_problems").fetchone()[0])
