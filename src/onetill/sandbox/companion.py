"""The companion plugin's routes (``/wc-onetill/v1/...``), served when ``config.plugin`` is on.

The contract is ``docs/companion-api.md``; the PHP plugin in
``plugin/onetill-companion/`` is the reference, and a contract test runs the
same requests against both. Here: ``status``, ``changes``, ``ids`` and the
route table; the writes (orders, stock, webhooks) are in ``companion_writes.py``.

As in WordPress, parameters are validated before the permission check
(anonymous callers get WooCommerce's 401 only with valid parameters).
"""

from __future__ import annotations

from typing import Any

from . import companion_writes as writes
from .companion_args import validate_args
from .dates import format_gmt
from .errors import RestError
from .rest import Call, Reply, Route, require

__all__ = ["NAMESPACE", "PLUGIN_VERSION", "ROUTES"]

NAMESPACE = "wc-onetill/v1"
PLUGIN_VERSION = "1.0.0"
WORDPRESS_VERSION = "7.0.4"
MAX_LIMIT = 1000
IDS_PER_PAGE = 5000
_BASE = f"/{NAMESPACE}"

_CHANGES_ARGS: dict[str, dict[str, Any]] = {
    "after": {"type": "integer", "minimum": 0, "required": True},
    "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 500},
    "epoch": {"type": "string", "pattern": "^[a-f0-9]{1,64}$"},
}
_IDS_ARGS: dict[str, dict[str, Any]] = {
    "type": {"type": "string", "enum": ["product", "variation"], "required": True},
    "page": {"type": "integer", "minimum": 1, "default": 1},
    "per_page": {"type": "integer", "minimum": 1, "maximum": IDS_PER_PAGE, "default": IDS_PER_PAGE},
    "after_id": {"type": "integer", "minimum": 0},
}


def status(call: Call) -> Reply:
    require(call, "list")
    store = call.store
    journal = writes.journal_of(store)
    return Reply(
        {
            "plugin_version": PLUGIN_VERSION,
            "woocommerce_version": store.config.wc_version,
            "wordpress_version": WORDPRESS_VERSION,
            "server_time_gmt": format_gmt(store.now()),
            "journal": {
                "epoch": journal.epoch,
                "head": journal.head,
                "pruned_through": journal.pruned_through,
                "max_limit": MAX_LIMIT,
            },
            "hpos": True,
            "features": dict.fromkeys(
                (
                    "changes",
                    "ids",
                    "idempotent_orders",
                    "orders_by_uuid",
                    "stock_adjust",
                    "webhooks_ensure",
                ),
                True,
            ),
        }
    )


def changes(call: Call) -> Reply:
    args = validate_args(call, _CHANGES_ARGS)
    require(call, "list")
    journal = writes.journal_of(call.store)
    after = int(args["after"])
    reason = ""
    if args["epoch"] and args["epoch"] != journal.epoch:
        reason = "epoch"
    elif after < journal.pruned_through:
        reason = "expired"
    elif after > journal.head:
        reason = "ahead"
    if reason:
        raise RestError(
            410,
            "onetill_journal_rebaseline",
            "The change journal no longer covers this position: sync everything once, "
            "then follow the journal from data.head.",
            reason=reason,
            epoch=journal.epoch,
            head=journal.head,
        )
    rows, nxt, more = journal.read(after, int(args["limit"]))
    return Reply(
        {
            "epoch": journal.epoch,
            "head": journal.head,
            "next": nxt,
            "more": more,
            "changes": [
                {
                    "seq": c.seq,
                    "type": c.type,
                    "id": c.id,
                    "parent_id": c.parent_id,
                    "key": c.key,
                    "op": c.op,
                    "at": format_gmt(c.at),
                }
                for c in rows
            ],
        }
    )


def ids(call: Call) -> Reply:
    args = validate_args(call, _IDS_ARGS)
    require(call, "list")
    store = call.store
    pool = store.products if args["type"] == "product" else store.variations
    everything = sorted(pool.values(), key=lambda item: item.id)
    per_page = int(args["per_page"])
    after_id = args["after_id"]
    if after_id is not None:
        chosen = [item for item in everything if item.id > after_id][:per_page]
    else:
        start = (int(args["page"]) - 1) * per_page
        chosen = everything[start : start + per_page]
    items = [
        {
            "id": item.id,
            "parent_id": int(item.data.get("parent_id") or 0),
            "status": str(item.data.get("status", "publish")),
            "date_modified_gmt": format_gmt(item.modified),
        }
        for item in chosen
    ]
    total = len(everything)
    pages = -(-total // per_page)
    body = {
        "type": args["type"],
        "page": int(args["page"]) if after_id is None else None,
        "per_page": per_page,
        "total": total,
        "total_pages": pages,
        "next_after_id": items[-1]["id"] if items and len(items) == per_page else None,
        "items": items,
    }
    return Reply(body, headers={"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)})


ROUTES = [
    Route(f"{_BASE}/status", {"GET": status}),
    Route(f"{_BASE}/changes", {"GET": changes}),
    Route(f"{_BASE}/ids", {"GET": ids}),
    Route(f"{_BASE}/orders", {"POST": writes.create_order}),
    Route(f"{_BASE}/orders/by-key/(?P<key>{writes.KEY_REGEX})", {"GET": writes.by_key}),
    Route(f"{_BASE}/orders/by-uuid", {"GET": writes.by_uuid}),
    Route(f"{_BASE}/stock/adjust", {"POST": writes.adjust_stock}),
    Route(f"{_BASE}/webhooks/ensure", {"POST": writes.ensure_webhooks}),
]
