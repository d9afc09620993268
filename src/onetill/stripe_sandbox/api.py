"""The emulated Stripe REST API (``/v1/...``) as a raw ASGI app.

Order of work for each request, as Stripe's edge does it: latency, the
fault rules that act before anything happens, authentication, the
idempotency check (POST only), the operation, ``expand[]``, then the fault
rules that act after the operation committed.

Idempotency as Stripe honours it: a POST with an ``Idempotency-Key`` that
was seen before with the same endpoint and parameters gets the saved answer
again (``Idempotent-Replayed: true``); with different parameters, a 400
``idempotency_error``; while the first is still running, a 409. Answers
are saved once the operation ran, errors included; a request refused
before it ran (authentication, a load balancer's 5xx fault) saves nothing.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from .account import Account
from .errors import StripeError, missing
from .expand import expand, public
from .faults import FaultRule, Faults
from .form import FormError, fingerprint, parse_form

__all__ = ["TRANSPORT_KEY", "StripeApi"]

TRANSPORT_KEY = "onetill.stripe_sandbox.transport"
API_VERSION = "2026-08-27.dahlia"

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Handler = Callable[[Account, dict[str, Any], tuple[str, ...]], Any]


class _Reset(Exception):
    """Drop the connection (fault)."""


def _list(acct: Account, items: list[dict[str, Any]], params: dict[str, Any], url: str) -> Any:
    try:
        limit = max(1, min(100, int(params.get("limit") or 10)))
    except ValueError:
        raise StripeError(400, "Invalid integer: limit", param="limit") from None
    after = params.get("starting_after")
    if after:
        ids = [i["id"] for i in items]
        if after not in ids:
            raise missing("object", str(after), "starting_after")
        items = items[ids.index(after) + 1 :]
    return {"object": "list", "data": items[:limit], "has_more": len(items) > limit, "url": url}


def _newest_first(table: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return list(reversed(list(table.values())))


def _routes() -> list[tuple[str, re.Pattern[str], Handler, str]]:
    def r(method: str, pattern: str, name: str) -> Callable[[Handler], Handler]:
        def add(fn: Handler) -> Handler:
            table.append((method, re.compile(pattern + r"\Z"), fn, name))
            return fn

        return add

    table: list[tuple[str, re.Pattern[str], Handler, str]] = []
    ID = r"([A-Za-z0-9_]+)"

    @r("POST", "/v1/payment_intents", "create_payment_intent")
    def _pi_create(a: Account, p: dict[str, Any], m: tuple[str, ...]) -> Any:
        return a.create_intent(p)

    @r("GET", "/v1/payment_intents", "list_payment_intents")
    def _pi_list(a: Account, p: dict[str, Any], m: tuple[str, ...]) -> Any:
        return _list(a, _newest_first(a.intents), p, "/v1/payment_intents")

    @r("GET", f"/v1/payment_intents/{ID}", "retrieve_payment_intent")
    def _pi_get(a: Account, p: dict[str, Any], m: tuple[str, ...]) -> Any:
        return a.intent(m[0])

    @r("POST", f"/v1/payment_intents/{ID}/cancel", "cancel_payment_intent")
    def _pi_cancel(a: Account, p: dict[str, Any], m: tuple[str, ...]) -> Any:
        return a.cancel_intent(m[0], p)

    @r("POST", f"/v1/payment_intents/{ID}/capture", "capture_payment_intent")
    def _pi_capture(a: Account, p: dict[str, Any], m: tuple[str, ...]) -> Any:
        return a.capture_intent(m[0], p)

    @r("GET", f"/v1/charges/{ID}", "retrieve_charge")
    def _ch_get(a: Account, p: dict[str, Any], m: tuple[str, ...]) -> Any:
        if m[0] not in a.charges:
            raise missing("charge", m[0])
        return a.charges[m[0]]

    @r("GET", "/v1/terminal/readers", "list_readers")
    def _rd_list(a: Account, p: dict[str, Any], m: tuple[str, ...]) -> Any:
        items = [
            x for x in a.readers.values()
            if all(not p.get(k) or x.get(k) == p[k] for k in ("location", "status", "device_type"))
        ]  # fmt: skip
        return _list(a, items, p, "/v1/terminal/readers")

    @r("POST", "/v1/terminal/readers", "create_reader")
    def _rd_create(a: Account, p: dict[str, Any], m: tuple[str, ...]) -> Any:
        return a.register_reader(p)

    @r("GET", f"/v1/terminal/readers/{ID}", "retrieve_reader")
    def _rd_get(a: Account, p: dict[str, Any], m: tuple[str, ...]) -> Any:
        return a.reader(m[0])

    @r("POST", f"/v1/terminal/readers/{ID}/process_payment_intent", "process_payment_intent")
    def _rd_process(a: Account, p: dict[str, Any], m: tuple[str, ...]) -> Any:
        return a.process(m[0], p)

    @r("POST", f"/v1/terminal/readers/{ID}/cancel_action", "cancel_action")
    def _rd_cancel(a: Account, p: dict[str, Any], m: tuple[str, ...]) -> Any:
        return a.cancel_action(m[0])

    @r("POST", f"/v1/test_helpers/terminal/readers/{ID}/present_payment_method",
       "present_payment_method")  # fmt: skip
    def _rd_present(a: Account, p: dict[str, Any], m: tuple[str, ...]) -> Any:
        return a.present(m[0], p, simulated_only=True)

    @r("GET", "/v1/terminal/locations", "list_locations")
    def _loc_list(a: Account, p: dict[str, Any], m: tuple[str, ...]) -> Any:
        return _list(a, list(a.locations.values()), p, "/v1/terminal/locations")

    @r("POST", "/v1/terminal/locations", "create_location")
    def _loc_create(a: Account, p: dict[str, Any], m: tuple[str, ...]) -> Any:
        return a.create_location(p)

    @r("GET", f"/v1/terminal/locations/{ID}", "retrieve_location")
    def _loc_get(a: Account, p: dict[str, Any], m: tuple[str, ...]) -> Any:
        if m[0] not in a.locations:
            raise missing("terminal.location", m[0])
        return a.locations[m[0]]

    @r("POST", "/v1/refunds", "create_refund")
    def _re_create(a: Account, p: dict[str, Any], m: tuple[str, ...]) -> Any:
        return a.create_refund(p)

    @r("GET", "/v1/refunds", "list_refunds")
    def _re_list(a: Account, p: dict[str, Any], m: tuple[str, ...]) -> Any:
        items = [
            x for x in _newest_first(a.refunds)
            if all(not p.get(k) or x.get(k) == p[k] for k in ("payment_intent", "charge"))
        ]  # fmt: skip
        return _list(a, items, p, "/v1/refunds")

    @r("GET", f"/v1/refunds/{ID}", "retrieve_refund")
    def _re_get(a: Account, p: dict[str, Any], m: tuple[str, ...]) -> Any:
        if m[0] not in a.refunds:
            raise missing("refund", m[0])
        return a.refunds[m[0]]

    @r("GET", "/v1/events", "list_events")
    def _ev_list(a: Account, p: dict[str, Any], m: tuple[str, ...]) -> Any:
        items = [e for e in reversed(a.events) if not p.get("type") or e["type"] == p["type"]]
        return _list(a, items, p, "/v1/events")

    @r("GET", f"/v1/events/{ID}", "retrieve_event")
    def _ev_get(a: Account, p: dict[str, Any], m: tuple[str, ...]) -> Any:
        for e in a.events:
            if e["id"] == m[0]:
                return e
        raise missing("event", m[0])

    @r("POST", "/v1/webhook_endpoints", "create_webhook_endpoint")
    def _we_create(a: Account, p: dict[str, Any], m: tuple[str, ...]) -> Any:
        return a.create_endpoint(p)

    @r("GET", "/v1/webhook_endpoints", "list_webhook_endpoints")
    def _we_list(a: Account, p: dict[str, Any], m: tuple[str, ...]) -> Any:
        shown = [{k: v for k, v in e.items() if k != "secret"} for e in a.endpoints.values()]
        return _list(a, shown, p, "/v1/webhook_endpoints")

    @r("DELETE", f"/v1/webhook_endpoints/{ID}", "delete_webhook_endpoint")
    def _we_delete(a: Account, p: dict[str, Any], m: tuple[str, ...]) -> Any:
        if m[0] not in a.endpoints:
            raise missing("webhook_endpoint", m[0])
        del a.endpoints[m[0]]
        return {"id": m[0], "object": "webhook_endpoint", "deleted": True}

    return table


ROUTES = _routes()


class StripeApi:
    """``/v1`` with auth, idempotency, expansion, faults and latency around the account."""

    def __init__(self, account: Account, key: str, faults: Faults, latency_ms: float) -> None:
        self.account = account
        self.key = key
        self.faults = faults
        self.latency_ms = latency_ms
        self.stats: dict[str, int] = {}
        self._saved: dict[str, dict[str, Any]] = {}

    # -- helpers ------------------------------------------------------------

    def _authorized(self, headers: dict[str, str]) -> StripeError | None:
        auth = headers.get("authorization", "")
        given = ""
        if auth.startswith("Bearer "):
            given = auth[7:].strip()
        elif auth.startswith("Basic "):
            try:
                given = base64.b64decode(auth[6:]).decode().partition(":")[0]
            except (ValueError, UnicodeDecodeError):
                given = ""
        if not given:
            return StripeError(
                401,
                "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth "
                "(e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
            )
        if given != self.key:
            return StripeError(401, f"Invalid API Key provided: {given[:8]}****{given[-4:]}")
        return None

    def _route(self, method: str, path: str) -> tuple[Handler, tuple[str, ...], str]:
        known_path = False
        for m, pattern, fn, name in ROUTES:
            found = pattern.match(path)
            if found:
                known_path = True
                if m == method:
                    return fn, found.groups(), name
        if known_path:
            raise StripeError(405, f"Unrecognized request URL ({method}: {path}).")
        raise StripeError(
            404, f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs"
        )

    def _run(self, method: str, path: str, params: dict[str, Any]) -> tuple[int, Any, str]:
        try:
            fn, groups, name = self._route(method, path)
        except StripeError as exc:
            return exc.status, exc.body(), "unknown"
        self.stats[name] = self.stats.get(name, 0) + 1
        try:
            result = fn(self.account, params, groups)
            paths = params.get("expand") or []
            if not isinstance(paths, list):
                raise StripeError(400, "Invalid array", param="expand")
            body = public(result)
            if paths:
                body = expand(body, [str(p) for p in paths], self.account.find)
            return 200, body, name
        except StripeError as exc:
            return exc.status, public(exc.body()), name

    # -- ASGI ---------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        path = scope["path"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if self.latency_ms:
            await asyncio.sleep(self.latency_ms / 1000)
        request_id = "req_" + secrets.token_hex(7)
        out_headers = {"Request-Id": request_id, "Stripe-Version": API_VERSION}
        rule = self.faults.pick(method, path)
        try:
            if rule is not None and not rule.commit_first:
                done = await self._fault_before(rule, scope, send, out_headers)
                if done:
                    return
            status, answer = await self._serve(method, path, headers, body, scope, out_headers)
            if rule is not None and rule.commit_first:
                if rule.action == "commit_reset":
                    raise _Reset()
                if rule.action == "commit_slow":
                    await asyncio.sleep(rule.arg)
                if rule.action == "commit_status":
                    status, answer = int(rule.arg), _api_error(int(rule.arg))
        except _Reset:
            _reset(scope)
            return
        await _respond(send, status, answer, out_headers)

    async def _fault_before(
        self, rule: FaultRule, scope: Scope, send: Send, headers: dict[str, str]
    ) -> bool:
        if rule.action == "reset":
            raise _Reset()
        if rule.action == "slow":
            await asyncio.sleep(rule.arg)
            return False
        await _respond(send, int(rule.arg), _api_error(int(rule.arg)), headers)
        return True

    async def _serve(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes,
        scope: Scope,
        out: dict[str, str],
    ) -> tuple[int, Any]:
        denied = self._authorized(headers)
        if denied is not None:
            return denied.status, denied.body()
        try:
            if method == "GET" or method == "DELETE":
                params = parse_form(scope.get("query_string", b""))
            else:
                params = parse_form(body)
        except (FormError, UnicodeDecodeError) as exc:
            return 400, StripeError(400, f"Invalid request body: {exc}").body()
        key = headers.get("idempotency-key") if method == "POST" else None
        self.account.request = {"id": out["Request-Id"], "idempotency_key": key}
        if not key:
            status, answer, _ = self._run(method, path, params)
            return status, answer
        out["Idempotency-Key"] = key
        print_ = fingerprint(method, path, params)
        saved = self._saved.get(key)
        if saved is not None:
            if saved["fingerprint"] != print_:
                err = StripeError(
                    400,
                    "Keys for idempotent requests can only be used with the same parameters they "
                    f"were first used with. Try using a key other than '{key}' if you meant to "
                    "execute a different request.",
                    type="idempotency_error",
                )
                return 400, err.body()
            if saved.get("running"):
                out["Stripe-Should-Retry"] = "true"
                err = StripeError(
                    409,
                    "There is currently another in-progress request using this Stripe token "
                    "(probably the same idempotency key). Please retry your request.",
                    type="idempotency_error", code="idempotency_key_in_use",
                )  # fmt: skip
                return 409, err.body()
            out["Idempotent-Replayed"] = "true"
            out["Original-Request"] = saved["request_id"]
            return int(saved["status"]), json.loads(saved["body"])
        self._saved[key] = {"fingerprint": print_, "running": True,
                            "request_id": out["Request-Id"]}  # fmt: skip
        status, answer, _ = self._run(method, path, params)
        self._saved[key].update(
            {"running": False, "status": status, "body": json.dumps(answer), "at": time.time()}
        )
        return status, answer


def _api_error(status: int) -> dict[str, Any]:
    return StripeError(
        status, "An unknown error occurred (emulated fault).", type="api_error"
    ).body()


async def _respond(send: Send, status: int, body: Any, headers: dict[str, str]) -> None:
    data = json.dumps(body, indent=2).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": data})


def _reset(scope: Scope) -> None:
    import socket
    import struct

    transport = scope.get("extensions", {}).get(TRANSPORT_KEY)
    if transport is None:
        raise ConnectionResetError("stripe sandbox fault: connection reset (no socket in-process)")
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
