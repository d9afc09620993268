"""The till screen as one ASGI app, wrapped around the engine's.

``till_ui(card=..., token=...)`` is the factory ``onetill run`` and
``onetill demo`` hand to the engine (``Engine(ui=...)``): given the engine
(a ``TillBackend``) and its app (``/api/status``, ``/api/status/stream``,
``/webhooks/woocommerce``), it answers the till's own routes and passes the
rest on, all behind ``GuardMiddleware``.

Pages: ``/`` (the single-page till: sell, orders, needs attention, and the
first-run connect and sync screens), ``/login`` (LAN mode). Static files are
written here, with no build step and nothing from a CDN.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import msgspec
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sse_starlette.sse import EventSourceResponse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from onetill.store.order_views import count_since
from onetill.web.api_card import card_routes
from onetill.web.api_orders import order_routes
from onetill.web.api_sell import sell_routes
from onetill.web.api_setup import setup_routes
from onetill.web.backend import TillBackend
from onetill.web.context import Till, json_response
from onetill.web.payments import CardPayments, ManualCard
from onetill.web.security import Guard, GuardMiddleware, session_of
from onetill.web.status_view import augment

__all__ = ["TillApp", "till_ui"]

log = logging.getLogger("onetill.web")

_HERE = Path(__file__).parent
_templates = Environment(
    loader=FileSystemLoader(_HERE / "templates"),
    autoescape=select_autoescape(["html"]),
)


class TillApp:
    """The guarded app; ``aclose()`` closes the screen's database connections."""

    def __init__(self, app: Any, till: Till) -> None:
        self._app = app
        self.till = till

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self._app(scope, receive, send)

    async def aclose(self) -> None:
        self.till.close()


def till_ui(*, card: CardPayments | None = None, token: str | None = None) -> Any:
    """The factory for ``Engine(ui=...)``. ``token``: LAN mode with this access token.

    ``card``: how the Card button takes payments; ``ManualCard`` (the default)
    records a payment taken on a terminal the till does not talk to,
    ``web.card_terminal.TerminalCard`` takes it on the till's Stripe reader.
    """

    def build(backend: TillBackend, engine_app: Any) -> TillApp:
        guard = Guard(token)
        till = Till(backend, card or ManualCard(), guard)
        return TillApp(GuardMiddleware(create_till_app(till, engine_app), guard), till)

    return build


def _boot(till: Till, request: Request) -> dict[str, Any]:
    """What the page needs to start: its CSRF token and the store's ways."""
    sid = session_of(request.scope, till.guard)
    cfg = till.config
    return {
        "csrf": till.guard.csrf(sid),
        "lan": till.guard.lan,
        "connected": cfg is not None,
        "demo": bool(cfg and cfg.extra.get("demo") and till.backend.demo is not None),
        "card": {"kind": till.card.kind, "label": till.card.label},
        "money": msgspec.to_builtins(till.fmt()),
        "store": till.store(),
        "till_id": cfg.till_id if cfg else "",
        "timezone": till.timezone,
    }


def create_till_app(till: Till, engine_app: Any) -> Starlette:
    async def index(request: Request) -> Response:
        page = _templates.get_template("till.html").render(
            boot=_boot(till, request), store=till.store()
        )
        return HTMLResponse(page, headers={"cache-control": "no-store"})

    async def session(request: Request) -> Response:
        return json_response(_boot(till, request))

    async def login_page(request: Request) -> Response:
        if not till.guard.lan:
            return RedirectResponse("/", status_code=303)
        return HTMLResponse(_templates.get_template("login.html").render(error=""))

    async def login(request: Request) -> Response:
        if not till.guard.lan:
            return RedirectResponse("/", status_code=303)
        client = request.client.host if request.client else "?"
        raw = (await request.body())[:4096].decode("utf-8", "replace")
        typed = (parse_qs(raw).get("token") or [""])[0]
        if till.guard.check_token(typed, client):
            response = RedirectResponse("/", status_code=303)
            response.headers.append(
                "set-cookie",
                till.guard.cookie_header(till.guard.new_session(),
                                         secure=request.url.scheme == "https").decode(),
            )  # fmt: skip
            log.info("a device at %s logged in to the till screen", client)
            return response
        message = (
            "Too many wrong tokens: wait a minute, then try again."
            if till.guard.locked_out(client)
            else "That is not the access token. It was printed when the till started."
        )
        page = _templates.get_template("login.html").render(error=message)
        return HTMLResponse(page, status_code=401)

    async def events(request: Request) -> Response:
        hub = till.backend.hub

        async def stream() -> AsyncIterator[dict[str, Any]]:
            first = True
            assert hub is not None
            async for snapshot in hub.watch():
                if await request.is_disconnected():
                    return
                event: dict[str, Any] = {"event": "status", "data": json.dumps(
                    augment(snapshot, till, count_since(till.conn)), default=str)}
                if first:
                    event["retry"] = 1000  # reconnect within a second when the engine is back
                    first = False
                yield event

        return EventSourceResponse(stream(), ping=10, headers={"cache-control": "no-store"})

    async def status(request: Request) -> Response:
        hub = till.backend.hub
        data = hub.current() if hub is not None else {}
        return json_response(augment(data, till, count_since(till.conn)))

    routes = [
        Route("/", index),
        Route("/login", login_page),
        Route("/login", login, methods=["POST"]),
        Route("/api/session", session),
        Route("/api/events", events),
        Route("/api/till/status", status),
        *sell_routes(till),
        *card_routes(till),
        *order_routes(till),
        *setup_routes(till),
        Mount("/static", StaticFiles(directory=_HERE / "static"), name="static"),
        Mount("/", engine_app),
    ]
    return Starlette(routes=routes, exception_handlers={Exception: _internal_error})


async def _internal_error(request: Request, exc: Exception) -> Response:
    # Logged in full for the merchant's logs; the screen gets one line, no traceback.
    log.error("till screen: %s %s failed", request.method, request.url.path, exc_info=exc)
    return json_response(
        {"error": "internal", "message": f"the till could not do that ({type(exc).__name__}); "
         "nothing was changed by this request, and the log has the details"},
        status=500,
    )
