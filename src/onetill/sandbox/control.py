"""The control API under ``/__sandbox__/``: the rest of the world, on demand.

Tests and benchmarks use it to make things happen on the store that the till
did not do (a web-shop order, an admin edit, a trash or force delete, a
variation change), to read the store's truth back for assertions (orders
with their ``meta_data``, stock per product), and to steer the sandbox
(faults, clock skew, revoked keys, cost counters). Merchants never see it:
it answers loopback clients only (403 otherwise) and uses no WooCommerce
auth. JSON in, JSON out; errors are ``{"error": "..."}``.

    GET    /__sandbox__/                    summary: counts, faults, cost
    POST   /__sandbox__/orders              {"line_items": [...]}: an online order -> 201
    GET    /__sandbox__/orders              every order, full v3 with meta_data
    PUT    /__sandbox__/products/{id}       {v3 fields}: an admin edit (price, stock ...)
    PUT    /__sandbox__/variations/{id}     the same for a variation
    PUT    /__sandbox__/taxes/{id}          {"rate": "7.0000"}: a tax rate edited in wp-admin
    DELETE /__sandbox__/products/{id}       trash; ?force=true deletes for good
    GET    /__sandbox__/stock?ids=1,2       {"1": 5, "2": null}
    GET    /__sandbox__/faults              the rules with their counters
    POST   /__sandbox__/faults              {"spec": "..."} -> 201 the new rules
    DELETE /__sandbox__/faults[/{id}]       clear all rules, or one
    PUT    /__sandbox__/clock               {"offset_s": -3600}: a wrong server clock
    PUT    /__sandbox__/raw/{id}            {"fields": {...}}: answered verbatim (null: stop)
    POST   /__sandbox__/bytes               {"find": "@@", "hex": "ff"}: raw bytes in answers
    DELETE /__sandbox__/bytes               no more byte patches
    POST   /__sandbox__/keys/revoke         {"key": "ck_..."}
    GET    /__sandbox__/cost                cost counters; DELETE reads, then resets
    POST   /__sandbox__/webhooks/idle       returns once queued deliveries are done
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import httpx2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from onetill.sandbox._asgi import ASGIApp, Receive, Scope, Send
from onetill.sandbox.cost import CostModel
from onetill.sandbox.faults import FaultInjector, FaultSpecError

__all__ = [
    "ControlError",
    "ControlledStore",
    "LoopbackOnly",
    "SandboxControl",
    "build_control",
    "is_loopback",
]


class ControlledStore(Protocol):
    """What the control API needs from ``SandboxStore``."""

    def place_online_order(self, line_items: list[dict[str, Any]]) -> dict[str, Any]: ...
    def admin_update_product(self, item_id: int, fields: dict[str, Any]) -> dict[str, Any]: ...
    def trash_product(self, item_id: int) -> dict[str, Any]: ...
    def force_delete_product(self, item_id: int) -> dict[str, Any]: ...
    def admin_update_tax(self, rate_id: int, fields: dict[str, Any]) -> dict[str, Any]: ...
    def list_orders(self) -> list[dict[str, Any]]: ...
    def stock_of(self, ids: list[int]) -> dict[int, int | None]: ...
    def revoke_key(self, ck: str) -> None: ...
    def set_clock_offset(self, seconds: float) -> None: ...
    def now(self) -> int: ...
    def set_raw_fields(self, item_id: int, fields: dict[str, Any] | None) -> dict[str, Any]: ...
    def add_byte_patch(self, find: str, replace: bytes) -> None: ...
    def clear_byte_patches(self) -> None: ...
    async def webhooks_idle(self) -> None: ...


def is_loopback(scope: Scope) -> bool:
    client = scope.get("client")
    if not client:
        return False
    try:
        return ipaddress.ip_address(str(client[0])).is_loopback
    except ValueError:
        return False


class LoopbackOnly:
    """403 for any client that is not on this machine's loopback interface."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not is_loopback(scope):
            response = JSONResponse(
                {"error": "the sandbox control API answers loopback clients only"}, 403
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


class _BadRequest(Exception):
    pass


Handler = Callable[[Request], Awaitable[JSONResponse]]


def build_control(store: ControlledStore, faults: FaultInjector, cost: CostModel) -> ASGIApp:
    """The control app, to be mounted at ``/__sandbox__``."""

    async def summary(request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "now": store.now(),
                "orders": len(store.list_orders()),
                "faults": [rule.as_dict() for rule in faults.rules],
                "cost": cost.snapshot(),
            }
        )

    async def orders(request: Request) -> JSONResponse:
        if request.method == "GET":
            return JSONResponse(store.list_orders())
        body = await _json(request)
        line_items = body.get("line_items")
        if not isinstance(line_items, list) or not line_items:
            raise _BadRequest('give "line_items": [{"product_id": ..., "quantity": ...}]')
        return JSONResponse(store.place_online_order(line_items), 201)

    async def product(request: Request) -> JSONResponse:
        item_id = int(request.path_params["item_id"])
        if request.method == "DELETE":
            if request.query_params.get("force", "").lower() in {"1", "true"}:
                return JSONResponse(store.force_delete_product(item_id))
            return JSONResponse(store.trash_product(item_id))
        body = await _json(request)
        if not body:
            raise _BadRequest("give the v3 fields to change, e.g. {\"regular_price\": \"9.99\"}")
        return JSONResponse(store.admin_update_product(item_id, body))

    async def tax_rate(request: Request) -> JSONResponse:
        body = await _json(request)
        if not body:
            raise _BadRequest('give the fields to change, e.g. {"rate": "7.0000"}')
        return JSONResponse(store.admin_update_tax(int(request.path_params["rate_id"]), body))

    async def stock(request: Request) -> JSONResponse:
        raw = request.query_params.get("ids", "")
        try:
            ids = [int(part) for part in raw.split(",") if part.strip()]
        except ValueError:
            raise _BadRequest(f"ids must be a comma list of integers, not {raw!r}") from None
        return JSONResponse({str(k): v for k, v in store.stock_of(ids).items()})

    async def fault_rules(request: Request) -> JSONResponse:
        if request.method == "GET":
            return JSONResponse([rule.as_dict() for rule in faults.rules])
        if request.method == "DELETE":
            rule_id = request.path_params.get("rule_id")
            removed = faults.clear(None if rule_id is None else int(rule_id))
            return JSONResponse({"removed": removed})
        spec = (await _json(request)).get("spec")
        if not isinstance(spec, str):
            raise _BadRequest('give {"spec": "PATTERN:KIND..."} (see onetill.sandbox.faults)')
        try:
            added = faults.add(spec)
        except FaultSpecError as exc:
            raise _BadRequest(str(exc)) from None
        return JSONResponse([rule.as_dict() for rule in added], 201)

    async def clock(request: Request) -> JSONResponse:
        offset = (await _json(request)).get("offset_s")
        if isinstance(offset, bool) or not isinstance(offset, int | float):
            raise _BadRequest('give {"offset_s": SECONDS} (negative: the server clock is behind)')
        store.set_clock_offset(float(offset))
        return JSONResponse({"offset_s": float(offset), "now": store.now()})

    async def raw_fields(request: Request) -> JSONResponse:
        fields = (await _json(request)).get("fields")
        if fields is not None and not isinstance(fields, dict):
            raise _BadRequest('give {"fields": {...}} (null stops answering them)')
        return JSONResponse(store.set_raw_fields(int(request.path_params["item_id"]), fields))

    async def byte_patches(request: Request) -> JSONResponse:
        if request.method == "DELETE":
            store.clear_byte_patches()
            return JSONResponse({"cleared": True})
        body = await _json(request)
        find, hexed = body.get("find"), body.get("hex")
        if not isinstance(find, str) or not isinstance(hexed, str):
            raise _BadRequest('give {"find": "TEXT", "hex": "ff"}')
        store.add_byte_patch(find, bytes.fromhex(hexed))
        return JSONResponse({"added": True}, 201)

    async def revoke(request: Request) -> JSONResponse:
        key = (await _json(request)).get("key")
        if not isinstance(key, str) or not key:
            raise _BadRequest('give {"key": "ck_..."}')
        store.revoke_key(key)
        return JSONResponse({"revoked": True})

    async def cost_counters(request: Request) -> JSONResponse:
        counters = cost.snapshot()
        if request.method == "DELETE":
            cost.reset()
        return JSONResponse(counters)

    async def webhooks_idle(request: Request) -> JSONResponse:
        await store.webhooks_idle()
        return JSONResponse({"idle": True})

    def guarded(handler: Handler) -> Handler:
        async def endpoint(request: Request) -> JSONResponse:
            try:
                return await handler(request)
            except _BadRequest as exc:
                return JSONResponse({"error": str(exc)}, 400)
            except KeyError as exc:
                return JSONResponse({"error": str(exc.args[0] if exc.args else exc)}, 404)
            except ValueError as exc:
                return JSONResponse({"error": str(exc)}, 400)

        return endpoint

    routes = [
        Route("/", guarded(summary), methods=["GET"]),
        Route("/orders", guarded(orders), methods=["GET", "POST"]),
        Route("/products/{item_id:int}", guarded(product), methods=["PUT", "DELETE"]),
        Route("/variations/{item_id:int}", guarded(product), methods=["PUT"]),
        Route("/taxes/{rate_id:int}", guarded(tax_rate), methods=["PUT"]),
        Route("/stock", guarded(stock), methods=["GET"]),
        Route("/faults", guarded(fault_rules), methods=["GET", "POST", "DELETE"]),
        Route("/faults/{rule_id:int}", guarded(fault_rules), methods=["DELETE"]),
        Route("/clock", guarded(clock), methods=["PUT"]),
        Route("/raw/{item_id:int}", guarded(raw_fields), methods=["PUT"]),
        Route("/bytes", guarded(byte_patches), methods=["POST", "DELETE"]),
        Route("/keys/revoke", guarded(revoke), methods=["POST"]),
        Route("/cost", guarded(cost_counters), methods=["GET", "DELETE"]),
        Route("/webhooks/idle", guarded(webhooks_idle), methods=["POST"]),
    ]
    return LoopbackOnly(Starlette(routes=routes))


