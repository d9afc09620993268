"""The emulator's control API under ``/__stripe__/`` (loopback clients only).

For tests, benchmarks and the demo; never part of Stripe's API:

* ``GET /__stripe__/stats`` (requests per operation), ``POST .../stats/reset``
* ``GET|POST|DELETE /__stripe__/faults`` (``{"spec": "..."}``, grammar in ``faults.py``)
* ``POST /__stripe__/config`` ``{"reader_timeout_s", "present_delay_s", "latency_ms"}``
* ``POST /__stripe__/readers/{id}`` ``{"status": "online"|"offline"}``
* ``POST /__stripe__/readers/{id}/tap`` ``{"number": "4242..."}``: a card at any reader
* ``POST /__stripe__/setup`` ``{"label": "..."}``: a location and a simulated S710
* ``GET /__stripe__/payment_intents|charges|refunds|readers|events|deliveries``
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from .account import Account
from .api import Receive, Scope, Send, StripeApi, _respond
from .errors import StripeError
from .expand import public
from .faults import FaultError

__all__ = ["ControlApi", "setup_simulated_reader"]


def setup_simulated_reader(account: Account, label: str) -> dict[str, Any]:
    """A location (if none) and a simulated S710 labelled ``label``."""
    if not account.locations:
        account.create_location({"display_name": "OneTill demo shop",
                                 "address": {"line1": "1 Demo Street", "city": "Berlin",
                                             "postal_code": "10115", "country": "DE"}})  # fmt: skip
    loc = next(iter(account.locations))
    return account.register_reader(
        {"registration_code": "simulated-s710", "label": label, "location": loc}
    )


class ControlApi:
    def __init__(self, api: StripeApi, dispatcher: Any) -> None:
        self.api = api
        self.account = api.account
        self.dispatcher = dispatcher

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = (scope.get("client") or ("127.0.0.1", 0))[0]
        try:
            loopback = ipaddress.ip_address(client).is_loopback
        except ValueError:
            loopback = client in ("testclient", "localhost")
        if not loopback:
            refusal = {"error": "the control API answers loopback clients only"}
            await _respond(send, 403, refusal, {})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        try:
            data = json.loads(body) if body.strip() else {}
            status, answer = self.handle(scope["method"], scope["path"], data)
        except (ValueError, FaultError) as exc:
            status, answer = 400, {"error": str(exc)}
        except StripeError as exc:
            status, answer = exc.status, exc.body()
        await _respond(send, status, answer, {})

    def handle(self, method: str, path: str, data: dict[str, Any]) -> tuple[int, Any]:
        a = self.account
        parts = [p for p in path.split("/") if p][1:]
        tables = {"payment_intents": a.intents, "charges": a.charges, "refunds": a.refunds,
                  "readers": a.readers, "locations": a.locations}  # fmt: skip
        if method == "GET" and len(parts) == 1 and parts[0] in tables:
            return 200, public(list(tables[parts[0]].values()))
        if method == "GET" and parts == ["events"]:
            return 200, a.events
        if method == "GET" and parts == ["deliveries"]:
            return 200, self.dispatcher.log
        if parts == ["stats"] and method == "GET":
            return 200, {"requests": sum(self.api.stats.values()), "by_operation": self.api.stats}
        if parts == ["stats", "reset"] and method == "POST":
            self.api.stats.clear()
            return 200, {"requests": 0}
        if parts == ["faults"]:
            if method == "POST":
                self.api.faults.add(str(data.get("spec") or ""))
            elif method == "DELETE":
                self.api.faults.clear()
            return 200, [r.describe() for r in self.api.faults.rules]
        if parts == ["config"] and method == "POST":
            if "reader_timeout_s" in data:
                a.reader_timeout_s = float(data["reader_timeout_s"])
            if "present_delay_s" in data:
                a.present_delay_s = float(data["present_delay_s"])
            if "latency_ms" in data:
                self.api.latency_ms = float(data["latency_ms"])
            return 200, {"reader_timeout_s": a.reader_timeout_s,
                         "present_delay_s": a.present_delay_s,
                         "latency_ms": self.api.latency_ms}  # fmt: skip
        if parts == ["setup"] and method == "POST":
            return 200, public(setup_simulated_reader(a, str(data.get("label") or "OneTill S710")))
        if len(parts) == 2 and parts[0] == "readers" and method == "POST":
            rdr = a.reader(parts[1])
            status = str(data.get("status") or "")
            if status not in ("online", "offline"):
                raise ValueError("status must be online or offline")
            rdr["status"] = status
            return 200, public(rdr)
        if len(parts) == 3 and parts[0] == "readers" and parts[2] == "tap" and method == "POST":
            params = {"card_present": {"number": str(data.get("number") or "4242424242424242")}}
            return 200, public(a.present(parts[1], params, simulated_only=False))
        return 404, {"error": f"no control route {method} {path}"}
