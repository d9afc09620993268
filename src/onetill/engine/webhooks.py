"""The webhook receiver: verify, deduplicate, then hand the delivery on.

WooCommerce facts this depends on (see shared/WOOCOMMERCE.md):

- ``X-WC-Webhook-Signature`` is ``base64(HMAC-SHA256(raw body, secret))``.
  It is checked over the bytes exactly as received, with a constant-time
  compare, *before* the body is parsed: an unverified body is never decoded.
- Creating a webhook sends a ping first: form-encoded ``webhook_id=N`` with
  no signature and no ``X-WC-Webhook-*`` headers. It must get a 2xx.
- Every delivery carries ``X-WC-Webhook-Delivery-ID``, but it is only
  unique per webhook and second (a hash of both), so a delivery is known by
  its id *and* a hash of its body: one seen before is acknowledged (200)
  and ignored; they are kept in SQLite so a restart does not let a replay
  through.
- Failed deliveries are not retried and a webhook that fails more than five
  times in a row disables itself, so the receiver answers 2xx to anything
  genuine, even when it decides to ignore it.

What a verified delivery *does* is the job of a ``WebhookHandler`` (the
engine's is ``onetill.engine.apply.CatalogWebhookHandler``). A delivery that
cannot be applied now (the store did not answer a read-back, the database
was busy) is accepted with 202 and left to the next poll, which is woken.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import re
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from onetill.store import Database

__all__ = [
    "MAX_BODY_BYTES",
    "PRODUCT_CHANGE_TOPICS",
    "WebhookHandler",
    "WebhookReceiver",
    "WebhookResult",
    "sign",
    "verify_signature",
]

log = logging.getLogger("onetill.engine.webhooks")

MAX_BODY_BYTES = 1024 * 1024
KEEP_DELIVERY_IDS_DAYS = 30
PRODUCT_CHANGE_TOPICS = frozenset({"product.created", "product.updated", "product.restored"})
_PING = re.compile(rb"webhook_id=\d+")


def sign(body: bytes, secret: str) -> str:
    """WooCommerce's signature of ``body``: base64 of HMAC-SHA256 with ``secret``."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_signature(body: bytes, signature: str | None, secret: str | None) -> bool:
    """True when ``signature`` is WooCommerce's signature of the raw ``body``."""
    if not signature or not secret:
        return False
    expected = sign(body, secret).encode("ascii")
    try:
        given = signature.strip().encode("ascii")
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(expected, given)


class WebhookHandler(Protocol):
    """What a verified, first-seen delivery does. Each returns an outcome word."""

    async def product_changed(self, topic: str, data: dict[str, Any]) -> str: ...

    async def product_deleted(self, product_id: int) -> str: ...

    async def order_changed(self, topic: str, data: dict[str, Any]) -> str: ...


@dataclass(frozen=True)
class WebhookResult:
    """The HTTP answer to one delivery and what it did (for logs and tests)."""

    status: int
    outcome: str
    detail: str = ""

    def body(self) -> dict[str, str]:
        out = {"outcome": self.outcome}
        if self.detail:
            out["detail"] = self.detail
        return out


