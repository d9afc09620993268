"""``/wc/v3/orders`` (+ notes, refunds, batch).

WooCommerce facts: list filters ``after``/``before`` (creation),
``modified_after``/``modified_before``, ``dates_are_gmt``, ``status`` (comma
list), ``include``, ``search`` (id, item names, address fields; never meta),
``created_via``, ``customer``, ``product``. Default ``status=any``. Money is
printed with the request's ``dp`` (else the price decimals): declared and
type-checked on the list, read through ``absint`` on single-order routes.
"""

from __future__ import annotations

from typing import Any

from . import checkout, money, refunds
from .batch import run_batch
from .dates import format_gmt, format_local
from .errors import RestError, invalid_id, invalid_param
from .listing import date_filter, list_reply, shape_one
from .products import check_list, order_items, parse_order
from .records import Item
from .rest import Call, Reply, Route, bool_param, id_list, int_param, require
from .serialize import links, order_json, refund_json

__all__ = ["ROUTES"]

_ORDERBY = ("date", "id", "include", "title", "slug", "modified")
_BASE = "/wc/v3/orders"


def _search_hit(order: Item, needle: str) -> bool:
    d = order.data
    hay = [str(order.id)] + [li["name"] for li in d["line_items"]]
    hay += [str(v) for k in ("billing", "shipping") for v in d[k].values()]
    return any(needle in h.lower() for h in hay)


def _statuses(call: Call) -> list[str]:
    raw_status = call.params.get("status") or "any"
    statuses = raw_status if isinstance(raw_status, list) else str(raw_status).split(",")
    allowed = ("any", "trash", *checkout.ORDER_STATUSES)
    for s in statuses:
        if s not in allowed:
            msg = f"status[0] is not one of {', '.join(allowed[:-1])}, and {allowed[-1]}."
            raise invalid_param("status", msg, "rest_not_in_enum")
    return [str(s) for s in statuses]


def list_orders(call: Call) -> Reply:
    store = call.store
    check_list(
        call,
        lambda: parse_order(call, _ORDERBY),
        lambda: _statuses(call),
        lambda: money.request_dp(call, checked=True),
    )
    statuses = _statuses(call)
    keep_date = date_filter(call, store.tz)
    require(call, "list")
    include = id_list(call, "include")
    exclude = set(id_list(call, "exclude") or [])
    search = str(call.params.get("search") or "").lower()
    created_via = call.params.get("created_via")
    vias = str(created_via).split(",") if created_via else None
    customer = int_param(call, "customer", None)
    product = int_param(call, "product", None)
    include_set = set(include) if include else None
    out = []
    for o in store.orders.values():
        st = o.data["status"]
        if "any" in statuses:
            if st == "trash":
                continue
        elif st not in statuses:
            continue
        if include_set is not None and o.id not in include_set:
            continue
        if o.id in exclude or (vias is not None and o.data.get("created_via") not in vias):
            continue
        if customer is not None and o.data.get("customer_id") != customer:
            continue
        if product is not None and not any(
            product in (li["product_id"], li["variation_id"]) for li in o.data["line_items"]
        ):
            continue
        if search and not _search_hit(o, search):
            continue
        if keep_date(o):
            out.append(o)
    dp = money.request_dp(call, checked=True)
    # The price decimals once per page, not once per order (a scan of the settings).
    places = money.price_decimals(store) if dp is None else dp
    ordered = order_items(call, out, _ORDERBY, include)
    return list_reply(call, ordered, lambda o: order_json(store, o, places))


def _get(call: Call) -> Item:
    order = call.store.orders.get(int(call.args["id"]))
    if order is None:
        raise invalid_id("shop_order")
    return order


def get_order(call: Call) -> Reply:
    require(call, "read")
    dp = money.request_dp(call, checked=False)
    return Reply(shape_one(call, order_json(call.store, _get(call), dp)))


def create_order(call: Call) -> Reply:
    require(call, "create")
    order = checkout.create_order(call.store, call.json)
    home = call.store.config.home_url
    dp = money.request_dp(call, checked=False)
    return Reply(
        order_json(call.store, order, dp), 201, {"Location": f"{home}/wp-json{_BASE}/{order.id}"}
    )


