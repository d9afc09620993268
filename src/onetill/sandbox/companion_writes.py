"""The companion plugin's order, stock and webhook routes, as the sandbox serves them.

Mirrors ``class-onetill-companion-orders.php``, ``-stock.php`` and
``-webhooks.php``. The sandbox answers one request at a time, so an order
"still being created" (409) never happens here; everything else does: the
same key gives the same order (200, ``Idempotent-Replayed: true``), another
body under a used key is a 422, WooCommerce's own refusal leaves the key
free, and the sale time from ``_onetill_sold_at`` becomes the order's dates.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from . import catalog, checkout
from .companion_args import validate_args
from .companion_journal import PluginTables
from .errors import RestError, no_route
from .records import WEBHOOK, Item
from .rest import Call, Reply, require
from .serialize import order_json
from .webhook_routes import _HOOKS as WEBHOOK_HOOKS
from .webhook_routes import _valid_url

if TYPE_CHECKING:
    from .companion_journal import Journal
    from .state import SandboxStore

__all__ = [
    "KEY_REGEX",
    "adjust_stock",
    "by_key",
    "by_uuid",
    "create_order",
    "ensure_webhooks",
    "journal_of",
    "tables_of",
]

KEY_REGEX = r"[A-Za-z0-9][A-Za-z0-9._:-]{7,127}"
META_KEY = "_onetill_idempotency_key"
META_UUID = "_onetill_order_uuid"
META_SOLD_AT = "_onetill_sold_at"
MAX_AGE_S = 30 * 86400
MAX_UUIDS = 100
MAX_ADJUSTMENTS = 100
DEFAULT_TOPICS = (
    "product.created",
    "product.updated",
    "product.deleted",
    "product.restored",
    "order.created",
    "order.updated",
)
TOPICS = (*DEFAULT_TOPICS, "order.deleted", "order.restored")

_ORDER_ARGS: dict[str, dict[str, Any]] = {
    "idempotency_key": {"type": "string", "pattern": f"^{KEY_REGEX}$"},
    "dp": {"type": "integer", "minimum": 0},
}
_UUID_ARGS: dict[str, dict[str, Any]] = {
    "uuids": {"type": "string", "required": True, "minLength": 1},
}
_ADJUST_ARGS: dict[str, dict[str, Any]] = {
    "adjustments": {
        "type": "array",
        "required": True,
        "minItems": 1,
        "maxItems": MAX_ADJUSTMENTS,
        "items": {
            "type": "object",
            "required": ["id", "delta", "key"],
            "additionalProperties": False,
            "properties": {
                "id": {"type": "integer", "minimum": 1},
                "delta": {"type": "integer"},
                "key": {"type": "string", "pattern": f"^{KEY_REGEX}$"},
            },
        },
    }
}
_WEBHOOK_ARGS: dict[str, dict[str, Any]] = {
    "delivery_url": {"type": "string", "required": True},
    "secret": {"type": "string", "required": True, "minLength": 8},
    "topics": {"type": "array", "items": {"type": "string", "enum": list(TOPICS)}},
    "name": {"type": "string", "maxLength": 100},
}


def tables_of(store: SandboxStore) -> PluginTables:
    if store.plugin is None:
        raise no_route()
    return store.plugin


def journal_of(store: SandboxStore) -> Journal:
    return tables_of(store).journal


# --- orders -----------------------------------------------------------------


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _canonical(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return value


def _key(call: Call) -> str:
    key = call.headers.get("idempotency-key") or call.get("idempotency_key")
    if not key:
        raise RestError(
            400,
            "onetill_idempotency_key_missing",
            "Send an Idempotency-Key header (the sale UUID): the same key always gives the "
            "same order.",
        )
    if not isinstance(key, str) or not re.fullmatch(KEY_REGEX, key):
        raise RestError(
            400,
            "onetill_idempotency_key_invalid",
            "The Idempotency-Key must be 8 to 128 characters: letters, digits and . _ : - "
            "(a UUID fits).",
        )
    return key.lower()


def _sold_at(body: dict[str, Any], now: int) -> int | None:
    for entry in body.get("meta_data") or []:
        if not isinstance(entry, dict) or entry.get("key") != META_SOLD_AT:
            continue
        value = entry.get("value")
        if not isinstance(value, str) or not re.match(
            r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}", value
        ):
            return None
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return max(now - MAX_AGE_S, min(now, int(moment.timestamp())))
    return None


def _replay(store: SandboxStore, order_id: int) -> Reply:
    order = store.orders.get(order_id)
    if order is None:
        raise RestError(
            410,
            "onetill_idempotency_order_deleted",
            "An order was created with this Idempotency-Key but has since been deleted "
            "permanently; it is not created again.",
            order_id=order_id,
        )
    return Reply(order_json(store, order), 200, {"Idempotent-Replayed": "true"})


def create_order(call: Call) -> Reply:
    validate_args(call, _ORDER_ARGS)
    require(call, "create")
    store = call.store
    tables = tables_of(store)
    key = _key(call)
    body = call.body
    if not isinstance(body, dict):
        raise RestError(
            400,
            "onetill_order_body_invalid",
            "Send the order as a JSON object (Content-Type: application/json), as for "
            "POST /wc/v3/orders.",
        )
    digest = hashlib.sha256(json.dumps(_canonical(body)).encode()).hexdigest()
    known = tables.order_keys.get(key)
    if known is not None:
        if known[0] != digest:
            raise RestError(
                422,
                "onetill_idempotency_key_reused",
                "This Idempotency-Key was already used with a different order body; a new "
                "sale needs a new key.",
                order_id=known[1],
            )
        return _replay(store, int(known[1]))
    order = checkout.create_order(store, body)  # WooCommerce's refusal: nothing is kept
    order.data["meta_data"].append(
        {"id": store.next_id("order_meta"), "key": META_KEY, "value": key}
    )
    sold = _sold_at(body, store.now())
    if sold is not None:
        order.created = sold
        for name in ("date_paid", "date_completed"):
            if order.meta.get(name) is not None and order.meta[name] > sold:
                order.meta[name] = sold
    store.save(order)
    tables.order_keys[key] = [digest, order.id]
    store.save_blob("companion_order_keys", tables.order_keys)
    home = store.config.home_url
    return Reply(
        order_json(store, order), 201, {"Location": f"{home}/wp-json/wc/v3/orders/{order.id}"}
    )


def by_key(call: Call) -> Reply:
    require(call, "read")
    store = call.store
    known = tables_of(store).order_keys.get(call.args["key"].lower())
    order_id = int(known[1]) if known else 0
    order = store.orders.get(order_id)
    if order is None:
        raise RestError(
            404,
            "onetill_order_not_found",
            "No order was created with this idempotency key.",
            order_id=order_id,
        )
    return Reply(order_json(store, order))


def by_uuid(call: Call) -> Reply:
    args = validate_args(call, _UUID_ARGS)
    require(call, "read")
    wanted = list(dict.fromkeys(u.strip() for u in str(args["uuids"]).split(",") if u.strip()))
    if not wanted or len(wanted) > MAX_UUIDS:
        message = f"Give 1 to {MAX_UUIDS} sale UUIDs, separated by commas."
        raise RestError(
            400,
            "rest_invalid_param",
            f"Invalid parameter(s): uuids (give 1 to {MAX_UUIDS} sale UUIDs, separated by commas)",
            params={"uuids": message},
        )
    store = call.store
    out = []
    for order in sorted(store.orders.values(), key=lambda o: o.id):
        uuid = next((m["value"] for m in order.data["meta_data"] if m["key"] == META_UUID), None)
        if uuid in wanted:
            created = datetime.fromtimestamp(order.created, UTC).strftime("%Y-%m-%dT%H:%M:%S")
            out.append(
                {
                    "uuid": str(uuid),
                    "id": order.id,
                    "number": str(order.id),
                    "status": order.data["status"],
                    "date_created_gmt": created,
                }
            )
    return Reply(out)


# --- stock ------------------------------------------------------------------


def _key_reused(index: int, key: str) -> RestError:
    return RestError(
        422,
        "onetill_idempotency_key_reused",
        "No stock was changed: an adjustment key was already used for a different product "
        "or quantity.",
        index=index,
        key=key,
    )


def adjust_stock(call: Call) -> Reply:
    items = validate_args(call, _ADJUST_ARGS)["adjustments"]
    require(call, "edit")
    store = call.store
    tables = tables_of(store)
    seen: dict[str, tuple[int, int]] = {}
    for index, item in enumerate(items):
        key, want = item["key"].lower(), (item["id"], item["delta"])
        stored = tables.stock_keys.get(key)
        if seen.get(key, want) != want or (stored and (stored[0], stored[1]) != want):
            raise _key_reused(index, key)
        seen[key] = want
    errors = []
    for index, item in enumerate(items):
        found = store.find(item["id"])
        problem = None
        if item["delta"] == 0:
            problem = ("onetill_stock_zero_delta", "delta must not be 0.")
        elif found is None or found.data.get("status") == "trash":
            problem = ("onetill_stock_unknown_product", "No product or variation has this id.")
        elif not catalog.stock_holder(store, found).data.get("manage_stock"):
            problem = (
                "onetill_stock_not_managed",
                'This product does not manage stock: turn on "Manage stock" for it first.',
            )
        if problem:
            errors.append(
                {"index": index, "id": item["id"], "code": problem[0], "message": problem[1]}
            )
    if errors:
        raise RestError(
            400,
            "onetill_stock_adjust_refused",
            "No stock was changed: some adjustments cannot be applied (see data.errors).",
            errors=errors,
        )
    results = []
    for item in items:
        key = item["key"].lower()
        stored = tables.stock_keys.get(key)
        if stored is None:
            found = store.find(item["id"])
            assert found is not None  # checked above
            moved = catalog.adjust_stock(store, found, item["delta"])
            assert moved is not None  # manages stock: checked above
            stored = [item["id"], item["delta"], moved[0].id, moved[2]]
            tables.stock_keys[key] = stored
            replayed = False
        else:
            replayed = True
        results.append(
            {
                "id": item["id"],
                "key": key,
                "delta": item["delta"],
                "stock_item_id": stored[2],
                "stock_quantity": stored[3],
                "replayed": replayed,
            }
        )
    store.save_blob("companion_stock_keys", tables.stock_keys)
    return Reply({"adjustments": results})


# --- webhooks ---------------------------------------------------------------


def ensure_webhooks(call: Call) -> Reply:
    args = validate_args(call, _WEBHOOK_ARGS)
    require(call, "create")
    url = str(args["delivery_url"])
    if not _valid_url(url):
        raise RestError(
            400,
            "onetill_webhook_invalid_delivery_url",
            "delivery_url must be a full URL starting with http:// or https://.",
        )
    topics = list(dict.fromkeys(args["topics"] or DEFAULT_TOPICS))
    prefix = args["name"] or "OneTill"
    store = call.store
    out = []
    for topic in topics:
        mine = sorted(
            (
                h
                for h in store.webhooks.values()
                if h.data["delivery_url"] == url and h.data["topic"] == topic
            ),
            key=lambda h: h.id,
        )
        for extra in mine[1:]:
            store.webhooks.pop(extra.id)
            store.forget(extra)
        if mine:
            hook = mine[0]
            action = "updated" if hook.data["status"] == "active" else "reactivated"
        else:
            hook = _new_webhook(store, url, topic, f"{prefix} {topic}")
            action = "created"
        hook.data["status"] = "active"
        hook.meta.update(secret=str(args["secret"]), failures=0)
        hook.modified = store.now()
        store.save(hook)
        out.append(
            {
                "id": hook.id,
                "topic": topic,
                "status": "active",
                "action": action,
                "deleted_duplicates": len(mine) - 1 if mine else 0,
            }
        )
    return Reply({"delivery_url": url, "webhooks": out})


def _new_webhook(store: SandboxStore, url: str, topic: str, name: str) -> Item:
    """Saved directly, as WC_Webhook::save() does: no ping (unlike POST /wc/v3/webhooks)."""
    now = store.now()
    resource, _, event = topic.partition(".")
    hook = Item(
        WEBHOOK,
        store.next_id("webhook"),
        {
            "name": name,
            "status": "active",
            "topic": topic,
            "resource": resource,
            "event": event,
            "hooks": WEBHOOK_HOOKS[topic],
            "delivery_url": url,
        },
        now,
        now,
        {"secret": secrets.token_urlsafe(24), "failures": 0},
    )
    store.webhooks[hook.id] = hook
    return hook
