"""An order as the receipt and the orders screens show it.

Everything a printed receipt needs: the store's name and address, the sale
time in the store's timezone, the lines, one tax line per rate, total,
tendered and change, the payment, the order's short UUID and, once the
order is in WooCommerce, its order number.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from onetill.store.order_records import OrderRecord, parse_ts
from onetill.web.cart_view import tax_labels
from onetill.web.money import MoneyFormat

__all__ = ["STATE_TEXT", "order_summary", "receipt", "store_identity"]

STATE_TEXT = {
    "pending_sync": "Waiting to upload",
    "in_flight": "Uploading",
    "synced": "In WooCommerce",
    "synced_with_discrepancy": "In WooCommerce, with a difference",
    "failed": "Failed: needs attention",
    "voided": "Voided",
}


def _local(moment: str, timezone: str) -> datetime:
    try:
        zone = ZoneInfo(timezone or "UTC")
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    return parse_ts(moment).astimezone(zone)


def store_identity(conn: sqlite3.Connection, name: str, url: str) -> dict[str, Any]:
    """The receipt's header: the store's name and address from its settings."""
    values = {
        str(r[0]): str(r[1])
        for r in conn.execute(
            "SELECT id, value FROM settings WHERE grp = 'general' AND id IN ("
            "'woocommerce_store_address', 'woocommerce_store_address_2',"
            " 'woocommerce_store_city', 'woocommerce_store_postcode')"
        )
    }
    city = " ".join(
        v for v in (values.get("woocommerce_store_postcode"), values.get("woocommerce_store_city"))
        if v
    )
    lines = [
        v for v in (values.get("woocommerce_store_address"),
                    values.get("woocommerce_store_address_2"), city) if v
    ]  # fmt: skip
    return {"name": name or url, "address": lines, "url": url}


def order_summary(order: OrderRecord, fmt: MoneyFormat, timezone: str) -> dict[str, Any]:
    """One row of the orders list."""
    when = _local(order.created_at, timezone)
    return {
        "uuid": order.uuid,
        "short": order.uuid[:8],
        "state": order.state,
        "state_text": STATE_TEXT.get(order.state, order.state),
        "number": order.remote_number,
        "total_text": fmt.format(order.total),
        "payment": order.payment_title,
        "time_text": when.strftime("%H:%M"),
        "date_text": when.strftime("%d %b %Y"),
        "created_at": order.created_at,
        "attempts": order.attempts,
        "last_error": order.last_error,
        "discrepancy": order.discrepancy,
    }


def receipt(
    conn: sqlite3.Connection,
    order: OrderRecord,
    fmt: MoneyFormat,
    timezone: str,
    store: dict[str, Any],
) -> dict[str, Any]:
    """The whole order: receipt, sync state and attempts."""
    when = _local(order.created_at, timezone)
    labels = tax_labels(conn)
    try:
        raw_taxes = json.loads(order.tax_lines or "{}")
    except ValueError:
        raw_taxes = {}
    taxes = [
        {"label": labels.get(int(rid), f"Tax #{rid}"), "amount_text": fmt.format(amount)}
        for rid, amount in sorted(raw_taxes.items(), key=lambda kv: int(kv[0]))
        if Decimal(str(amount)) != 0 or len(raw_taxes) == 1
    ]
    incl = conn.execute(
        "SELECT value FROM settings WHERE grp = 'tax' AND id = 'woocommerce_prices_include_tax'"
    ).fetchone()
    card = ""
    if order.card_brand or order.card_last4:
        card = f"{order.card_brand.title() or 'Card'} •••• {order.card_last4 or '????'}"
    lines = [
        {"name": li.name, "sku": li.sku, "qty": li.quantity,
         "unit_text": fmt.format(li.unit_price),
         "amount_text": fmt.format(Decimal(li.unit_price) * li.quantity)}
        for li in order.lines
    ]  # fmt: skip
    return {
        **order_summary(order, fmt, timezone),
        "store": store,
        "datetime_text": when.strftime("%d %b %Y %H:%M"),
        "timezone": timezone,
        "till_id": order.till_id,
        "lines": lines,
        "items": sum(li.quantity for li in order.lines),
        "subtotal_text": fmt.format(order.subtotal),
        "taxes": taxes,
        "prices_include_tax": bool(incl and str(incl[0]).lower() == "yes"),
        "tax_total_text": fmt.format(order.total_tax),
        "total_text": fmt.format(order.total),
        "method": "cash" if order.tendered else "card",
        "payment_title": order.payment_title,
        "tendered_text": fmt.format(order.tendered) if order.tendered else "",
        "change_text": fmt.format(order.change) if order.tendered else "",
        "card": card,
        "reference": order.transaction_id,
        "next_attempt_at": order.next_attempt_at,
        "first_sent_at": order.first_sent_at,
        "in_flight_since": order.in_flight_since,
        "void_reason": order.void_reason,
    }
