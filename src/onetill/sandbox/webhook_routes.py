"""``/wc/v3/webhooks``: create (synchronous ping), list, read, update, delete.

WooCommerce facts (``class-wc-rest-webhooks-v1-controller.php``): the secret is
write-only (never returned); ``DELETE`` without ``force=true`` is ``501
woocommerce_rest_trash_not_supported`` (checked before the id). Errors use the
post type ``shop_webhook``: an unknown id is ``400 ... ID is invalid.`` on GET
and PUT but ``404 ... Invalid ID.`` on DELETE; a bad topic or delivery URL
(``wc_is_valid_url``: an absolute http(s) URL) is a 400.
"""

from __future__ import annotations

import secrets as _secrets
from typing import Any
from urllib.parse import urlsplit

from .errors import RestError, invalid_param
from .listing import list_reply, shape_one
from .records import WEBHOOK, Item
from .rest import Call, Reply, Route, bool_param, require
from .serialize import webhook_json

__all__ = ["ROUTES"]

_HOOKS = {
    "product.created": [
        "woocommerce_process_product_meta",
        "woocommerce_new_product",
        "woocommerce_new_product_variation",
    ],
    "product.updated": [
        "woocommerce_process_product_meta",
        "woocommerce_update_product",
        "woocommerce_update_product_variation",
    ],
    "product.deleted": ["wp_trash_post"],
    "product.restored": ["untrashed_post"],
    "order.created": ["woocommerce_new_order"],
    "order.updated": ["woocommerce_update_order", "woocommerce_order_refunded"],
    "order.deleted": ["wp_trash_post"],
    "order.restored": ["untrashed_post"],
}
_STATUSES = ("active", "paused", "disabled")


_PREFIX = "woocommerce_rest_shop_webhook"


def _valid_url(url: str) -> bool:
    """``wc_is_valid_url``: PHP's FILTER_VALIDATE_URL and an http(s) scheme."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - a malformed port raises here
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and " " not in url


def _apply(call: Call, hook: Item, body: dict[str, Any], *, creating: bool = False) -> None:
    if body.get("delivery_url") or creating:
        if not _valid_url(str(body.get("delivery_url") or "")):
            raise RestError(
                400,
                f"{_PREFIX}_invalid_delivery_url",
                "Webhook delivery URL must be a valid URL starting with http:// or https://.",
            )
        hook.data["delivery_url"] = str(body["delivery_url"])
    if body.get("name"):
        hook.data["name"] = str(body["name"])
    if "status" in body:
        if body["status"] not in _STATUSES:
            msg = "status is not one of active, paused, and disabled."
            raise invalid_param("status", msg, "rest_not_in_enum")
        hook.data["status"] = body["status"]
        if body["status"] == "active":
            hook.meta["failures"] = 0
    if body.get("topic") or creating:
        topic = str(body.get("topic") or "").lower()
        if topic not in _HOOKS:
            message = "Webhook topic is required and must be valid." if creating else (
                "Webhook topic must be valid."
            )
            raise RestError(400, f"{_PREFIX}_invalid_topic", message)
        resource, _, event = topic.partition(".")
        hook.data.update(topic=topic, resource=resource, event=event, hooks=_HOOKS[topic])
    if "secret" in body:
        hook.meta["secret"] = str(body["secret"])


def _get(call: Call, *, deleting: bool = False) -> Item:
    hook = call.store.webhooks.get(int(call.args["id"]))
    if hook is None:
        if deleting:
            raise RestError(404, f"{_PREFIX}_invalid_id", "Invalid ID.")
        raise RestError(400, f"{_PREFIX}_invalid_id", "ID is invalid.")
    return hook


async def create_webhook(call: Call) -> Reply:
    require(call, "create")
    body = call.json
    for key in ("topic", "delivery_url"):
        if not body.get(key):
            raise RestError(
                400, "rest_missing_callback_param", f"Missing parameter(s): {key}", params=[key]
            )
    store = call.store
    now = store.now()
    hook = Item(
        WEBHOOK,
        0,
        {
            "name": "",
            "status": "active",
            "topic": "",
            "resource": "",
            "event": "",
            "hooks": [],
            "delivery_url": "",
        },
        now,
        now,
        {"secret": _secrets.token_urlsafe(24), "failures": 0},
    )
    _apply(call, hook, body, creating=True)
    hook.id = store.next_id("webhook")
    if not hook.data["name"]:
        hook.data["name"] = f"Webhook created on {now}"
    store.webhooks[hook.id] = hook
    store.save(hook)
    await store.dispatcher.ping(hook)  # synchronous, before the answer
    home = store.config.home_url
    return Reply(
        webhook_json(store, hook), 201, {"Location": f"{home}/wp-json/wc/v3/webhooks/{hook.id}"}
    )


def list_webhooks(call: Call) -> Reply:
    require(call, "list")
    status = call.params.get("status") or "all"
    hooks = [
        h for h in call.store.webhooks.values() if status == "all" or h.data["status"] == status
    ]
    hooks.sort(key=lambda h: (h.created, h.id), reverse=True)
    return list_reply(call, hooks, lambda h: webhook_json(call.store, h))


def get_webhook(call: Call) -> Reply:
    require(call, "read")
    return Reply(shape_one(call, webhook_json(call.store, _get(call))))


def update_webhook(call: Call) -> Reply:
    require(call, "edit")
    hook = _get(call)
    _apply(call, hook, call.json)
    hook.modified = call.store.now()
    hook.meta["saved_again"] = True
    call.store.save(hook)
    return Reply(webhook_json(call.store, hook))


def delete_webhook(call: Call) -> Reply:
    require(call, "delete")
    if not bool_param(call, "force"):
        raise RestError(
            501, "woocommerce_rest_trash_not_supported", "Webhooks do not support trashing."
        )
    hook = _get(call, deleting=True)
    hook.meta["saved_again"] = True
    before = webhook_json(call.store, hook)
    call.store.webhooks.pop(hook.id)
    call.store.forget(hook)
    return Reply(before)


ROUTES = [
    Route("/wc/v3/webhooks", {"GET": list_webhooks, "POST": create_webhook}),
    Route(
        r"/wc/v3/webhooks/(?P<id>\d+)",
        {
            "GET": get_webhook,
            "POST": update_webhook,
            "PUT": update_webhook,
            "PATCH": update_webhook,
            "DELETE": delete_webhook,
        },
    ),
]
