"""``/wc/v3/products``: list, read, create, update, trash/force delete, batch.

WooCommerce facts: default ``status=any`` excludes trash; since 9.6
``include_status`` (comma list, each value in the ``status`` enum, else
``400 rest_invalid_param`` naming ``include_status[i]``) takes precedence
over ``status``, and ``any`` keeps trash out only when ``trash`` is not named
too; older versions ignore it; ``sku`` (comma list)
also matches variations, which then appear in the list as variations;
``type=variation`` is a 400 (not in the enum); ``orderby`` date/modified get
``ID`` appended for stable paging; ``GET /products/{variation_id}`` works.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from . import catalog
from .batch import run_batch
from .errors import Checks, RestError, invalid_id, invalid_param
from .listing import check_paging, date_filter, list_reply, shape_one
from .records import PRODUCT, Item
from .rest import Call, Reply, Route, bool_param, id_list, require
from .serialize import item_json, variation_as_product

if TYPE_CHECKING:
    from .state import SandboxStore

__all__ = ["LIST_ARGS", "ORDERBY", "ROUTES", "check_list", "order_items", "parse_order"]

ORDERBY = (
    "date",
    "id",
    "include",
    "title",
    "slug",
    "modified",
    "popularity",
    "rating",
    "post__in",
    "price",
    "sales",
    "menu_order",
    "random",
    "popularity",
    "rating",
    "menu_order",
    "price",
    "popularity",
    "rating",
)
_STATUSES = ("any", "future", "trash", "draft", "pending", "private", "publish")
# The collection arguments in WooCommerce's order (OPTIONS /wc/v3/products): errors
# name the invalid ones in this order.
LIST_ARGS = (
    "context", "page", "per_page", "search", "after", "before", "modified_after",
    "modified_before", "dates_are_gmt", "exclude", "include", "offset", "order", "orderby",
    "parent", "parent_exclude", "brand", "slug", "status", "type", "sku", "featured",
    "category", "tag", "shipping_class", "attribute", "attribute_term", "tax_class", "on_sale",
    "min_price", "max_price", "stock_status", "customer", "product", "dp", "created_via",
)  # fmt: skip
_TYPES = ("simple", "grouped", "external", "variable")
_BASE = "/wc/v3/products"


def _enum(name: str, values: tuple[str, ...]) -> RestError:
    uniq = list(values)
    msg = f"{name} is not one of {', '.join(uniq[:-1])}, and {uniq[-1]}."
    return invalid_param(name, msg, "rest_not_in_enum")


def _order_of(call: Call) -> str:
    order = str(call.params.get("order") or "desc").lower()
    if order not in ("asc", "desc"):
        raise invalid_param("order", "order is not one of asc and desc.", "rest_not_in_enum")
    return order


def _orderby_of(call: Call, allowed: tuple[str, ...]) -> str:
    orderby = str(call.params.get("orderby") or "date")
    if orderby not in allowed:
        raise _enum("orderby", allowed)
    return orderby


def parse_order(call: Call, allowed: tuple[str, ...]) -> tuple[str, bool]:
    found = Checks(LIST_ARGS)
    order = found.run(_order_of, call)
    orderby = found.run(_orderby_of, call, allowed)
    found.done()
    return str(orderby), order == "desc"


def check_list(call: Call, *more: Callable[[], Any]) -> None:
    """Every collection parameter the sandbox knows, all invalid ones in one error (in
    WooCommerce's argument order); ``more`` are route-specific checks."""
    found = Checks(LIST_ARGS)
    found.run(check_paging, call)
    found.run(date_filter, call, call.store.tz)
    found.run(_order_of, call)
    for check in more:
        found.run(check)
    found.done()


def order_items(
    call: Call, items: list[Item], allowed: tuple[str, ...], include: list[int] | None = None
) -> list[Item]:
    orderby, desc = parse_order(call, allowed)
    store = call.store
    now = store.now()
    position: dict[int, int] = {}  # include order: the first place an id is named
    for i, item_id in enumerate(include or []):
        position.setdefault(item_id, i)

    def key(it: Item) -> Any:
        if orderby == "id":
            return it.id
        if orderby == "modified":
            return (it.modified, it.id)
        if orderby == "title":
            return (str(it.data.get("name", "")).lower(), it.id)
        if orderby == "slug":
            return (str(it.data.get("slug", "")), it.id)
        if orderby in ("include", "post__in") and include:
            return position.get(it.id, len(include))
        if orderby == "price":
            p = catalog.active_price(store, it, now) if it.kind != "order" else it.data["total"]
            return (Decimal(p or "0"), it.id)
        if orderby in ("popularity", "sales"):
            return (int(it.data.get("total_sales", 0)), it.id)
        if orderby == "menu_order":
            return (int(it.data.get("menu_order", 0)), it.id)
        return (it.created, it.id)

    if orderby in ("include", "post__in"):
        return sorted(items, key=key)
    return sorted(items, key=key, reverse=desc)


def _status_ok(status: Any, wanted: str | list[str]) -> bool:
    if isinstance(wanted, list):
        if status in wanted:
            return True
        return "any" in wanted and status != "trash"
    if wanted == "any":
        return bool(status != "trash")
    return bool(status == wanted)


def _include_status(call: Call) -> list[str] | None:
    """``include_status`` as WooCommerce 9.6+ reads it (None: absent, or an older store)."""
    raw = call.params.get("include_status")
    if raw is None or raw == "" or not _has_include_status(call.store.config.wc_version):
        return None
    values = raw if isinstance(raw, list) else str(raw).split(",")
    wanted = [str(v).strip() for v in values if str(v).strip()]
    for i, value in enumerate(wanted):
        if value not in _STATUSES:
            message = (f"include_status[{i}] is not one of "
                       f"{', '.join(_STATUSES[:-1])}, and {_STATUSES[-1]}.")  # fmt: skip
            raise invalid_param("include_status", message, "rest_not_in_enum")
    return wanted or None


def _has_include_status(version: str) -> bool:
    parts = [int(p) if p.isdigit() else 0 for p in version.split(".")[:2]]
    return tuple(parts + [0] * (2 - len(parts))) >= (9, 6)


def _enum_check(call: Call, name: str, values: tuple[str, ...]) -> Callable[[], None]:
    def check() -> None:
        value = call.params.get(name)
        if value is not None and value not in values:
            raise _enum(name, values)

    return check


def list_products(call: Call) -> Reply:
    store = call.store
    check_list(
        call,
        lambda: _orderby_of(call, ORDERBY),
        _enum_check(call, "status", _STATUSES),
        _enum_check(call, "type", _TYPES),
        lambda: bool_param(call, "on_sale"),
    )
    status: str | list[str] = str(call.params.get("status") or "any")
    status = _include_status(call) or status
    ptype = call.params.get("type")
    keep_date = date_filter(call, store.tz)
    require(call, "list")
    include = id_list(call, "include")
    exclude = set(id_list(call, "exclude") or [])
    parents = id_list(call, "parent")
    skus = [s.strip() for s in str(call.params.get("sku") or "").split(",") if s.strip()]
    search = str(call.params.get("search") or "").lower()
    category = call.params.get("category")
    tax_class = call.params.get("tax_class")
    stock_status = call.params.get("stock_status")
    slug = call.params.get("slug")
    on_sale = bool_param(call, "on_sale")
    gtin = call.params.get("global_unique_id")
    pool: list[Item] = list(store.products.values())
    if skus:
        pool += list(store.variations.values())
    now = store.now()
    out = []
    include_set = set(include) if include else None
    for it in pool:
        d = it.data
        if not _status_ok(d.get("status"), status):
            continue
        if include_set is not None and it.id not in include_set:
            continue
        if it.id in exclude or (ptype and d.get("type") != ptype):
            continue
        if skus and d.get("sku") not in skus:
            continue
        if parents is not None and it.kind == PRODUCT and 0 not in parents:
            continue
        if search and search not in str(d.get("name", "")).lower():
            continue
        if category and not any(
            str(c.get("id")) == str(category) or c.get("slug") == category
            for c in d.get("categories", [])
        ):
            continue
        if tax_class is not None and d.get("tax_class") != (
            "" if tax_class == "standard" else tax_class
        ):
            continue
        if stock_status and catalog.stock_status(store, it) != stock_status:
            continue
        if slug and d.get("slug") != slug:
            continue
        if gtin and d.get("global_unique_id") != gtin:
            continue
        if on_sale is not None and catalog.is_on_sale(store, it, now) != on_sale:
            continue
        if not keep_date(it):
            continue
        out.append(it)
    ordered = order_items(call, out, ORDERBY, include)
    context = _context(call)
    return list_reply(call, ordered, lambda it: _shaped(store, it, context))


def _context(call: Call) -> str:
    return "edit" if call.params.get("context") == "edit" else "view"


def _shaped(store: SandboxStore, item: Item, context: str) -> dict[str, Any]:
    """The products controller's shape: a variation read here looks like a product."""
    if item.kind == PRODUCT:
        return item_json(store, item, context=context)
    return variation_as_product(store, item, context=context)


def _variation_refused() -> RestError:
    return RestError(
        404,
        "woocommerce_rest_invalid_product_id",
        "To manipulate product variations you should use the "
        "/products/&lt;product_id&gt;/variations/&lt;id&gt; endpoint.",
    )


def _get(call: Call, item_id: int) -> Item:
    item = call.store.find(item_id)
    if item is None:
        raise invalid_id("product")
    return item


def _product(store: SandboxStore, item_id: int, status: int = 404) -> Item:
    """A product to write to: a variation id is refused (they have their own routes)."""
    item = store.find(item_id)
    if item is None:
        raise invalid_id("product", status)
    if item.kind != PRODUCT:
        raise _variation_refused()
    return item


def get_product(call: Call) -> Reply:
    require(call, "read")
    item = _get(call, int(call.args["id"]))
    return Reply(shape_one(call, _shaped(call.store, item, _context(call))))


def create_product(call: Call) -> Reply:
    require(call, "create")
    item = catalog.create_product(call.store, call.json, validate_body=True)
    home = call.store.config.home_url
    body = item_json(call.store, item, context="edit")  # write answers are in edit context
    return Reply(body, 201, {"Location": f"{home}/wp-json{_BASE}/{item.id}"})


def update_product(call: Call) -> Reply:
    require(call, "edit")
    item = _product(call.store, int(call.args["id"]), 400)  # update_item's own status
    catalog.update_item(call.store, item, call.json, validate_body=True)
    return Reply(item_json(call.store, item, context="edit"))


def delete_product(call: Call) -> Reply:
    require(call, "delete")
    item = _product(call.store, int(call.args["id"]))
    before = item_json(call.store, item, context="edit")
    if bool_param(call, "force"):
        catalog.force_delete(call.store, item)
    else:
        catalog.trash(call.store, item)
    return Reply(before)


def batch_products(call: Call) -> Reply:
    store = call.store

    def create(body: dict[str, Any]) -> dict[str, Any]:
        made = catalog.create_product(store, body, validate_body=False)
        return item_json(store, made, context="edit")

    def update(item_id: int, body: dict[str, Any]) -> dict[str, Any]:
        item = _product(store, item_id, 400)
        catalog.update_item(store, item, body, validate_body=False)
        return item_json(store, item, context="edit")

    def delete(item_id: int) -> dict[str, Any]:
        item = _product(store, item_id)
        before = item_json(store, item, context="edit")
        catalog.force_delete(store, item)  # batch delete is always permanent
        return before

    return run_batch(call, create, update, delete)


ROUTES = [
    Route(_BASE, {"GET": list_products, "POST": create_product}),
    Route(
        f"{_BASE}/batch", {"POST": batch_products, "PUT": batch_products, "PATCH": batch_products}
    ),
    Route(
        rf"{_BASE}/(?P<id>\d+)",
        {
            "GET": get_product,
            "POST": update_product,
            "PUT": update_product,
            "PATCH": update_product,
            "DELETE": delete_product,
        },
    ),
]
