"""Full v3 JSON shapes, built from the stored records at answer time.

Derived fields (``price``, ``on_sale``, ``stock_status``, ``variations``, the
``"parent"`` of ``manage_stock``, every date string) are computed here so they
always agree with the store's clock and stock.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from . import catalog, money, order_rules, permalinks
from .dates import format_gmt, format_local
from .price_html import price_html
from .records import PRODUCT, Item

if TYPE_CHECKING:
    from .state import SandboxStore

__all__ = [
    "fields_filter",
    "filter_fields",
    "item_json",
    "links",
    "order_json",
    "product_json",
    "refund_json",
    "variation_as_product",
    "variation_json",
    "webhook_json",
]

_ALL = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def links(
    store: SandboxStore,
    path: str,
    collection: str,
    *,
    up: str | None = None,
    allow: list[str] | None = None,
    hints: bool = True,
) -> dict[str, Any]:
    """The ``_links`` WordPress adds: self (with targetHints), collection, maybe up."""
    api = f"{store.config.home_url}/wp-json/wc/v3/"
    self_link: dict[str, Any] = {"href": api + path}
    if hints:
        self_link["targetHints"] = {"allow": allow or _ALL}
    out: dict[str, Any] = {"self": [self_link], "collection": [{"href": api + collection}]}
    if up is not None:
        out["up"] = [{"href": api + up}]
    return out


def _dates(store: SandboxStore, out: dict[str, Any], name: str, ts: int | None) -> None:
    out[name] = None if ts is None else format_local(ts, store.tz)
    out[f"{name}_gmt"] = None if ts is None else format_gmt(ts)


def _common(store: SandboxStore, item: Item, now: int) -> dict[str, Any]:
    d = item.data
    price = catalog.active_price(store, item, now)
    out: dict[str, Any] = {"id": item.id}
    out.update(d)
    # A copy: a DELETE answers the object as it was before trashing added meta.
    out["meta_data"] = [dict(m) for m in d.get("meta_data") or []]
    _dates(store, out, "date_created", item.created)
    _dates(store, out, "date_modified", item.modified)
    out["price"] = price
    out["on_sale"] = catalog.is_on_sale(store, item, now)
    # is_purchasable(): the key's user may edit any product, so any status with a price.
    out["purchasable"] = price != ""
    _dates(store, out, "date_on_sale_from", item.meta.get("sale_from"))
    _dates(store, out, "date_on_sale_to", item.meta.get("sale_to"))
    out["stock_quantity"] = catalog.shown_stock(store, item)
    out["stock_status"] = catalog.stock_status(store, item)
    backorders = d.get("backorders", "no")
    out["backorders_allowed"] = backorders != "no"
    out["backordered"] = bool(
        out["backorders_allowed"]
        and out["stock_quantity"] is not None
        and out["stock_quantity"] < 0
    )
    return out


def _edit_fields(store: SandboxStore, item: Item, out: dict[str, Any]) -> None:
    """What ``context=edit`` (every write answer) adds to a product or changes in it."""
    rating = str(out.get("average_rating", "0"))
    out["average_rating"] = "0" if Decimal(rating or "0") == 0 else rating
    out["permalink_template"] = f"{store.config.home_url}/product/%pagename%/"
    out["generated_slug"] = permalinks.generated_slug(store, item)


def product_json(
    store: SandboxStore, item: Item, now: int | None = None, *, context: str = "view"
) -> dict[str, Any]:
    now = store.now() if now is None else now
    out = _common(store, item, now)
    out["permalink"] = permalinks.permalink(store, item)
    out["manage_stock"] = bool(item.data.get("manage_stock"))
    out["variations"] = catalog.children(store, item)
    out["has_options"] = item.data.get("type") == "variable"
    out["shipping_required"] = not item.data.get("virtual", False)
    out["shipping_taxable"] = out["shipping_required"] and item.data.get("tax_status") in (
        "taxable",
        "shipping",
    )
    out["price_html"] = price_html(store, item, now)
    # The products controller prints a falsy sale price ("0") as "" (variations do not).
    if out.get("sale_price") == "0":
        out["sale_price"] = ""
    out.pop("total_sales", None)
    out["total_sales"] = item.data.get("total_sales", 0)
    if context == "edit":
        _edit_fields(store, item, out)
    out["_links"] = links(store, f"products/{item.id}", "products")
    return _hostile(item, out)


def _hostile(item: Item, out: dict[str, Any]) -> dict[str, Any]:
    """Fields a test set verbatim (``SandboxStore.set_raw_fields``): what a broken plugin
    or a corrupted row makes a real store answer, never validated or derived."""
    raw = item.meta.get("raw_fields")
    if raw:
        out.update(raw)
    return out


def _variation_view(store: SandboxStore, item: Item, out: dict[str, Any], context: str) -> None:
    """What a variation shows of its parent: SKU when it has none, and (in view context)
    the tax class when its own is ``parent`` (the default)."""
    parent = store.products.get(item.data["parent_id"])
    if not out.get("sku") and parent is not None:
        out["sku"] = parent.data.get("sku", "")
    if context != "edit" and out.get("tax_class") == "parent":
        out["tax_class"] = parent.data.get("tax_class", "") if parent is not None else ""
    out["permalink"] = permalinks.permalink(store, item)
    if catalog.is_parent_managed(store, item):
        out["manage_stock"] = "parent"
    else:
        out["manage_stock"] = bool(item.data.get("manage_stock"))


def variation_json(
    store: SandboxStore,
    item: Item,
    now: int | None = None,
    *,
    global_route: bool = False,
    context: str = "view",
) -> dict[str, Any]:
    now = store.now() if now is None else now
    out = _common(store, item, now)
    out["type"] = "variation"
    # variation_is_visible(): a variation is bought only while published.
    out["purchasable"] = out["price"] != "" and item.data.get("status") == "publish"
    out.pop("total_sales", None)
    pid = item.data["parent_id"]
    _variation_view(store, item, out, context)
    if global_route:
        # WooCommerce's global /variations answers carry these odd links (up: products/0).
        out["_links"] = links(
            store, f"variations/{item.id}", "variations", up="products/0", hints=False
        )
    else:
        out["_links"] = links(
            store,
            f"products/{pid}/variations/{item.id}",
            f"products/{pid}/variations",
            up=f"products/{pid}",
        )
    return _hostile(item, out)


# A variation read through /products/{id} is shaped as a product (WooCommerce runs it
# through the products controller): these product fields, with these values.
_AS_PRODUCT: dict[str, Any] = {
    "featured": False, "catalog_visibility": "visible", "short_description": "",
    "external_url": "", "button_text": "", "sold_individually": False,
    "reviews_allowed": False, "average_rating": "0.00", "rating_count": 0, "upsell_ids": [],
    "cross_sell_ids": [], "purchase_note": "", "categories": [], "brands": [], "tags": [],
    "images": [], "default_attributes": [], "variations": [], "grouped_products": [],
    "related_ids": [], "has_options": False, "post_password": "", "total_sales": "0",
}  # fmt: skip
_NOT_AS_PRODUCT = ("image", "gallery_image_ids")


def variation_as_product(
    store: SandboxStore, item: Item, now: int | None = None, *, context: str = "view"
) -> dict[str, Any]:
    """``GET /products/{variation_id}``: the variation in the product shape."""
    now = store.now() if now is None else now
    out = variation_json(store, item, now, context=context)
    for key in _NOT_AS_PRODUCT:
        out.pop(key, None)
    out.update(_AS_PRODUCT)
    parent = store.products.get(item.data["parent_id"])
    title = str(parent.data.get("name", "")) if parent is not None else ""
    if out.get("name"):
        title = f"{title} - {out['name']}" if title else str(out["name"])
    out["name"] = title
    out["slug"] = permalinks.sanitize_title(title)
    out["shipping_required"] = not item.data.get("virtual", False)
    out["shipping_taxable"] = out["shipping_required"] and item.data.get("tax_status") in (
        "taxable",
        "shipping",
    )
    out["price_html"] = price_html(store, item, now)
    pid = item.data["parent_id"]
    out["_links"] = links(store, f"products/{item.id}", "products", up=f"products/{pid}")
    return out


def item_json(store: SandboxStore, item: Item, *, context: str = "view") -> dict[str, Any]:
    """A product or a variation in its own shape (webhook payloads, control answers)."""
    if item.kind == PRODUCT:
        return product_json(store, item, context=context)
    return variation_json(store, item, context=context)


_ORDER_MONEY = (
    "discount_total",
    "discount_tax",
    "shipping_total",
    "shipping_tax",
    "cart_tax",
    "total",
    "total_tax",
)
_LINE_MONEY = ("subtotal", "subtotal_tax", "total", "total_tax")


def _reprint(value: Any, exact: Any, dp: int) -> Any:
    """``wc_format_decimal(stored, dp)``: from the unrounded value when the sandbox kept it."""
    for candidate in (exact, value):
        if candidate is None:
            continue
        try:
            return money.fmt(Decimal(str(candidate)), dp)
        except InvalidOperation:
            continue
    return value


def _order_money(order: Item, out: dict[str, Any], dp: int) -> None:
    """Print the order's money with ``dp`` decimals, as the REST order serializer does
    (``get_formatted_item_data`` / ``get_order_item_data``; line ``taxes`` and ``price``
    are not reformatted)."""
    exact = order.meta.get("exact", {})
    for key in _ORDER_MONEY:
        if key in out:
            out[key] = _reprint(out[key], exact.get(key), dp)
    raw = order.meta.get("raw", {})
    lines = []
    for li in out.get("line_items", []):
        li = dict(li)
        kept = raw.get(str(li.get("id")), {})
        for key in _LINE_MONEY:
            if key in li:
                li[key] = _reprint(li[key], kept.get(key), dp)
        lines.append(li)
    out["line_items"] = lines
    tax_exact = order.meta.get("exact_tax_lines", {})
    tax_lines = []
    for tl in out.get("tax_lines", []):
        tl = dict(tl)
        tl["tax_total"] = _reprint(tl.get("tax_total"), tax_exact.get(str(tl.get("rate_id"))), dp)
        tl["shipping_tax_total"] = _reprint(tl.get("shipping_tax_total"), None, dp)
        tax_lines.append(tl)
    out["tax_lines"] = tax_lines


def order_json(store: SandboxStore, order: Item, dp: int | None = None) -> dict[str, Any]:
    """``GET /orders/{id}``; ``dp`` is the request's ``dp`` (default: the price decimals)."""
    d = order.data
    places = money.price_decimals(store) if dp is None else dp
    out: dict[str, Any] = {"id": order.id}
    out.update({k: v for k, v in d.items() if not k.startswith("_")})
    out["version"] = store.config.wc_version
    out["prices_include_tax"] = d.get("prices_include_tax", True)
    out["date_created"] = format_local(order.created, store.tz)
    out["date_modified"] = format_local(order.modified, store.tz)
    out["date_created_gmt"] = format_gmt(order.created)
    out["date_modified_gmt"] = format_gmt(order.modified)
    for name in ("date_completed", "date_paid"):
        ts = order.meta.get(name)
        out[name] = None if ts is None else format_local(ts, store.tz)
        out[f"{name}_gmt"] = None if ts is None else format_gmt(ts)
    out["number"] = str(order.id)
    out["refunds"] = [
        {
            "id": r.id,
            "reason": r.data.get("reason", ""),
            "total": money.fmt(-Decimal(r.data["amount"]), places),
            "total_tax": money.fmt(
                -sum(
                    (Decimal(t["tax_total"].lstrip("-")) for t in r.data["tax_lines"]), Decimal(0)
                ),
                places,
            ),
        }
        for r in (store.refunds[i] for i in order.meta.get("refunds", []) if i in store.refunds)
    ]
    home = store.config.home_url
    status = d["status"]
    out["payment_url"] = (
        f"{home}/checkout/order-pay/{order.id}/?pay_for_order=true&key={d['order_key']}"
    )
    out["is_editable"] = status in ("pending", "on-hold", "auto-draft")
    out["needs_payment"] = status in ("pending", "failed") and Decimal(d["total"]) > 0
    out["needs_processing"] = order_rules.needs_processing(store, order)
    _order_money(order, out, places)
    out["currency_symbol"] = "€" if d.get("currency") == "EUR" else "$"
    out["_links"] = links(store, f"orders/{order.id}", "orders")
    out["_links"]["email_templates"] = [
        {
            "embeddable": True,
            "href": f"{home}/wp-json/wc/v3/orders/{order.id}/actions/email_templates",
        }
    ]
    return out


