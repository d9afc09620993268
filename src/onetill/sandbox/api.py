"""``build_api(store)``: every WooCommerce route under ``/wp-json/``, as one Starlette app.

Order of checks, as in WordPress + WooCommerce: authentication (key routes
only) and the read-only write check run first (even for unknown routes), then
route matching (``404 rest_no_route``), JSON decoding (``400
rest_invalid_json``), parameter validation, the permission check (anonymous
``401``) and the handler. Every answer carries ``Date`` from the store's clock.
No middleware: faults and costs are layered on by ``create_app``.
"""

from __future__ import annotations

import inspect
import json
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route as StarletteRoute

from . import companion, orders, products, site, tax_rates, variations, webhook_routes
from .auth import Caller, is_key_route
from .errors import PhpFatal, RestError, localized, no_route
from .rest import Call, Reply, Route
from .state import SandboxStore

__all__ = ["build_api", "routes_for"]

_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
_READ = ("GET", "HEAD", "OPTIONS")


def routes_for(store: SandboxStore) -> list[Route]:
    table = [
        *site.ROUTES,
        *tax_rates.ROUTES,
        *products.ROUTES,
        *variations.ROUTES,
        *orders.ROUTES,
        *webhook_routes.ROUTES,
    ]
    if store.config.global_variations:
        table += variations.GLOBAL_ROUTES
    if store.config.plugin:
        table += companion.ROUTES
    return table


def _params(query: list[tuple[str, str]], form: list[tuple[str, str]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in [*query, *form]:
        if key.endswith("[]"):
            out.setdefault(key[:-2], [])
            if isinstance(out[key[:-2]], list):
                out[key[:-2]].append(value)
        else:
            out[key] = value
    return out


class _Api:
    def __init__(self, store: SandboxStore) -> None:
        self.store = store
        self.table = routes_for(store)

    def _answer(self, status: int, body: Any, headers: dict[str, str], head: bool) -> Response:
        store = self.store
        base = {
            "Date": formatdate(store.now(), usegmt=True),
            "Content-Type": "application/json; charset=UTF-8",
        }
        if "Link" not in headers:
            base["Link"] = f'<{store.config.home_url}/wp-json/>; rel="https://api.w.org/"'
        base.update(headers)
        content = b"" if head else json.dumps(body, ensure_ascii=False).encode()
        for find, replace in store.byte_patches:
            content = content.replace(find, replace)
        return Response(content, status, headers=base)

    async def __call__(self, request: Request) -> Response:
        store = self.store
        store.dispatcher.flush()
        method = request.method.upper()
        head = method == "HEAD"
        route = request.url.path[len("/wp-json") :]
        if route.endswith("/"):
            route = route.rstrip("/")
        raw = await request.body()
        query = list(request.query_params.multi_items())
        ctype = request.headers.get("content-type", "").lower()
        form = (
            parse_qsl(raw.decode("latin-1"), keep_blank_values=True)
            if ctype.startswith("application/x-www-form-urlencoded")
            else []
        )
        headers: dict[str, str] = {}
        try:
            caller = Caller()
            if is_key_route(route):
                caller = store.keyring.authenticate(
                    method=method,
                    url=store.config.home_url + request.url.path,
                    https=store.config.https,
                    query=query,
                    form=form,
                    headers=request.headers,
                    now=store.now(),
                )
                if caller.read_only and method not in _READ:
                    raise RestError(
                        401,
                        "woocommerce_rest_authentication_error",
                        "The API key provided does not have write permissions.",
                    )
            found = self._match(route, "GET" if head else method)
            if found is None or (route.startswith("/wc-onetill/") and not store.config.plugin):
                # (config.plugin switched off at runtime: the plugin was deactivated)
                raise no_route()
            target, args, handler = found
            headers["Allow"] = target.allow
            body: Any = dict(form) if form else None  # form fields are params like JSON ones
            if raw.strip() and not form:
                try:
                    body = json.loads(raw)
                except ValueError:
                    raise RestError(
                        400,
                        "rest_invalid_json",
                        "Invalid JSON body passed.",
                        json_error_code=4,
                        json_error_message="Syntax error",
                    ) from None
            call = Call(
                store,
                method,
                route,
                query,
                _params(query, form),
                body,
                caller,
                args,
                headers=request.headers,
            )
            result = handler(call)
            reply: Reply = await result if inspect.isawaitable(result) else result
            headers.update(reply.headers)
            return self._answer(reply.status, reply.body, headers, head)
        except RestError as err:
            body = localized(err.body(), store.config.locale)
            return self._answer(err.status, body, headers, head)
        except PhpFatal as fatal:
            return self._answer(500, fatal.body(), headers, head)

    def _match(self, route: str, method: str) -> tuple[Route, dict[str, str], Any] | None:
        for r in self.table:
            m = r.regex.match(route)
            if m is not None and method in r.methods:
                return r, m.groupdict(), r.methods[method]
        return None


def build_api(store: SandboxStore) -> Starlette:
    """All WooCommerce routes under ``/wp-json/`` (no middleware); ``app.state.sandbox`` is set."""
    api = _Api(store)

    async def endpoint(request: Request) -> Response:
        return await api(request)

    app = Starlette(
        routes=[
            StarletteRoute("/wp-json", endpoint, methods=_METHODS),
            StarletteRoute("/wp-json/{rest:path}", endpoint, methods=_METHODS),
        ]
    )
    app.state.sandbox = store
    return app