class WebhookReceiver:
    """Turns one HTTP delivery into a ``WebhookResult``.

    ``secret`` is called on every delivery so that a secret rotated by
    ``onetill webhooks register`` while the engine runs takes effect at once.
    Deliveries are handled one at a time: two copies of one delivery racing
    each other must not both be applied.
    """

    def __init__(
        self,
        db: Database,
        secret: Callable[[], str | None],
        handler: WebhookHandler,
        on_applied: Callable[[str], None] | None = None,
        on_deferred: Callable[[str], None] | None = None,
    ) -> None:
        self._db = db
        self._secret = secret
        self._handler = handler
        self._on_applied = on_applied
        self._on_deferred = on_deferred
        self._serial = asyncio.Lock()

    async def receive(self, headers: Mapping[str, str], body: bytes) -> WebhookResult:
        if len(body) > MAX_BODY_BYTES:
            return WebhookResult(413, "rejected", f"body over {MAX_BODY_BYTES} bytes")
        signature = headers.get("x-wc-webhook-signature")
        topic = headers.get("x-wc-webhook-topic", "")
        if signature is None and not topic and _is_ping(headers, body):
            log.info("webhook ping received (%s)", body.decode("ascii", "replace"))
            return WebhookResult(200, "ping")
        secret = self._secret()
        if not secret:
            log.warning("webhook delivery refused: no webhook secret is configured")
            return WebhookResult(
                401, "rejected",
                "no webhook secret configured; run `onetill webhooks register PUBLIC_URL`",
            )
        if not verify_signature(body, signature, secret):
            log.warning("webhook delivery refused: bad or missing signature (topic %r)", topic)
            return WebhookResult(401, "rejected", "invalid signature")
        delivery_id = headers.get("x-wc-webhook-delivery-id", "")
        if delivery_id:
            delivery_id = _delivery_key(delivery_id, body)
        webhook_id = headers.get("x-wc-webhook-id", "")
        async with self._serial:
            if delivery_id and self._seen(delivery_id):
                log.info("webhook delivery %s already handled; ignored", delivery_id)
                return WebhookResult(200, "duplicate")
            try:
                # Invalid UTF-8 is replaced (U+FFFD), as in the store's REST answers: the
                # catalog names the field; a bad byte must not cost the whole delivery.
                data = json.loads(body.decode("utf-8", "replace"))
            except ValueError:
                return WebhookResult(400, "rejected", "body is not JSON")
            except RecursionError:
                log.warning("webhook %s refused: JSON nested too deeply to read", topic)
                return WebhookResult(400, "rejected", "body is JSON nested too deeply")
            if not isinstance(data, dict):
                return WebhookResult(400, "rejected", "body is not a JSON object")
            resource_id = data.get("id") if isinstance(data.get("id"), int) else None
            try:
                outcome = await self._dispatch(topic, data, resource_id)
            except Exception as exc:
                # WooCommerce never retries a delivery and disables a webhook
                # after repeated failures: accept it and let the poll catch up.
                log.warning("webhook %s id=%s not applied (%s); the next poll will catch up",
                            topic, resource_id, exc)
                if self._on_deferred is not None:
                    self._on_deferred(topic)
                return WebhookResult(202, "deferred", "left to the next poll")
            if delivery_id:
                self._remember(delivery_id, webhook_id, topic, resource_id, outcome)
        log.info("webhook %s id=%s: %s", topic or "?", resource_id, outcome)
        if self._on_applied is not None and outcome not in ("ignored", "stale"):
            self._on_applied(topic)
        return WebhookResult(200, outcome)

    async def _dispatch(self, topic: str, data: dict[str, Any], resource_id: int | None) -> str:
        if topic in PRODUCT_CHANGE_TOPICS:
            return await self._handler.product_changed(topic, data)
        if topic == "product.deleted":
            if resource_id is None:
                return "ignored"
            return await self._handler.product_deleted(resource_id)
        if topic.startswith("order."):
            return await self._handler.order_changed(topic, data)
        return "ignored"

    def _seen(self, delivery_id: str) -> bool:
        with self._db.lock:
            row = self._db.conn.execute(
                "SELECT 1 FROM webhook_deliveries WHERE delivery_id = ?", (delivery_id,)
            ).fetchone()
        return row is not None

    def _remember(
        self, delivery_id: str, webhook_id: str, topic: str, resource_id: int | None, outcome: str
    ) -> None:
        try:
            with self._db.write() as conn:
                conn.execute(
                    "INSERT OR IGNORE INTO webhook_deliveries"
                    " (delivery_id, webhook_id, topic, resource_id, outcome)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (delivery_id, webhook_id, topic, resource_id, outcome),
                )
                # Bounded history: a body older than this that comes back is
                # still refused by the date check (see apply.py).
                conn.execute(
                    "DELETE FROM webhook_deliveries WHERE received_at <"
                    " strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?)",
                    (f"-{KEEP_DELIVERY_IDS_DAYS} days",),
                )
        except sqlite3.Error:
            # The delivery was applied; failing to remember it only means a
            # replay would be re-applied, which the date check makes harmless.
            log.exception("could not record webhook delivery %s", delivery_id)


def _delivery_key(delivery_id: str, body: bytes) -> str:
    # WooCommerce makes the delivery id as wp_hash(webhook id . current second)
    # (WC_Webhook::get_new_delivery_id), so two deliveries of one webhook in
    # the same second (an order's product.updated for each of its products)
    # share it. A replay is the same id *and* the same body.
    return f"{delivery_id}:{hashlib.sha256(body).hexdigest()[:32]}"


def _is_ping(headers: Mapping[str, str], body: bytes) -> bool:
    ctype = headers.get("content-type", "")
    return ctype.startswith("application/x-www-form-urlencoded") and bool(
        _PING.fullmatch(body.strip())
    )
