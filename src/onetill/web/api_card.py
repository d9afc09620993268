"""The Card button's JSON API on the till's Stripe reader (``web.card_terminal``).

- ``GET /api/card``: whether Card works now and, if not, why (Stripe not
  set up or unreachable, no reader, reader offline); payments still on the
  reader (after a restart: to resume or cancel); the demo's test cards
- ``POST /api/card/payments`` ``{sale_key, lines, expected_total,
  test_card?}``: check the sale as ``POST /api/sales`` does, price it, hand
  it to the reader; answers the payment at once (201)
- ``GET /api/card/payments/{id}``: what the reader is doing, or the outcome
  (the reason in plain words when not paid, the receipt when paid)
- ``POST /api/card/payments/{id}/cancel`` (stop the reader; the cart can
  try again), ``/resume`` (carry on after a restart), ``/abandon`` (cancel
  a payment left in progress for good)

The browser's sale key is the sale's UUID, and the payment's: a double
click or a retried request finds the payment already on the reader, and a
sale already paid answers its receipt.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import anyio.to_thread
import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from onetill.store.orders import get_order
from onetill.web.card_terminal import CardUnavailable, TerminalCard
from onetill.web.cart_view import LineIn
from onetill.web.context import BadRequest, Till, error, json_response
from onetill.web.receipts import receipt
from onetill.web.sales import PaymentIn, SaleIn, SaleRefused, check_sale, prepare_card_sale

__all__ = ["card_routes"]

T = TypeVar("T")


class CardStartIn(msgspec.Struct, forbid_unknown_fields=True):
    sale_key: str
    lines: list[LineIn]
    expected_total: str
    test_card: str | None = None  # the demo's simulated customer


def card_routes(till: Till) -> list[Route]:
    card = till.card
    if not isinstance(card, TerminalCard):
        return []

    async def blocking(work: Callable[..., T], *args: Any) -> T:
        return await anyio.to_thread.run_sync(work, *args)

    def with_receipt(view: dict[str, Any]) -> dict[str, Any]:
        if view.get("paid"):
            order = get_order(till.conn, str(view["sale_uuid"]), with_lines=True)
            view["receipt"] = receipt(till.conn, order, till.fmt(), till.timezone, till.store())
            if view.get("id") and card.newly_paid(str(view["id"])):
                till.backend.notify_sale()  # upload it now
        return view

    def till_id() -> str | None:
        return till.config.till_id if till.config is not None else None

    async def availability(request: Request) -> Response:
        tid = till_id()
        if tid is None:
            data: dict[str, Any] = {"available": False, "reason": "Connect a store first.",
                                    "in_progress": []}  # fmt: skip
        else:
            data = await blocking(card.availability, tid)
        data["test_cards"] = [{"name": n, "label": label} for n, label in card.test_cards]
        return json_response(data)

    async def start(request: Request) -> Response:
        tid = till_id()
        if tid is None:
            return error(409, "not_connected", "connect a store before selling")
        try:
            body = await till.body(request, CardStartIn)
        except BadRequest as exc:
            return error(400, "invalid", str(exc))
        sale = SaleIn(body.sale_key, body.lines, PaymentIn(method="card"), body.expected_total)
        cfg = till.sale_settings()
        try:
            existing, _ = await till.write(lambda db: check_sale(db.conn, sale, cfg))
            if existing is not None:  # paid and recorded already: its receipt again
                return json_response(with_receipt({
                    "id": None, "sale_uuid": existing.uuid, "state": "paid", "paid": True,
                    "running": False, "unsettled": False, "replayed": True,
                }))  # fmt: skip
            prepared = await till.write(lambda db: prepare_card_sale(db, sale, cfg))
            view = await blocking(card.start, tid, prepared.order, prepared.lines, body.test_card)
        except SaleRefused as exc:
            return json_response(exc.body(), status=exc.status)
        except CardUnavailable as exc:
            return error(409, "card_unavailable", str(exc))
        return json_response(with_receipt(view), status=201)

    async def payment(request: Request) -> Response:
        tid = till_id()
        if tid is None:
            return error(409, "not_connected", "connect a store first")
        pid = str(request.path_params["payment_id"])
        action = request.path_params.get("action")
        work: dict[str | None, Callable[[], dict[str, Any]]] = {
            None: lambda: card.status(tid, pid),
            "cancel": lambda: card.cancel(tid, pid),
            "resume": lambda: card.resume(tid, pid, None),
            "abandon": lambda: card.abandon(tid, pid),
        }
        if action not in work:
            return error(404, "not_found", f"no card payment action {action!r}")
        try:
            view = await blocking(work[action])
        except KeyError:
            return error(404, "not_found", "no such card payment on this till")
        except CardUnavailable as exc:
            return error(409, "card_unavailable", str(exc))
        return json_response(with_receipt(view))

    return [
        Route("/api/card", availability),
        Route("/api/card/payments", start, methods=["POST"]),
        Route("/api/card/payments/{payment_id}", payment),
        Route("/api/card/payments/{payment_id}/{action}", payment, methods=["POST"]),
    ]
