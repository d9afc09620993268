"""``POST /{resource}/batch``: create, update and delete in one request.

WooCommerce facts: the limit (100) counts create + update + delete together
(``413 woocommerce_rest_request_entity_too_large``); a failing item does not
fail the request (HTTP 200, ``{"id", "error": {code, message, data}}`` in its
place); items skip schema validation; batch ``delete`` is always permanent;
a group sent empty is left out of the answer, and with none left the answer
is ``[]``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .errors import RestError
from .rest import Call, Reply, require

__all__ = ["BATCH_LIMIT", "run_batch"]

BATCH_LIMIT = 100

Create = Callable[[dict[str, Any]], dict[str, Any]]
Update = Callable[[int, dict[str, Any]], dict[str, Any]]
Delete = Callable[[int], dict[str, Any]]


def _error(item_id: int, err: RestError) -> dict[str, Any]:
    return {"id": item_id, "error": err.body()}


def run_batch(call: Call, create: Create, update: Update, delete: Delete) -> Reply:
    body = call.json
    groups = {k: body.get(k) for k in ("create", "update", "delete")}
    count = sum(len(v) for v in groups.values() if isinstance(v, list))
    if count > BATCH_LIMIT:
        raise RestError(
            413,
            "woocommerce_rest_request_entity_too_large",
            f"Unable to accept more than {BATCH_LIMIT} items for this request.",
        )
    require(call, "batch")
    out: dict[str, list[dict[str, Any]]] = {}
    if isinstance(groups["create"], list):
        out["create"] = []
        for item in groups["create"]:
            try:
                out["create"].append(create(item if isinstance(item, dict) else {}))
            except RestError as err:
                out["create"].append(_error(0, err))
    if isinstance(groups["update"], list):
        out["update"] = []
        for item in groups["update"]:
            item = item if isinstance(item, dict) else {}
            try:
                item_id = int(item.get("id") or 0)
            except (TypeError, ValueError):
                item_id = 0
            try:
                out["update"].append(update(item_id, item))
            except RestError as err:
                out["update"].append(_error(item_id, err))
    if isinstance(groups["delete"], list):
        out["delete"] = []
        for raw in groups["delete"]:
            try:
                item_id = int(raw["id"] if isinstance(raw, dict) else raw)
            except (TypeError, ValueError, KeyError):
                item_id = 0
            try:
                out["delete"].append(delete(item_id))
            except RestError as err:
                out["delete"].append(_error(item_id, err))
    # Only non-empty groups are answered; nothing at all is PHP's empty array: [].
    kept = {k: v for k, v in out.items() if v}
    return Reply(kept or [])
