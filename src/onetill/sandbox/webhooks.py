"""Webhook deliveries: asynchronous, signed, coalesced, never retried.

WooCommerce facts:
- Deliveries go through Action Scheduler: seconds to minutes later
  (``config.webhook_delay_s`` here). A resource changed again while its
  delivery is queued is delivered once (the action is scheduled per webhook
  and resource), with the payload as it is at delivery time.
- Headers ``X-WC-Webhook-Source/-Topic/-Resource/-Event/-Signature/-ID/-Delivery-ID``;
  signature ``base64(HMAC-SHA256(raw body, secret))``; the body is PHP's
  ``json_encode`` (slashes escaped, non-ASCII as ``\\uXXXX``).
- ``product.deleted`` (trash only) carries ``{"id": N}``.
- A failed delivery is not retried. Success is any status 200-302 (redirects
  are not followed). ``failed_delivery()`` disables the webhook when a delivery
  fails while the count of earlier consecutive failures is already above 5:
  six failures are counted, the seventh disables it.
- ``X-WC-Webhook-Delivery-ID`` is ``wp_hash($webhook_id . strtotime('now'))``
  (``WC_Webhook::get_new_delivery_id``): two deliveries of one webhook in the
  same second carry the same id, so a receiver cannot dedupe by it alone.
- Creating a webhook sends a synchronous, unsigned, form-encoded
  ``webhook_id=N`` ping.
- ``wp_safe_remote_request`` refuses URLs on loopback/private addresses
  except ports 80, 443 and 8080: such a delivery fails without a connection
  (only with ``config.webhook_safe_urls``; tests use loopback receivers).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx2

from . import serialize
from .records import Item

if TYPE_CHECKING:
    from .state import SandboxStore

__all__ = ["MAX_FAILURES", "Dispatcher", "delivery_id", "php_json", "signature"]

MAX_FAILURES = 5
_TIMEOUT_S = 10.0


def php_json(obj: Any) -> bytes:
    """JSON the way ``wp_json_encode`` writes it: compact, ``\\/`` and ``\\uXXXX`` escapes."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=True).replace("/", "\\/").encode()


def refused_by_wordpress(url: str) -> bool:
    """True when WordPress's ``wp_http_validate_url`` would refuse ``url`` for delivery."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return True
    if parts.scheme not in ("http", "https") or not host:
        return True
    try:
        address = ipaddress.ip_address(host)
        local = address.is_private or address.is_loopback or address.is_unspecified
    except ValueError:
        local = host == "localhost"
    return local and port not in (80, 443, 8080)


def delivery_id(webhook_id: int, now: int) -> str:
    """The delivery id WooCommerce sends: a hash of the webhook id and the second (32 hex).

    ``wp_hash`` is an HMAC-MD5 under the site's salt; any stable hash of the
    same input keeps what matters, that it repeats within a second.
    """
    return hashlib.md5(f"{webhook_id}{now}".encode(), usedforsecurity=False).hexdigest()


def signature(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


class Dispatcher:
    """Queues and performs deliveries for one store; ``log`` records every attempt."""

    def __init__(self, store: SandboxStore) -> None:
        self.store = store
        self._pending: set[tuple[int, int]] = set()
        self._deferred: list[tuple[str, int]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self.log: list[dict[str, Any]] = []

    @property
    def _user_agent(self) -> str:
        return f"WooCommerce/{self.store.config.wc_version} Hookshot (WordPress/7.0.4)"

    def emit(self, topic: str, resource_id: int) -> None:
        if not any(h.data.get("topic") == topic for h in self.store.webhooks.values()):
            return  # nobody listens: nothing to queue
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            self._deferred.append((topic, resource_id))  # no loop yet: flushed by the next request
            return
        self.flush()
        for hook in list(self.store.webhooks.values()):
            if hook.data.get("status") != "active" or hook.data.get("topic") != topic:
                continue
            key = (hook.id, resource_id)
            if key in self._pending:
                continue  # coalesced: one delivery, payload read at delivery time
            self._pending.add(key)
            task = asyncio.create_task(self._deliver(hook.id, topic, resource_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def flush(self) -> None:
        deferred, self._deferred = self._deferred, []
        for topic, rid in deferred:
            self.emit(topic, rid)

    async def idle(self) -> None:
        """Wait until every queued delivery has been attempted."""
        self.flush()
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _payload(self, topic: str, resource_id: int) -> Any:
        resource, _, event = topic.partition(".")
        if event == "deleted":
            return {"id": resource_id}
        store = self.store
        if resource == "product":
            item = store.find(resource_id)
            return {"id": resource_id} if item is None else serialize.item_json(store, item)
        if resource == "order":
            order = store.orders.get(resource_id)
            return {"id": resource_id} if order is None else serialize.order_json(store, order)
        return {"id": resource_id}

    async def _deliver(self, hook_id: int, topic: str, resource_id: int) -> None:
        await asyncio.sleep(self.store.config.webhook_delay_s)
        self._pending.discard((hook_id, resource_id))
        hook = self.store.webhooks.get(hook_id)
        if hook is None or hook.data.get("status") != "active":
            return
        body = php_json(self._payload(topic, resource_id))
        resource, _, event = topic.partition(".")
        headers = {
            "User-Agent": self._user_agent,
            "Content-Type": "application/json",
            "X-WC-Webhook-Source": self.store.config.home_url.rstrip("/") + "/",
            "X-WC-Webhook-Topic": topic,
            "X-WC-Webhook-Resource": resource,
            "X-WC-Webhook-Event": event,
            "X-WC-Webhook-Signature": signature(body, str(hook.meta.get("secret", ""))),
            "X-WC-Webhook-ID": str(hook.id),
            "X-WC-Webhook-Delivery-ID": delivery_id(hook.id, self.store.now()),
        }
        status: int | None = None
        try:
            if self._refused(hook):
                raise httpx2.ConnectError("A valid URL was not provided.")
            async with httpx2.AsyncClient(timeout=_TIMEOUT_S) as client:
                response = await client.post(
                    hook.data["delivery_url"], content=body, headers=headers
                )
                status = response.status_code
        except httpx2.HTTPError:
            status = None
        ok = status is not None and 200 <= status < 303
        self.log.append(
            {
                "webhook_id": hook.id,
                "topic": topic,
                "resource_id": resource_id,
                "status": status,
                "ok": ok,
            }
        )
        self._record(hook, ok)

    def _refused(self, hook: Item) -> bool:
        url = str(hook.data.get("delivery_url", ""))
        return self.store.config.webhook_safe_urls and refused_by_wordpress(url)

    def _record(self, hook: Item, ok: bool) -> None:
        if self.store.webhooks.get(hook.id) is not hook:
            return  # deleted while the delivery was in flight: nothing to count or save
        failures = int(hook.meta.get("failures", 0))
        if ok:
            hook.meta["failures"] = 0
        elif failures > MAX_FAILURES:
            hook.data["status"] = "disabled"
        else:
            hook.meta["failures"] = failures + 1
        self.store.save(hook)

    async def ping(self, hook: Item) -> int | None:
        """The synchronous ping on creation: form-encoded, unsigned, no X-WC-Webhook-* headers."""
        if self._refused(hook):
            return None
        try:
            async with httpx2.AsyncClient(timeout=_TIMEOUT_S) as client:
                response = await client.post(
                    hook.data["delivery_url"],
                    content=f"webhook_id={hook.id}".encode(),
                    headers={
                        "User-Agent": self._user_agent,
                        "Content-Type": "application/x-www-form-urlencoded",
                    },
                )
                return response.status_code
        except httpx2.HTTPError:
            return None