def refund_json(store: SandboxStore, refund: Item) -> dict[str, Any]:
    out: dict[str, Any] = {"id": refund.id}
    _dates(store, out, "date_created", refund.created)
    out.update(refund.data)
    oid = refund.meta["order_id"]
    out["_links"] = links(
        store,
        f"orders/{oid}/refunds/{refund.id}",
        f"orders/{oid}/refunds",
        up=f"orders/{oid}",
        allow=["GET", "DELETE"],
    )
    return out


def webhook_json(store: SandboxStore, hook: Item) -> dict[str, Any]:
    out: dict[str, Any] = {"id": hook.id}
    out.update(hook.data)
    _dates(store, out, "date_created", hook.created)
    mod = hook.modified if hook.meta.get("saved_again") else None
    _dates(store, out, "date_modified", mod)
    out["_links"] = links(store, f"webhooks/{hook.id}", "webhooks")
    return out


def filter_fields(obj: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    """``_fields=a,b.c``: keep the named top-level and nested keys (WordPress order of ``obj``)."""
    return fields_filter(fields)(obj)


def fields_filter(fields: list[str]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """``filter_fields`` with the field list parsed once, for every object of a page."""
    tree: dict[str, Any] = {}
    for f in fields:
        node = tree
        parts = [p for p in f.strip().split(".") if p]
        for i, part in enumerate(parts):
            if i == len(parts) - 1:
                node[part] = True
            else:
                nxt = node.get(part)
                if nxt is True:
                    break
                node = node.setdefault(part, {})
    return lambda obj: _prune(obj, tree)


def _prune(obj: dict[str, Any], tree: dict[str, Any]) -> dict[str, Any]:
    """WordPress's ``_rest_array_intersect_key_recursive``: keys kept, nested where both sides
    are arrays. So ``categories.name`` on a list keeps only list *indexes* named ``name``
    (none: ``[]``), a sub-field of a scalar keeps the whole scalar, and a nested object
    left empty is PHP's empty array, which JSON shows as ``[]``."""
    out: dict[str, Any] = {}
    for key, value in obj.items():
        want = tree.get(key)
        if want is True or (want is not None and not isinstance(value, dict | list)):
            out[key] = value
        elif isinstance(want, dict) and isinstance(value, dict):
            out[key] = _prune(value, want) or []
        elif isinstance(want, dict) and isinstance(value, list):
            kept = _prune({str(i): v for i, v in enumerate(value)}, want)
            sequential = list(kept) == [str(i) for i in range(len(kept))]
            out[key] = list(kept.values()) if sequential else (kept or [])
    return out
