"""The ordered list of named migrations. Append only; never edit a shipped one."""

from __future__ import annotations

from onetill.store import (
    schema_catalog,
    schema_engine,
    schema_orders,
    schema_payments,
    schema_plugin,
    schema_problems,
)

__all__ = ["MIGRATIONS"]

MIGRATIONS: list[tuple[str, list[str]]] = [
    ("0001_catalog", schema_catalog.STATEMENTS),
    ("0002_orders", schema_orders.STATEMENTS),
    ("0003_engine", schema_engine.STATEMENTS),
    ("0004_stripe_payments", schema_payments.STATEMENTS),
    ("0005_order_store_copies", schema_orders.STORE_COPIES),
    ("0006_catalog_problems", schema_problems.STATEMENTS),
    ("0007_plugin_uploads", schema_plugin.STATEMENTS),
]
