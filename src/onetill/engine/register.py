"""``onetill webhooks register``: the store's webhooks that feed the engine.

Idempotent: the webhooks are recognised by name (``OneTill <till id>
<topic>``), so running it again updates them in place (delivery URL,
secret), re-enables the ones WooCommerce disabled after repeated delivery
failures, deletes duplicates, and never creates a second one per topic.

WooCommerce facts: the webhook secret is write-only (never returned), so
the till keeps its own copy (``Config.webhook_secret``) and sends it again
on every update; ``DELETE`` needs ``force=true``; creating a webhook sends a
ping to the delivery URL before answering; WordPress refuses to deliver to
loopback or private addresses except on ports 80, 443 and 8080.
"""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from onetill.woo import WooClient

__all__ = [
    "TOPICS",
    "WEBHOOK_PATH",
    "WebhookAction",
    "delivery_url_for",
    "list_ours",
    "new_secret",
    "register_webhooks",
    "url_warnings",
]

TOPICS: tuple[str, ...] = (
    "product.created",
    "product.updated",
    "product.deleted",
    "product.restored",
    "order.created",
    "order.updated",
)
WEBHOOK_PATH = "/webhooks/woocommerce"
# wp_http_validate_url() lets these ports through to private/loopback hosts.
_SAFE_PORTS = (80, 443, 8080)


@dataclass(frozen=True)
class WebhookAction:
    """What ``register_webhooks`` did for one webhook."""

    topic: str
    webhook_id: int
    action: str  # created | updated | reenabled | deleted-duplicate | deleted-unused
    status: str  # as WooCommerce reports it afterwards


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def _name(till_id: str, topic: str) -> str:
    return f"OneTill {till_id} {topic}"


def delivery_url_for(public_url: str) -> str:
    """The engine's webhook URL under ``public_url`` (as the store will reach it)."""
    parts = urlsplit(public_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"not a public URL: {public_url!r}; give the address the store can reach this "
            "engine at, e.g. https://till.example.com"
        )
    base = public_url.strip().rstrip("/")
    return base if base.endswith(WEBHOOK_PATH) else base + WEBHOOK_PATH


def url_warnings(url: str) -> list[str]:
    """Why WordPress might refuse to deliver to ``url`` (empty when it looks fine)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    private = host == "localhost" or host.endswith(".local")
    try:
        address = ipaddress.ip_address(host)
        private = private or address.is_private or address.is_loopback or address.is_link_local
    except ValueError:
        pass
    warnings: list[str] = []
    if private and port not in _SAFE_PORTS:
        warnings.append(
            f"{host}:{port} is a private or loopback address: WordPress refuses to deliver "
            "webhooks there except on ports 80, 443 and 8080 (see docs/webhooks.md); "
            "polling still keeps the till in step"
        )
    elif private:
        warnings.append(
            f"{host} is a private address: only a store on the same network can reach it"
        )
    return warnings


async def list_ours(client: WooClient, till_id: str) -> list[dict[str, Any]]:
    """This till's webhooks on the store (every status), oldest first."""
    prefix = f"OneTill {till_id} "
    found: list[dict[str, Any]] = []
    async for page in client.paginate("webhooks", {"status": "all"}, per_page=100):
        for hook in page.items:
            if isinstance(hook, dict) and str(hook.get("name", "")).startswith(prefix):
                found.append(hook)
    found.sort(key=lambda h: int(h.get("id", 0)))
    return found


async def register_webhooks(
    client: WooClient, till_id: str, delivery_url: str, secret: str
) -> list[WebhookAction]:
    """Make the store have exactly one active webhook per topic in ``TOPICS`` for this till."""
    existing = await list_ours(client, till_id)
    by_topic: dict[str, list[dict[str, Any]]] = {}
    for hook in existing:
        by_topic.setdefault(str(hook.get("topic")), []).append(hook)
    actions: list[WebhookAction] = []
    for topic in TOPICS:
        hooks = by_topic.pop(topic, [])
        body = {
            "name": _name(till_id, topic),
            "topic": topic,
            "delivery_url": delivery_url,
            "secret": secret,
            "status": "active",
        }
        if not hooks:
            created = (await client.post("webhooks", json=body)).data
            actions.append(WebhookAction(topic, int(created["id"]), "created",
                                         str(created.get("status"))))
            continue
        keep, *extra = hooks
        was = str(keep.get("status"))
        updated = (await client.put(f"webhooks/{keep['id']}", json=body)).data
        action = "reenabled" if was != "active" else "updated"
        actions.append(WebhookAction(topic, int(keep["id"]), action, str(updated.get("status"))))
        for hook in extra:
            await client.delete(f"webhooks/{hook['id']}", {"force": "true"})
            actions.append(WebhookAction(topic, int(hook["id"]), "deleted-duplicate", "deleted"))
    # Ours, but for a topic we no longer use: remove rather than leave them firing.
    for topic, hooks in by_topic.items():
        for hook in hooks:
            await client.delete(f"webhooks/{hook['id']}", {"force": "true"})
            actions.append(WebhookAction(topic, int(hook["id"]), "deleted-unused", "deleted"))
    return actions