async def _json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise _BadRequest("the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise _BadRequest("the request body must be a JSON object")
    return body


class ControlError(Exception):
    """The control API refused a call; carries its status and message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"sandbox control API: {status} {message}")
        self.status = status
        self.message = message


class SandboxControl:
    """A client for the control API, synchronous and async (``a``-prefixed).

    ``SandboxControl("http://127.0.0.1:8123")``; ``verify`` as for httpx2
    (an ``ssl.SSLContext`` for a sandbox serving a self-signed certificate).
    """

    def __init__(self, base_url: str, *, verify: Any = True, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/") + "/__sandbox__/"
        self._verify = verify
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"SandboxControl({self.base_url!r})"

    # --- plumbing -------------------------------------------------------------

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        with httpx2.Client(verify=self._verify, timeout=self._timeout) as client:
            return _result(client.request(method, self.base_url + path, **kwargs))

    async def _acall(self, method: str, path: str, **kwargs: Any) -> Any:
        async with httpx2.AsyncClient(verify=self._verify, timeout=self._timeout) as client:
            return _result(await client.request(method, self.base_url + path, **kwargs))

    # --- the world ------------------------------------------------------------

    def place_online_order(self, line_items: list[dict[str, Any]]) -> dict[str, Any]:
        """A paid web-shop order: stock drops on the store."""
        return dict(self._call("POST", "orders", json={"line_items": line_items}))

    async def aplace_online_order(self, line_items: list[dict[str, Any]]) -> dict[str, Any]:
        return dict(await self._acall("POST", "orders", json={"line_items": line_items}))

    def update_product(self, item_id: int, **fields: Any) -> dict[str, Any]:
        """An admin edit of a product or a variation (v3 fields)."""
        return dict(self._call("PUT", f"products/{item_id}", json=fields))

    async def aupdate_product(self, item_id: int, **fields: Any) -> dict[str, Any]:
        return dict(await self._acall("PUT", f"products/{item_id}", json=fields))

    def update_variation(self, variation_id: int, **fields: Any) -> dict[str, Any]:
        """A variation change in wp-admin (its parent's date moves too)."""
        return dict(self._call("PUT", f"variations/{variation_id}", json=fields))

    async def aupdate_variation(self, variation_id: int, **fields: Any) -> dict[str, Any]:
        return dict(await self._acall("PUT", f"variations/{variation_id}", json=fields))

    def trash_product(self, item_id: int) -> dict[str, Any]:
        return dict(self._call("DELETE", f"products/{item_id}"))

    async def atrash_product(self, item_id: int) -> dict[str, Any]:
        return dict(await self._acall("DELETE", f"products/{item_id}"))

    def force_delete_product(self, item_id: int) -> dict[str, Any]:
        return dict(self._call("DELETE", f"products/{item_id}", params={"force": "true"}))

    async def aforce_delete_product(self, item_id: int) -> dict[str, Any]:
        return dict(await self._acall("DELETE", f"products/{item_id}", params={"force": "true"}))

    def update_tax_rate(self, rate_id: int, **fields: Any) -> dict[str, Any]:
        """A tax rate edited in wp-admin (e.g. ``rate="7.0000"``)."""
        return dict(self._call("PUT", f"taxes/{rate_id}", json=fields))

    async def aupdate_tax_rate(self, rate_id: int, **fields: Any) -> dict[str, Any]:
        return dict(await self._acall("PUT", f"taxes/{rate_id}", json=fields))

    # --- reading the truth back -----------------------------------------------

    def orders(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "orders"))

    async def aorders(self) -> list[dict[str, Any]]:
        return list(await self._acall("GET", "orders"))

    def stock(self, *ids: int) -> dict[int, int | None]:
        return _stock(self._call("GET", "stock", params={"ids": _ids(ids)}))

    async def astock(self, *ids: int) -> dict[int, int | None]:
        return _stock(await self._acall("GET", "stock", params={"ids": _ids(ids)}))

    # --- steering the sandbox -------------------------------------------------

    def add_faults(self, spec: str) -> list[dict[str, Any]]:
        return list(self._call("POST", "faults", json={"spec": spec}))

    async def aadd_faults(self, spec: str) -> list[dict[str, Any]]:
        return list(await self._acall("POST", "faults", json={"spec": spec}))

    def faults(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "faults"))

    async def afaults(self) -> list[dict[str, Any]]:
        return list(await self._acall("GET", "faults"))

    def clear_faults(self) -> int:
        return int(self._call("DELETE", "faults")["removed"])

    async def aclear_faults(self) -> int:
        return int((await self._acall("DELETE", "faults"))["removed"])

    def set_clock_offset(self, seconds: float) -> None:
        self._call("PUT", "clock", json={"offset_s": seconds})

    async def aset_clock_offset(self, seconds: float) -> None:
        await self._acall("PUT", "clock", json={"offset_s": seconds})

    def set_raw_fields(self, item_id: int, fields: dict[str, Any] | None) -> dict[str, Any]:
        """Answer ``fields`` verbatim for this product or variation (None: stop)."""
        return dict(self._call("PUT", f"raw/{item_id}", json={"fields": fields}))

    async def aset_raw_fields(
        self, item_id: int, fields: dict[str, Any] | None
    ) -> dict[str, Any]:
        return dict(await self._acall("PUT", f"raw/{item_id}", json={"fields": fields}))

    def add_byte_patch(self, find: str, replace: bytes) -> None:
        """Put the raw bytes ``replace`` where ``find`` is in every REST answer."""
        self._call("POST", "bytes", json={"find": find, "hex": replace.hex()})

    async def aadd_byte_patch(self, find: str, replace: bytes) -> None:
        await self._acall("POST", "bytes", json={"find": find, "hex": replace.hex()})

    def clear_byte_patches(self) -> None:
        self._call("DELETE", "bytes")

    async def aclear_byte_patches(self) -> None:
        await self._acall("DELETE", "bytes")

    def revoke_key(self, key: str) -> None:
        self._call("POST", "keys/revoke", json={"key": key})

    async def arevoke_key(self, key: str) -> None:
        await self._acall("POST", "keys/revoke", json={"key": key})

    def cost(self, *, reset: bool = False) -> dict[str, Any]:
        """Cost counters (``reset=True`` zeroes them after reading)."""
        return dict(self._call("DELETE" if reset else "GET", "cost"))

    async def acost(self, *, reset: bool = False) -> dict[str, Any]:
        return dict(await self._acall("DELETE" if reset else "GET", "cost"))

    def webhooks_idle(self) -> None:
        self._call("POST", "webhooks/idle")

    async def awebhooks_idle(self) -> None:
        await self._acall("POST", "webhooks/idle")


def _ids(ids: tuple[int, ...]) -> str:
    return ",".join(str(int(i)) for i in ids)


def _stock(data: Any) -> dict[int, int | None]:
    return {int(k): v for k, v in dict(data).items()}


def _result(response: httpx2.Response) -> Any:
    try:
        data = response.json()
    except ValueError:
        raise ControlError(response.status_code, response.text[:200]) from None
    if response.status_code >= 400:
        message = data.get("error") if isinstance(data, dict) else None
        raise ControlError(response.status_code, str(message or data))
    return data
