"""Card payment attempts (table ``card_payments``, see ``schema_payments``).

Writers run inside the caller's ``db.write()``. Recording the paid sale and
marking the attempt ``paid`` happen in one transaction
(:func:`record_paid_sale`), so a charged card has exactly one sale.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any

from onetill.store.order_records import NewLine, NewOrder, format_ts, parse_ts
from onetill.store.orders import insert_sale

__all__ = [
    "FINAL_STATES",
    "OPEN_STATES",
    "CardPayment",
    "decode_sale",
    "encode_sale",
    "get_payment",
    "insert_payment",
    "list_payments",
    "open_payments",
    "payment_by_intent",
    "record_paid_sale",
    "update_payment",
]

OPEN_STATES = ("starting", "open", "processing")
FINAL_STATES = ("paid", "canceled")


@dataclass(frozen=True)
class CardPayment:
    id: str
    sale_uuid: str
    cart_key: str
    till_id: str
    amount: int
    currency: str
    reader_id: str
    idem_key: str
    intent_id: str | None
    handoffs: int
    state: str
    reader_text: str
    failure_code: str | None
    failure_reason: str | None
    charge_id: str | None
    card_brand: str | None
    card_last4: str | None
    sale_json: str
    created_at: str
    updated_at: str

    def as_dict(self) -> dict[str, Any]:
        """What ``onetill payments --json`` and the till screen see (no sale body)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out.pop("sale_json")
        return out


_COLUMNS = ", ".join(f.name for f in fields(CardPayment))
_WRITABLE = frozenset(f.name for f in fields(CardPayment)) - {"id", "created_at"}


def insert_payment(conn: sqlite3.Connection, payment: CardPayment) -> None:
    marks = ", ".join("?" * len(fields(CardPayment)))
    conn.execute(
        f"INSERT INTO card_payments ({_COLUMNS}) VALUES ({marks})",
        tuple(getattr(payment, f.name) for f in fields(CardPayment)),
    )


def update_payment(
    conn: sqlite3.Connection, payment_id: str, now: datetime, **changes: Any
) -> CardPayment:
    unknown = set(changes) - _WRITABLE
    if unknown:
        raise ValueError(f"card_payments has no writable column(s) {sorted(unknown)}")
    changes["updated_at"] = format_ts(now)
    assignments = ", ".join(f"{k} = ?" for k in changes)
    conn.execute(
        f"UPDATE card_payments SET {assignments} WHERE id = ?", (*changes.values(), payment_id)
    )
    return get_payment(conn, payment_id)


def _row(row: sqlite3.Row | tuple[Any, ...]) -> CardPayment:
    return CardPayment(*tuple(row))


def get_payment(conn: sqlite3.Connection, payment_id: str) -> CardPayment:
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM card_payments WHERE id = ? OR sale_uuid = ?",
        (payment_id, payment_id),
    ).fetchone()
    if row is None and len(payment_id) >= 8:
        rows = conn.execute(
            f"SELECT {_COLUMNS} FROM card_payments WHERE id LIKE ? LIMIT 2", (payment_id + "%",)
        ).fetchall()
        row = rows[0] if len(rows) == 1 else None
    if row is None:
        raise KeyError(f"no card payment {payment_id!r}; `onetill payments` lists them")
    return _row(row)


def payment_by_intent(conn: sqlite3.Connection, intent_id: str) -> CardPayment | None:
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM card_payments WHERE intent_id = ?", (intent_id,)
    ).fetchone()
    return None if row is None else _row(row)


def open_payments(conn: sqlite3.Connection, till_id: str | None = None) -> list[CardPayment]:
    """Attempts not yet paid or canceled, oldest first."""
    sql = f"SELECT {_COLUMNS} FROM card_payments WHERE state IN ('starting','open','processing')"
    params: list[Any] = []
    if till_id is not None:
        sql += " AND till_id = ?"
        params.append(till_id)
    return [_row(r) for r in conn.execute(sql + " ORDER BY created_at", params).fetchall()]


def list_payments(conn: sqlite3.Connection, limit: int = 50) -> list[CardPayment]:
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM card_payments ORDER BY created_at DESC LIMIT ?", (limit,)
    ).fetchall()
    return [_row(r) for r in rows]


def record_paid_sale(
    conn: sqlite3.Connection,
    payment_id: str,
    order: NewOrder,
    lines: list[NewLine],
    now: datetime,
    **changes: Any,
) -> bool:
    """Record the sale of a charged payment and mark the attempt ``paid``, once.

    Returns False when the sale was already recorded (a second recovery of
    the same payment): the order's UUID is the attempt's ``sale_uuid``, so
    one charge can never make two sales.
    """
    exists = conn.execute("SELECT 1 FROM orders WHERE uuid = ?", (order.uuid,)).fetchone()
    if exists is None:
        insert_sale(conn, order, lines)
    update_payment(conn, payment_id, now, state="paid", **changes)
    return exists is None


def encode_sale(order: NewOrder, lines: list[NewLine]) -> str:
    """The priced sale as stored with its payment attempt (JSON)."""
    head = asdict(order)
    head["created_at"] = format_ts(order.created_at)
    return json.dumps({"order": head, "lines": [asdict(line) for line in lines]})


def decode_sale(text: str) -> tuple[NewOrder, list[NewLine]]:
    data = json.loads(text)
    head = dict(data["order"])
    head["created_at"] = parse_ts(head["created_at"])
    return NewOrder(**head), [NewLine(**line) for line in data["lines"]]
