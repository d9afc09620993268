"""The emulated account: its objects and what each API operation does to them.

Plain synchronous logic: the HTTP layer (``api.py``) parses, authenticates
and deduplicates; this module changes state and emits events. Timers (a
reader action that times out, a card presented with a delay) go through
the injected ``schedule(delay_s, fn)``.

Terminal behaviour (server-driven integration):

* ``process_payment_intent`` puts a ``process_payment_intent`` action
  ``in_progress`` on an online reader; an offline reader answers
  ``terminal_reader_offline``, a reader already busy ``terminal_reader_busy``.
* ``present_payment_method`` (simulated readers; the control API's ``tap``
  for any reader) completes the action with a test card: success charges
  the PaymentIntent (``succeeded``, or ``requires_capture`` with manual
  capture); a decline leaves it ``requires_payment_method`` with
  ``last_payment_error`` and fails the action with ``card_declined``.
* No card within ``reader_timeout_s``: the action fails with
  ``failure_code: terminal_reader_timeout`` (the "timeout" behaviour);
  nothing is charged.
* ``cancel_action`` clears an action in progress (``action: null``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from . import objects
from .errors import StripeError, bad_param, missing

__all__ = ["ZERO_DECIMAL", "Account"]

ZERO_DECIMAL = frozenset(
    ["bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd",
     "vuv", "xaf", "xof", "xpf"]
)
OPEN_STATUSES = frozenset(
    {"requires_payment_method", "requires_confirmation", "requires_action",
     "requires_capture", "processing"}
)  # fmt: skip
SIMULATED_CODES = {
    "simulated-wpe": "simulated_wisepos_e",
    "simulated-s700": "simulated_stripe_s700",
    "simulated-s710": "simulated_stripe_s710",
}
_HARDWARE_CODE = re.compile(r"[a-z]+-[a-z]+-[a-z]+\Z")
MIN_AMOUNT = 50  # Stripe's minimum charge is about 0.50 USD

Schedule = Callable[[float, Callable[[], None]], Any]


def _int(params: dict[str, Any], name: str, *, required: bool = True) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        if required:
            raise bad_param(name, f"Missing required param: {name}.", "parameter_missing")
        return None
    try:
        value = int(str(raw))
    except ValueError:
        raise bad_param(name, f"Invalid integer: {raw}", "parameter_invalid_integer") from None
    return value


class Account:
    """One Stripe account in test mode."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        schedule: Schedule | None = None,
        reader_timeout_s: float = 120.0,
        present_delay_s: float = 0.0,
    ) -> None:
        self.clock = clock
        self.schedule: Schedule = schedule or (lambda _d, _f: None)
        self.reader_timeout_s = reader_timeout_s
        self.present_delay_s = present_delay_s
        self.intents: dict[str, dict[str, Any]] = {}
        self.charges: dict[str, dict[str, Any]] = {}
        self.methods: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.readers: dict[str, dict[str, Any]] = {}
        self.locations: dict[str, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self.endpoints: dict[str, dict[str, Any]] = {}
        self.on_event: Callable[[dict[str, Any]], None] = lambda _e: None
        self.request: dict[str, Any] = {"id": None, "idempotency_key": None}
        self._action_seq = 0

    def now(self) -> int:
        return int(self.clock())

    # -- events -----------------------------------------------------------

    def emit(self, kind: str, obj: dict[str, Any]) -> None:
        import copy

        evt = objects.event(
            objects.new_id("evt"), kind, copy.deepcopy(obj), self.now(), dict(self.request)
        )
        self.events.append(evt)
        self.on_event(evt)

    # -- lookups ----------------------------------------------------------

    def find(self, ident: str) -> dict[str, Any] | None:
        for table in (self.intents, self.charges, self.methods, self.refunds, self.readers,
                      self.locations):  # fmt: skip
            if ident in table:
                return table[ident]
        return None

    def intent(self, pid: str, param: str = "intent") -> dict[str, Any]:
        found = self.intents.get(pid)
        if found is None:
            raise missing("payment_intent", pid, param)
        return found

    def reader(self, rid: str) -> dict[str, Any]:
        found = self.readers.get(rid)
        if found is None:
            raise missing("terminal.reader", rid)
        return found

    # -- payment intents --------------------------------------------------

    def create_intent(self, params: dict[str, Any]) -> dict[str, Any]:
        amount = _int(params, "amount")
        assert amount is not None
        currency = str(params.get("currency") or "").lower()
        if not re.fullmatch(r"[a-z]{3}", currency):
            raise bad_param("currency", "Missing required param: currency.", "parameter_missing")
        if amount < MIN_AMOUNT:
            raise StripeError(
                400, "Amount must be at least 50 cents", code="amount_too_small", param="amount"
            )
        if amount > 99_999_999:
            raise StripeError(
                400, "Amount must be no more than 999,999.99", code="amount_too_large",
                param="amount",
            )  # fmt: skip
        capture = str(params.get("capture_method") or "automatic")
        if capture not in ("automatic", "automatic_async", "manual"):
            raise bad_param(
                "capture_method", f"Invalid capture_method: {capture}", "parameter_unknown"
            )
        types = params.get("payment_method_types") or ["card"]
        if not isinstance(types, list):
            raise bad_param("payment_method_types", "Invalid array", "parameter_invalid_empty")
        pi = objects.payment_intent(objects.new_id("pi"), amount, currency, params, self.now())
        self.intents[pi["id"]] = pi
        self.emit("payment_intent.created", pi)
        return pi

    def cancel_intent(self, pid: str, params: dict[str, Any]) -> dict[str, Any]:
        pi = self.intent(pid)
        if pi["status"] not in OPEN_STATUSES:
            raise StripeError(
                400,
                f"You cannot cancel this PaymentIntent because it has a status of {pi['status']}. "
                "Only a PaymentIntent with one of the following statuses may be canceled: "
                "requires_payment_method, requires_capture, requires_confirmation, "
                "requires_action, processing.",
                code="payment_intent_unexpected_state",
                extra={"payment_intent": dict(pi)},
            )
        for rdr in self.readers.values():  # a reader still showing it stops
            if self._action_intent(rdr) == pid and rdr["action"]["status"] == "in_progress":
                rdr["action"] = None
        pi["status"] = "canceled"
        pi["canceled_at"] = self.now()
        pi["cancellation_reason"] = params.get("cancellation_reason") or "requested_by_customer"
        pi["amount_capturable"] = 0
        self.emit("payment_intent.canceled", pi)
        return pi

    def capture_intent(self, pid: str, params: dict[str, Any]) -> dict[str, Any]:
        pi = self.intent(pid)
        if pi["status"] != "requires_capture":
            raise StripeError(
                400,
                f"This PaymentIntent could not be captured because it has a status of "
                f"{pi['status']}. Only a PaymentIntent with one of the following statuses may be "
                "captured: requires_capture.",
                code="payment_intent_unexpected_state",
                extra={"payment_intent": dict(pi)},
            )
        amount = _int(params, "amount_to_capture", required=False) or pi["amount_capturable"]
        ch = self.charges[pi["latest_charge"]]
        ch["captured"] = True
        ch["amount_captured"] = amount
        ch["balance_transaction"] = "txn_" + ch["id"][3:]
        pi["status"] = "succeeded"
        pi["amount_received"] = amount
        pi["amount_capturable"] = 0
        self.emit("charge.captured", ch)
        self.emit("payment_intent.succeeded", pi)
        return pi

    # -- locations and readers ---------------------------------------------

    def create_location(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("display_name"):
            raise bad_param("display_name", "Missing required param: display_name.",
                            "parameter_missing")  # fmt: skip
        loc = objects.location(objects.new_id("tml"), params)
        self.locations[loc["id"]] = loc
        return loc

    def register_reader(self, params: dict[str, Any]) -> dict[str, Any]:
        code = str(params.get("registration_code") or "").strip()
        location_id = params.get("location")
        if location_id is not None and location_id not in self.locations:
            raise missing("terminal.location", str(location_id), "location")
        if location_id is None and self.locations:
            location_id = next(iter(self.locations))
        if code in SIMULATED_CODES:
            device = SIMULATED_CODES[code]
            serial = f"{code}-{objects.new_id('sn')[3:15].lower()}"
            ip = "0.0.0.0"
        elif _HARDWARE_CODE.fullmatch(code):
            device, serial, ip = "stripe_s710", f"STRM{abs(hash(code)) % 10**10:010d}", "10.0.0.7"
        else:
            raise StripeError(
                400, "The registration code is invalid. Check the code shown on the reader.",
                code="terminal_reader_registration_code_invalid", param="registration_code",
            )  # fmt: skip
        label = str(params.get("label") or serial)
        rdr = objects.reader(objects.new_id("tmr"), device, label, location_id, serial, ip)
        rdr["last_seen_at"] = self.now() * 1000
        self.readers[rdr["id"]] = rdr
        return rdr

    @staticmethod
    def _action_intent(rdr: dict[str, Any]) -> str | None:
        action = rdr.get("action") or {}
        process = action.get("process_payment_intent") or {}
        return process.get("payment_intent")

    def process(self, rid: str, params: dict[str, Any]) -> dict[str, Any]:
        rdr = self.reader(rid)
        pid = str(params.get("payment_intent") or "")
        if not pid:
            raise bad_param("payment_intent", "Missing required param: payment_intent.",
                            "parameter_missing")  # fmt: skip
        pi = self.intent(pid, "payment_intent")
        if rdr["status"] != "online":
            raise StripeError(
                400,
                "Reader is currently offline, please ensure the reader is powered on and "
                "connected to the internet before retrying your request.",
                code="terminal_reader_offline",
            )
        action = rdr.get("action")
        if action is not None and action.get("status") == "in_progress":
            raise StripeError(
                400,
                "Reader is currently busy processing another request, please retry your request "
                "once the reader is done.",
                code="terminal_reader_busy",
            )
        if pi["status"] not in ("requires_payment_method", "requires_confirmation"):
            raise StripeError(
                400,
                f"This PaymentIntent's status is {pi['status']}, but it must be "
                "requires_payment_method to be processed by a reader.",
                code="payment_intent_unexpected_state", param="payment_intent",
                extra={"payment_intent": dict(pi)},
            )  # fmt: skip
        if "card_present" not in pi["payment_method_types"]:
            raise bad_param(
                "payment_intent",
                "This PaymentIntent does not accept card_present payments; create it with "
                "payment_method_types[]=card_present.",
                "payment_intent_incompatible_payment_method",
            )
        self._action_seq += 1
        seq = self._action_seq
        rdr["action"] = {
            "failure_code": None,
            "failure_message": None,
            "process_payment_intent": {"payment_intent": pid, "process_config": {}},
            "status": "in_progress",
            "type": "process_payment_intent",
        }
        rdr["last_seen_at"] = self.now() * 1000
        self.schedule(self.reader_timeout_s, lambda: self._time_out(rid, seq))
        rdr["_seq"] = seq
        return rdr

    def _time_out(self, rid: str, seq: int) -> None:
        rdr = self.readers.get(rid)
        if rdr is None or rdr.get("_seq") != seq or not rdr.get("action"):
            return
        if rdr["action"]["status"] != "in_progress":
            return
        rdr["action"].update({
            "status": "failed",
            "failure_code": "terminal_reader_timeout",
            "failure_message": "The reader timed out waiting for a card to be presented.",
        })  # fmt: skip
        self.emit("terminal.reader.action_failed", rdr)

    def cancel_action(self, rid: str) -> dict[str, Any]:
        rdr = self.reader(rid)
        action = rdr.get("action")
        if action is None or action.get("status") != "in_progress":
            raise StripeError(
                400, "This reader has no action to cancel.", code="terminal_reader_invalid_state"
            )
        if rdr["status"] != "online":
            raise StripeError(400, "Reader is currently offline.", code="terminal_reader_offline")
        rdr["action"] = None
        rdr["_seq"] = None
        return rdr

    def present(self, rid: str, params: dict[str, Any], *, simulated_only: bool) -> dict[str, Any]:
        rdr = self.reader(rid)
        if simulated_only and not rdr["device_type"].startswith("simulated"):
            raise StripeError(
                400, "This endpoint can only be used with simulated readers.",
                code="terminal_reader_not_simulated",
            )  # fmt: skip
        action = rdr.get("action")
        if action is None or action.get("status") != "in_progress":
            raise StripeError(
                400,
                "The reader has no process_payment_intent action in progress to present a "
                "payment method to.",
                code="terminal_reader_invalid_state",
            )
        card_params = params.get("card_present") or {}
        number = str(card_params.get("number") or "4242424242424242")
        card = objects.CARDS.get(number)
        if card is None:
            raise bad_param("card_present[number]", "Your card number is incorrect.",
                            "incorrect_number")  # fmt: skip
        seq = rdr.get("_seq")
        if self.present_delay_s > 0:
            self.schedule(self.present_delay_s, lambda: self._complete(rid, seq, card))
        else:
            self._complete(rid, seq, card)
        return rdr

    def _complete(self, rid: str, seq: Any, card: objects.TestCard) -> None:
        rdr = self.readers.get(rid)
        if rdr is None or rdr.get("_seq") != seq or not rdr.get("action"):
            return  # canceled meanwhile
        pid = self._action_intent(rdr)
        pi = self.intents[str(pid)]
        if pi["status"] not in ("requires_payment_method", "requires_confirmation"):
            return
        pm = objects.payment_method(objects.new_id("pm"), card, self.now())
        self.methods[pm["id"]] = pm
        ch = objects.charge(objects.new_id("ch"), pi, card, pm["id"], self.now())
        self.charges[ch["id"]] = ch
        pi["latest_charge"] = ch["id"]
        if card.decline_code is None:
            pi["payment_method"] = pm["id"]
            pi["last_payment_error"] = None
            if pi["capture_method"] == "manual":
                pi["status"] = "requires_capture"
                pi["amount_capturable"] = pi["amount"]
            else:
                pi["status"] = "succeeded"
                pi["amount_received"] = pi["amount"]
            rdr["action"]["status"] = "succeeded"
            self.emit("charge.succeeded", ch)
            self.emit(
                "payment_intent.succeeded" if pi["status"] == "succeeded"
                else "payment_intent.amount_capturable_updated", pi,
            )  # fmt: skip
            self.emit("terminal.reader.action_succeeded", rdr)
            return
        message = objects.DECLINE_MESSAGES.get(card.decline_code, "Your card was declined.")
        pi["payment_method"] = None
        pi["status"] = "requires_payment_method"
        pi["last_payment_error"] = {
            "type": "card_error", "code": "card_declined", "decline_code": card.decline_code,
            "message": message, "charge": ch["id"], "payment_method": pm,
        }  # fmt: skip
        rdr["action"].update(
            {"status": "failed", "failure_code": "card_declined", "failure_message": message}
        )
        self.emit("charge.failed", ch)
        self.emit("payment_intent.payment_failed", pi)
        self.emit("terminal.reader.action_failed", rdr)

    # -- refunds ----------------------------------------------------------

    def create_refund(self, params: dict[str, Any]) -> dict[str, Any]:
        ch: dict[str, Any] | None = None
        if params.get("charge"):
            ch = self.charges.get(str(params["charge"]))
            if ch is None:
                raise missing("charge", str(params["charge"]), "charge")
        elif params.get("payment_intent"):
            pi = self.intent(str(params["payment_intent"]), "payment_intent")
            if pi["status"] != "succeeded" or not pi["latest_charge"]:
                raise StripeError(
                    400,
                    f"This PaymentIntent ({pi['id']}) does not have a successful charge to refund.",
                    code="charge_not_refundable" if pi["latest_charge"] else "resource_missing",
                    param="payment_intent",
                )  # fmt: skip
            ch = self.charges[pi["latest_charge"]]
        else:
            raise bad_param("charge", "One of the following params should be provided for this "
                            "request: payment_intent or charge.", "parameter_missing")
        left = ch["amount_captured"] - ch["amount_refunded"]
        if left <= 0:
            raise StripeError(
                400, f"Charge {ch['id']} has already been refunded.", code="charge_already_refunded"
            )
        amount = _int(params, "amount", required=False)
        amount = left if amount is None else amount
        if amount <= 0 or amount > left:
            raise StripeError(
                400,
                f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left})",
                code="amount_too_large", param="amount",
            )  # fmt: skip
        rf = objects.refund(objects.new_id("re"), ch, amount, params, self.now())
        self.refunds[rf["id"]] = rf
        ch["amount_refunded"] += amount
        ch["refunded"] = ch["amount_refunded"] >= ch["amount_captured"]
        ch["refunds"]["data"].insert(0, rf)
        self.emit("refund.created", rf)
        self.emit("charge.refunded", ch)
        return rf

    # -- webhook endpoints ------------------------------------------------

    def create_endpoint(self, params: dict[str, Any]) -> dict[str, Any]:
        url = str(params.get("url") or "")
        if not url.startswith(("http://", "https://")):
            raise bad_param("url", "Invalid URL: must be an http or https URL.", "url_invalid")
        events = params.get("enabled_events") or []
        if not isinstance(events, list) or not events:
            raise bad_param("enabled_events", "Missing required param: enabled_events.",
                            "parameter_missing")  # fmt: skip
        import secrets

        ep: dict[str, Any] = {
            "id": objects.new_id("we"), "object": "webhook_endpoint", "api_version": None,
            "application": None, "created": self.now(), "description": params.get("description"),
            "enabled_events": list(events), "livemode": False,
            "metadata": dict(params.get("metadata") or {}),
            "secret": "whsec_" + secrets.token_hex(16), "status": "enabled", "url": url,
        }  # fmt: skip
        self.endpoints[ep["id"]] = ep
        return ep
