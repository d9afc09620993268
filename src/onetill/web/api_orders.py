"""The orders and needs-attention screens' JSON API.

- ``GET /api/orders?filter=all|pending|synced|failed|attention|voided&day=today|all``
- ``GET /api/orders/{uuid}``: the receipt, the sync state and the attempts
- ``POST /api/orders/{uuid}/retry``; ``POST /api/orders/{uuid}/void`` ``{"reason": ...}``
- ``GET /api/attention``: failed orders, orders in WooCommerce with a
  difference, recent stock discrepancies, and whether uploads are paused

Nothing here deletes an order: a void keeps it, with its reason.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from onetill.store.discrepancies import list_discrepancies
from onetill.store.order_views import count_since, recent_orders
from onetill.store.orders import OrderStateError, get_order
from onetill.store.outbox import retry_order, void_order
from onetill.store.sync_state import get_state
from onetill.web.context import BadRequest, Till, error, json_response
from onetill.web.receipts import order_summary, receipt

__all__ = ["FILTERS", "order_routes"]

FILTERS: dict[str, list[str] | None] = {
    "all": None,
    "pending": ["pending_sync", "in_flight"],
    "synced": ["synced"],
    "failed": ["failed"],
    "attention": ["failed", "synced_with_discrepancy"],
    "discrepancy": ["synced_with_discrepancy"],
    "voided": ["voided"],
}


class VoidIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: str


def _start_of_today(timezone: str) -> datetime:
    try:
        zone = ZoneInfo(timezone or "UTC")
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    today = datetime.now(zone).date()
    return datetime.combine(today, time(0, 0), tzinfo=zone).astimezone(UTC)


def order_routes(till: Till) -> list[Route]:
    async def orders(request: Request) -> Response:
        which = request.query_params.get("filter", "all")
        if which not in FILTERS:
            return error(400, "invalid", f"filter must be one of {', '.join(FILTERS)}")
        day = request.query_params.get("day", "today")
        since = _start_of_today(till.timezone) if day == "today" else None
        rows = recent_orders(till.conn, states=FILTERS[which], since=since, limit=300)
        fmt = till.fmt()
        counts = count_since(till.conn, since)
        return json_response({
            "filter": which, "day": day,
            "orders": [order_summary(o, fmt, till.timezone) for o in rows],
            "counts": {name: sum(counts.get(s, 0) for s in states) if states is not None
                       else sum(counts.values()) for name, states in FILTERS.items()},
        })  # fmt: skip

    def _find(uuid: str) -> Any:
        if len(uuid) < 8 or len(uuid) > 36:
            raise KeyError("give at least 8 characters of the order's UUID")
        return get_order(till.conn, uuid, with_lines=True)

    async def order(request: Request) -> Response:
        try:
            found = _find(request.path_params["uuid"])
        except KeyError as exc:
            return error(404, "not_found", str(exc).strip("'\""))
        return json_response(receipt(till.conn, found, till.fmt(), till.timezone, till.store()))

    async def retry(request: Request) -> Response:
        uuid = request.path_params["uuid"]
        try:
            await till.write(
                lambda db: _in_write(db, lambda conn: retry_order(conn, uuid))
            )
        except (KeyError, OrderStateError) as exc:
            return error(409, "state", str(exc).strip("'\""))
        till.backend.notify_sale()  # the drainer picks it up now
        return json_response(receipt(till.conn, _find(uuid), till.fmt(), till.timezone,
                                     till.store()))  # fmt: skip

    async def void(request: Request) -> Response:
        uuid = request.path_params["uuid"]
        try:
            body = await till.body(request, VoidIn)
            reason = body.reason.strip()
            if not reason:
                raise BadRequest("say why the order is voided (the reason is kept with it)")
            if len(reason) > 500:
                raise BadRequest("the reason is over 500 characters")
            await till.write(lambda db: _in_write(db, lambda conn: void_order(conn, uuid, reason)))
        except BadRequest as exc:
            return error(400, "invalid", str(exc))
        except (KeyError, OrderStateError) as exc:
            return error(409, "state", str(exc).strip("'\""))
        if till.backend.hub is not None:
            till.backend.hub.changed()
        return json_response(receipt(till.conn, _find(uuid), till.fmt(), till.timezone,
                                     till.store()))  # fmt: skip

    async def attention(request: Request) -> Response:
        conn = till.conn
        fmt = till.fmt()
        failed = recent_orders(conn, states=["failed"], limit=200)
        differ = recent_orders(conn, states=["synced_with_discrepancy"], limit=100)
        names = {
            int(r[0]): str(r[1])
            for r in conn.execute("SELECT id, name FROM products WHERE id IN (SELECT CAST("
                                  "object_id AS INTEGER) FROM discrepancies WHERE object_type"
                                  " IN ('product', 'variation') ORDER BY id DESC LIMIT 50)")
        }  # fmt: skip
        stock = [
            {"at": d.at, "object": d.object_type, "id": d.object_id,
             "name": names.get(int(d.object_id), "") if d.object_id.isdigit() else "",
             "field": d.field, "local": d.local_value, "store": d.store_value, "cause": d.cause}
            for d in list_discrepancies(conn, limit=50)
            if d.object_type in ("product", "variation")
        ]  # fmt: skip
        return json_response({
            "failed": [order_summary(o, fmt, till.timezone) for o in failed],
            "discrepancies": [order_summary(o, fmt, till.timezone) for o in differ],
            "stock": stock,
            "paused": get_state(conn, "outbox.paused") or None,
            "store_url": till.config.url if till.config else "",
        })  # fmt: skip

    return [
        Route("/api/orders", orders),
        Route("/api/orders/{uuid}", order),
        Route("/api/orders/{uuid}/retry", retry, methods=["POST"]),
        Route("/api/orders/{uuid}/void", void, methods=["POST"]),
        Route("/api/attention", attention),
    ]


def _in_write(db: Any, action: Any) -> Any:
    with db.write() as conn:
        return action(conn)
