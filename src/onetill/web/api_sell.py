"""The sell screen's JSON API: catalog tiles, search, variations, the cart, the sale.

- ``GET /api/categories``; ``GET /api/products?q=&category=&offset=``;
  ``GET /api/products/{id}/variations``
- ``POST /api/cart``: price the browser's cart after one action (scan, add, set)
- ``POST /api/sales``: record the sale (idempotent by its sale key) and
  answer the receipt

Every answer of ``/api/cart`` carries ``Server-Timing: app;dur=MS`` (the
scan-to-cart benchmark reads it).
"""

from __future__ import annotations

import logging
import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from onetill.pos.cart import CartError
from onetill.pos.prices import PriceError
from onetill.pos.tender import TenderError
from onetill.store.orders import OrderRecord
from onetill.web.cart_view import CartIn, price_cart
from onetill.web.catalog_views import categories, grid, search_tiles, variations
from onetill.web.context import BadRequest, Till, error, json_response
from onetill.web.payments import CardRequest
from onetill.web.receipts import receipt
from onetill.web.sales import SaleIn, SaleRefused, cash_payment, check_sale, record

__all__ = ["sell_routes"]

log = logging.getLogger("onetill.web")


def _int(text: str | None, name: str, default: int | None = None) -> int | None:
    if text in (None, ""):
        return default
    try:
        return int(str(text))
    except ValueError:
        raise BadRequest(f"{name} must be a whole number, not {text!r}") from None


def sell_routes(till: Till) -> list[Route]:
    async def list_categories(request: Request) -> Response:
        return json_response({"categories": categories(till.conn)})

    async def products(request: Request) -> Response:
        q = request.query_params.get("q", "").strip()
        try:
            if q:
                if len(q) > 100:
                    raise BadRequest("search text over 100 characters")
                tiles = search_tiles(till.conn, till.fmt(), till.timezone, q)
                return json_response({"tiles": tiles, "more": False, "offset": 0, "q": q})
            category = _int(request.query_params.get("category"), "category")
            offset = _int(request.query_params.get("offset"), "offset", 0) or 0
            page = grid(till.conn, till.fmt(), till.timezone, category=category,
                        offset=max(0, offset))  # fmt: skip
        except BadRequest as exc:
            return error(400, "invalid", str(exc))
        return json_response(page)

    async def product_variations(request: Request) -> Response:
        found = variations(till.conn, till.fmt(), till.timezone,
                           int(request.path_params["item_id"]))  # fmt: skip
        if found is None:
            return error(404, "not_found", "no variable product with that id in the catalog")
        return json_response(found)

    async def cart(request: Request) -> Response:
        started = time.perf_counter()
        try:
            body = await till.body(request, CartIn)
            policy = till.sale_settings().policy
            priced, _ = price_cart(till.conn, body, till.fmt(), timezone=till.timezone,
                                   policy=policy)  # fmt: skip
        except BadRequest as exc:
            return error(400, "invalid", str(exc))
        except (CartError, PriceError, ValueError) as exc:
            return error(400, "invalid", str(exc))
        took = (time.perf_counter() - started) * 1000
        return json_response(priced, headers={"server-timing": f"app;dur={took:.3f}"})

    async def sales(request: Request) -> Response:
        if till.config is None:
            return error(409, "not_connected", "connect a store before selling")
        try:
            body = await till.body(request, SaleIn)
        except BadRequest as exc:
            return error(400, "invalid", str(exc))
        cfg = till.sale_settings()
        online = till.backend.online
        try:
            existing, total = await till.write(lambda db: check_sale(db.conn, body, cfg))
            if existing is not None:
                return _answer(till, existing, replayed=True)
            if body.payment.method == "card":
                if not online:
                    raise SaleRefused(
                        409, "offline",
                        "card needs the internet: the store is not reachable; take cash",
                    )
                payment = await till.card.charge(CardRequest(
                    body.sale_key, total, cfg.fmt.code, body.payment.reference,
                    body.payment.brand, body.payment.last4,
                ))  # fmt: skip
            else:
                payment = cash_payment(body, cfg.fmt.decimals)
            order, replayed = await till.write(
                lambda db: record(db, body, payment, cfg, online=online)
            )
        except SaleRefused as exc:
            return json_response(exc.body(), status=exc.status)
        except TenderError as exc:
            return error(400, "tender", str(exc))
        if not replayed:
            log.info("sale %s recorded: %s %s", order.uuid, order.total, order.payment_method)
            till.backend.notify_sale()
        return _answer(till, order, replayed=replayed)

    return [
        Route("/api/categories", list_categories),
        Route("/api/products", products),
        Route("/api/products/{item_id:int}/variations", product_variations),
        Route("/api/cart", cart, methods=["POST"]),
        Route("/api/sales", sales, methods=["POST"]),
    ]


def _answer(till: Till, order: OrderRecord, *, replayed: bool) -> Response:
    data = receipt(till.conn, order, till.fmt(), till.timezone, till.store())
    data["replayed"] = replayed
    return json_response(data, status=200 if replayed else 201)