def update_order(call: Call) -> Reply:
    require(call, "edit")
    order = call.store.orders.get(int(call.args["id"]))
    if order is None:  # the update route says it its own way
        raise RestError(400, "woocommerce_rest_shop_order_invalid_id", "ID is invalid.")
    checkout.update_order(call.store, order, call.json)
    return Reply(order_json(call.store, order, money.request_dp(call, checked=False)))


def delete_order(call: Call) -> Reply:
    require(call, "delete")
    order = _get(call)
    before = order_json(call.store, order)
    if bool_param(call, "force"):
        call.store.orders.pop(order.id)
        call.store.forget(order)
    else:
        if order.data["status"] == "trash":
            raise RestError(
                410, "woocommerce_rest_already_trashed", "The order has already been deleted."
            )
        order.meta["trash_prev"] = order.data["status"]
        order.data["status"] = "trash"
        order.modified = call.store.now()
        call.store.save(order)
        # order.deleted hangs on wp_trash_post: a permanent delete sends nothing.
        call.store.emit("order.deleted", order.id)
    return Reply(before)


def batch_orders(call: Call) -> Reply:
    store = call.store

    def create(body: dict[str, Any]) -> dict[str, Any]:
        return order_json(store, checkout.create_order(store, body, validate=False))

    def update(oid: int, body: dict[str, Any]) -> dict[str, Any]:
        order = store.orders.get(oid)
        if order is None:
            raise invalid_id("shop_order", 400)
        checkout.update_order(store, order, body, validate=False)
        return order_json(store, order)

    def delete(oid: int) -> dict[str, Any]:
        order = store.orders.get(oid)
        if order is None:
            raise invalid_id("shop_order", 404)
        before = order_json(store, order)
        store.orders.pop(oid)
        store.forget(order)
        return before

    return run_batch(call, create, update, delete)


def list_notes(call: Call) -> Reply:
    require(call, "list")
    order = _get(call)
    store = call.store
    body = []
    for n in order.meta.get("notes", []):
        body.append(
            {
                "id": n["id"],
                "author": n["author"],
                "date_created": format_local(n["created"], store.tz),
                "date_created_gmt": format_gmt(n["created"]),
                "note": n["note"],
                "customer_note": n["customer_note"],
                "_links": links(
                    store,
                    f"orders/{order.id}/notes/{n['id']}",
                    f"orders/{order.id}/notes",
                    up=f"orders/{order.id}",
                    allow=["GET", "DELETE"],
                ),
            }
        )
    return Reply(body)


def list_refunds(call: Call) -> Reply:
    require(call, "list")
    order = _get(call)
    store = call.store
    items = [store.refunds[r] for r in order.meta.get("refunds", []) if r in store.refunds]
    return list_reply(call, items, lambda r: refund_json(store, r))


def create_refund(call: Call) -> Reply:
    require(call, "create")
    order = _get(call)
    refund = refunds.create_refund(call.store, order, call.json)
    home = call.store.config.home_url
    # WooCommerce really sends the route pattern in this Location header.
    loc = f"{home}/wp-json/wc/v3/orders/(?P<order_id>[\\d]+)/refunds/{refund.id}"
    return Reply(refund_json(call.store, refund), 201, {"Location": loc})


def get_refund(call: Call) -> Reply:
    require(call, "read")
    order = _get(call)
    rid = int(call.args["rid"])
    refund = call.store.refunds.get(rid)
    if refund is None or refund.meta["order_id"] != order.id:
        raise invalid_id("shop_order_refund")
    return Reply(shape_one(call, refund_json(call.store, refund)))


_ONE = rf"{_BASE}/(?P<id>\d+)"
ROUTES = [
    Route(_BASE, {"GET": list_orders, "POST": create_order}),
    Route(f"{_BASE}/batch", {"POST": batch_orders, "PUT": batch_orders, "PATCH": batch_orders}),
    Route(
        _ONE,
        {
            "GET": get_order,
            "POST": update_order,
            "PUT": update_order,
            "PATCH": update_order,
            "DELETE": delete_order,
        },
    ),
    Route(f"{_ONE}/notes", {"GET": list_notes}),
    Route(f"{_ONE}/refunds", {"GET": list_refunds, "POST": create_refund}),
    Route(rf"{_ONE}/refunds/(?P<rid>\d+)", {"GET": get_refund}),
]
