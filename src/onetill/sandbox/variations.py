"""``/wc/v3/products/{id}/variations`` and the global ``/wc/v3/variations`` (10.3+).

WooCommerce facts: an unknown parent lists as ``200 []``; saving a variation
bumps its parent's ``date_modified``; global items carry ``parent_id``.
"""

from __future__ import annotations

from typing import Any

from . import catalog
from .batch import run_batch
from .errors import invalid_id
from .listing import date_filter, list_reply, shape_one
from .products import ORDERBY, check_list, order_items, parse_order
from .records import Item
from .rest import Call, Reply, Route, bool_param, id_list, require
from .schema import VARIATION_ARGS
from .serialize import variation_json

__all__ = ["ROUTES"]

_BASE = r"/wc/v3/products/(?P<pid>\d+)/variations"


def _filtered(call: Call, pool: list[Item]) -> list[Item]:
    store = call.store
    check_list(call, lambda: _orderby(call))
    status = str(call.params.get("status") or "any")
    keep_date = date_filter(call, store.tz)
    include = id_list(call, "include")
    exclude = set(id_list(call, "exclude") or [])
    skus = [s.strip() for s in str(call.params.get("sku") or "").split(",") if s.strip()]
    out = []
    for it in pool:
        st = it.data.get("status")
        if (status == "any" and st == "trash") or (status != "any" and st != status):
            continue
        if include and it.id not in include:
            continue
        if it.id in exclude or (skus and it.data.get("sku") not in skus):
            continue
        if keep_date(it):
            out.append(it)
    return order_items(call, out, ORDERBY, include)


def _orderby(call: Call) -> None:
    parse_order(call, ORDERBY)


def list_variations(call: Call) -> Reply:
    require(call, "list")
    store = call.store
    pid = int(call.args["pid"])
    pool = [store.variations[v] for v in store.children.get(pid, [])]
    return list_reply(call, _filtered(call, pool), lambda it: variation_json(store, it))


def list_all_variations(call: Call) -> Reply:
    require(call, "list")
    store = call.store
    items = _filtered(call, list(store.variations.values()))
    return list_reply(call, items, lambda it: variation_json(store, it, global_route=True))


def _get(call: Call, vid: int, pid: int | None) -> Item:
    item = call.store.variations.get(vid)
    if item is None or (pid is not None and item.data["parent_id"] != pid):
        raise invalid_id("product_variation")
    return item


def get_variation(call: Call) -> Reply:
    require(call, "read")
    item = _get(call, int(call.args["id"]), int(call.args["pid"]))
    return Reply(shape_one(call, variation_json(call.store, item)))


def _variation_fields(body: dict[str, Any]) -> dict[str, Any]:
    """What a variation can take: its schema's fields (no name, categories, type ...)."""
    return {k: v for k, v in body.items() if k in VARIATION_ARGS}


def create_variation(call: Call) -> Reply:
    require(call, "create")
    parent = call.store.products.get(int(call.args["pid"]))
    if parent is None:
        raise invalid_id("product", 404)
    item = catalog.create_variation(
        call.store, parent, _variation_fields(call.json), validate_body=True
    )
    # WooCommerce 11 builds this Location from the route pattern without filling it in.
    where = f"{call.store.config.home_url}/wp-json/wc/v3/products/(?P<product_id>[\\d]+)"
    return Reply(
        variation_json(call.store, item, context="edit"),
        201,
        {"Location": f"{where}/variations/{item.id}"},
    )


def update_variation(call: Call) -> Reply:
    require(call, "edit")
    item = _get(call, int(call.args["id"]), int(call.args["pid"]))
    catalog.update_item(call.store, item, _variation_fields(call.json), validate_body=True)
    return Reply(variation_json(call.store, item, context="edit"))


def delete_variation(call: Call) -> Reply:
    require(call, "delete")
    item = _get(call, int(call.args["id"]), int(call.args["pid"]))
    before = variation_json(call.store, item, context="edit")
    if bool_param(call, "force"):
        catalog.force_delete(call.store, item)
    else:
        catalog.trash(call.store, item)
    return Reply(before)


def batch_variations(call: Call) -> Reply:
    store = call.store
    pid = int(call.args["pid"])
    parent = store.products.get(pid)

    def create(body: dict[str, Any]) -> dict[str, Any]:
        if parent is None:
            raise invalid_id("product", 404)
        made = catalog.create_variation(
            store, parent, _variation_fields(body), validate_body=False
        )
        return variation_json(store, made, context="edit")

    def update(vid: int, body: dict[str, Any]) -> dict[str, Any]:
        item = store.variations.get(vid)
        if item is None or item.data["parent_id"] != pid:
            raise invalid_id("product_variation", 400)
        catalog.update_item(store, item, _variation_fields(body), validate_body=False)
        return variation_json(store, item, context="edit")

    def delete(vid: int) -> dict[str, Any]:
        item = store.variations.get(vid)
        if item is None or item.data["parent_id"] != pid:
            raise invalid_id("product_variation", 404)
        before = variation_json(store, item, context="edit")
        catalog.force_delete(store, item)
        return before

    return run_batch(call, create, update, delete)


ROUTES = [
    Route(_BASE, {"GET": list_variations, "POST": create_variation}),
    Route(
        f"{_BASE}/batch",
        {"POST": batch_variations, "PUT": batch_variations, "PATCH": batch_variations},
    ),
    Route(
        rf"{_BASE}/(?P<id>\d+)",
        {
            "GET": get_variation,
            "POST": update_variation,
            "PUT": update_variation,
            "PATCH": update_variation,
            "DELETE": delete_variation,
        },
    ),
]
GLOBAL_ROUTES = [Route("/wc/v3/variations", {"GET": list_all_variations})]
