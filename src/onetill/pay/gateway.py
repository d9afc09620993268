"""The only module that talks to Stripe, through the official ``stripe`` library.

Every call returns plain dicts (``StripeObject.to_dict()``) and raises only
:mod:`onetill.pay.errors`. Writes carry an idempotency key chosen by the
caller (stored in SQLite before the call); a failed request is retried
here with the *same* key when :func:`~onetill.pay.errors.classify` says so,
with full-jitter backoff, within a time budget.

The library's own retries are off (``max_network_retries=0``): one place
decides. After a connection fails, the HTTP session is replaced, so the
next attempt opens new connections: when the till's network path changes
(Wi-Fi to cellular, a NAT rebinding), pooled connections are dead or
silent and must not be reused.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Callable
from typing import Any, cast

import stripe

from onetill.pay.errors import (
    Outcome,
    StripeAPIError,
    StripeAuthError,
    StripeError,
    StripeUnreachableError,
    classify,
)
from onetill.pay.settings import StripeSettings
from onetill.woo.backoff import Backoff

__all__ = ["INTENT_EXPAND", "READER_EXPAND", "StripeGateway"]

# Everything the till needs to record a paid sale, in the answer itself.
INTENT_EXPAND = ["latest_charge"]
READER_EXPAND = ["action.process_payment_intent.payment_intent.latest_charge"]
BACKOFF_BASE_S = 0.25
BACKOFF_CAP_S = 4.0
# The till's one backoff rule (full jitter), with Stripe's numbers.
_BACKOFF = Backoff(BACKOFF_BASE_S, BACKOFF_CAP_S)


class StripeGateway:
    """A Stripe client for one secret key, counting its requests."""

    def __init__(
        self,
        settings: StripeSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        budget_s: float = 45.0,
    ) -> None:
        self.settings = settings
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.budget_s = budget_s
        self.requests = 0  # HTTP requests sent (Stripe rate-limits: fewer is better)
        self.renewals = 0
        self._lock = threading.Lock()
        self._http: Any = None
        self._client = self._new_client()

    def __repr__(self) -> str:
        return f"StripeGateway(api_base={self.settings.api_base!r})"

    def _new_client(self) -> stripe.StripeClient:
        s = self.settings
        self._http = stripe.RequestsClient(timeout=(s.connect_timeout_s, s.read_timeout_s))
        return stripe.StripeClient(
            s.key,
            base_addresses={"api": s.api_base.rstrip("/")},
            max_network_retries=0,
            http_client=self._http,
        )

    def renew(self) -> None:
        """Drop pooled connections: the next request opens a new one."""
        with self._lock:
            old = self._http
            self._client = self._new_client()
            self.renewals += 1
        with contextlib.suppress(Exception):  # a dead session may fail to close
            old.close()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._http.close()

    # -- the one call path ---------------------------------------------------

    def call(
        self,
        fn: Callable[[stripe.StripeClient], Any],
        *,
        budget_s: float | None = None,
    ) -> dict[str, Any]:
        """Run ``fn(client)``; retry what :func:`classify` calls retryable within the budget."""
        deadline = time.monotonic() + (self.budget_s if budget_s is None else budget_s)
        attempt = 0
        while True:
            attempt += 1
            try:
                with self._lock:
                    client = self._client
                    self.requests += 1
                result = fn(client)
                return cast(dict[str, Any], result.to_dict())
            except stripe.StripeError as raw:
                exc = translate(raw)
            if classify(exc) is not Outcome.RETRY:
                raise exc
            if isinstance(exc, StripeUnreachableError):
                self.renew()
            delay = _BACKOFF.delay(attempt, self.rng)
            if time.monotonic() + delay >= deadline:
                raise exc
            self.sleep(delay)

    # -- operations (params as Stripe documents them) -------------------------

    def create_intent(self, params: dict[str, Any], key: str) -> dict[str, Any]:
        return self.call(lambda c: c.v1.payment_intents.create(
            cast(Any, params), {"idempotency_key": key}))  # fmt: skip

    def retrieve_intent(self, intent_id: str, *, budget_s: float | None = None) -> dict[str, Any]:
        return self.call(
            lambda c: c.v1.payment_intents.retrieve(intent_id, {"expand": INTENT_EXPAND}),
            budget_s=budget_s,
        )

    def cancel_intent(self, intent_id: str, key: str) -> dict[str, Any]:
        return self.call(lambda c: c.v1.payment_intents.cancel(
            intent_id, {"expand": INTENT_EXPAND}, {"idempotency_key": key}))  # fmt: skip

    def capture_intent(self, intent_id: str, key: str) -> dict[str, Any]:
        return self.call(lambda c: c.v1.payment_intents.capture(
            intent_id, {"expand": INTENT_EXPAND}, {"idempotency_key": key}))  # fmt: skip

    def process(self, reader: str, intent_id: str, key: str) -> dict[str, Any]:
        return self.call(lambda c: c.v1.terminal.readers.process_payment_intent(
            reader, {"payment_intent": intent_id}, {"idempotency_key": key}))  # fmt: skip

    def cancel_action(self, reader: str, key: str) -> dict[str, Any]:
        return self.call(lambda c: c.v1.terminal.readers.cancel_action(
            reader, None, {"idempotency_key": key}))  # fmt: skip

    def present(self, reader: str, number: str, key: str) -> dict[str, Any]:
        params = {"type": "card_present", "card_present": {"number": number},
                  "expand": READER_EXPAND}  # fmt: skip
        return self.call(lambda c: c.v1.test_helpers.terminal.readers.present_payment_method(
            reader, cast(Any, params), {"idempotency_key": key}))  # fmt: skip

    def retrieve_reader(self, reader: str, *, budget_s: float | None = None) -> dict[str, Any]:
        return self.call(
            lambda c: c.v1.terminal.readers.retrieve(reader, {"expand": READER_EXPAND}),
            budget_s=budget_s,
        )

    def list_readers(self, location: str | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": 100}
        if location:
            params["location"] = location
        page = self.call(lambda c: c.v1.terminal.readers.list(cast(Any, params)))
        return list(page.get("data") or [])

    def register_reader(self, params: dict[str, Any], key: str) -> dict[str, Any]:
        return self.call(lambda c: c.v1.terminal.readers.create(
            cast(Any, params), {"idempotency_key": key}))  # fmt: skip

    def list_locations(self) -> list[dict[str, Any]]:
        page = self.call(lambda c: c.v1.terminal.locations.list({"limit": 100}))
        return list(page.get("data") or [])

    def create_location(self, params: dict[str, Any], key: str) -> dict[str, Any]:
        return self.call(lambda c: c.v1.terminal.locations.create(
            cast(Any, params), {"idempotency_key": key}))  # fmt: skip

    def create_refund(self, params: dict[str, Any], key: str) -> dict[str, Any]:
        return self.call(lambda c: c.v1.refunds.create(
            cast(Any, params), {"idempotency_key": key}))  # fmt: skip

    def list_refunds(self, intent_id: str) -> list[dict[str, Any]]:
        page = self.call(lambda c: c.v1.refunds.list(
            {"payment_intent": intent_id, "limit": 100}))  # fmt: skip
        return list(page.get("data") or [])

    def create_webhook_endpoint(self, url: str, events: list[str], key: str) -> dict[str, Any]:
        params = {"url": url, "enabled_events": events, "description": "OneTill till"}
        return self.call(lambda c: c.v1.webhook_endpoints.create(
            cast(Any, params), {"idempotency_key": key}))  # fmt: skip


def translate(raw: stripe.StripeError) -> StripeError:
    """The library's error as ours (the status and Stripe's codes, never the key)."""
    if isinstance(raw, stripe.APIConnectionError):
        return StripeUnreachableError(
            "Stripe could not be reached (no answer; the till keeps trying on new connections)"
        )
    status = int(raw.http_status or 0)
    err = raw.error
    kind = str(getattr(err, "type", "") or "")
    code = str(getattr(err, "code", "") or raw.code or "")
    decline = str(getattr(err, "decline_code", "") or "")
    message = str(getattr(err, "message", "") or raw.user_message or "") or f"HTTP {status}"
    hint_raw = (raw.headers or {}).get("stripe-should-retry")
    hint = None if hint_raw is None else hint_raw == "true"
    body = raw.json_body if isinstance(raw.json_body, dict) else None
    if isinstance(raw, stripe.AuthenticationError | stripe.PermissionError) or status in (401, 403):
        return StripeAuthError(
            "Stripe refused the secret key; run `onetill stripe connect --key sk_...` with a "
            "valid key", status=status, type=kind, code=code,
        )  # fmt: skip
    return StripeAPIError(
        message, status=status, type=kind, code=code, decline_code=decline, retry_hint=hint,
        body=body,
    )  # fmt: skip
