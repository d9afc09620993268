"""Product and variation rules: writes, stock, dates, trash and force delete.

WooCommerce facts this module depends on:
- every save bumps ``date_modified`` (one-second resolution), even when no
  value changed; saving a variation saves (and so bumps) its parent;
- a variation with ``manage_stock: false`` whose parent manages stock shows
  ``manage_stock: "parent"`` and the parent's quantity; sales reduce the parent;
- trashing sends ``product.deleted`` and trashes a variable product's
  variations; force delete leaves no trace and sends no webhook;
- REST writes validate types (a number for a price is a 400); batch items do
  not (``stock_quantity: "abc"`` becomes 0).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from . import defaults, permalinks
from .dates import parse_write_date
from .errors import RestError
from .records import PRODUCT, VARIATION, Item
from .schema import BOOLEANS, COPIED, SALE_DATES, money, stock_amount, to_bool, validate

if TYPE_CHECKING:
    from .state import SandboxStore

__all__ = [
    "active_price",
    "adjust_stock",
    "create_product",
    "create_variation",
    "force_delete",
    "is_on_sale",
    "is_parent_managed",
    "shown_stock",
    "stock_holder",
    "touch",
    "trash",
    "update_item",
]

# --- derived values ---------------------------------------------------------


def is_parent_managed(store: SandboxStore, item: Item) -> bool:
    if item.kind != VARIATION or item.data.get("manage_stock"):
        return False
    parent = store.products.get(item.data["parent_id"])
    return bool(parent and parent.data.get("manage_stock"))


def stock_holder(store: SandboxStore, item: Item) -> Item:
    """The item whose ``stock_quantity`` a sale of ``item`` changes."""
    if is_parent_managed(store, item):
        return store.products[item.data["parent_id"]]
    return item


def shown_stock(store: SandboxStore, item: Item) -> int | None:
    holder = stock_holder(store, item)
    if not holder.data.get("manage_stock"):
        return None
    q = holder.data.get("stock_quantity")
    return None if q is None else int(q)


def stock_status(store: SandboxStore, item: Item) -> str:
    holder = stock_holder(store, item)
    if holder.data.get("manage_stock"):
        q = holder.data.get("stock_quantity") or 0
        if q > 0:
            return "instock"
        return "onbackorder" if holder.data.get("backorders") != "no" else "outofstock"
    if item.kind == PRODUCT and item.data.get("type") == "variable":
        kids = [store.variations[v] for v in children(store, item)]
        if all(stock_status(store, k) == "outofstock" for k in kids):
            return "outofstock"  # every variation sold out, or none (left outside the trash)
        return "instock"
    return str(item.data.get("stock_status", "instock"))


def _sale_active(store: SandboxStore, item: Item, now: int) -> bool:
    if item.data.get("sale_price", "") == "":
        return False
    start, end = item.meta.get("sale_from"), item.meta.get("sale_to")
    return (start is None or now >= start) and (end is None or now <= end)


def children(store: SandboxStore, item: Item) -> list[int]:
    """A variable product's ``variations``: its published and private ones (not trashed)."""
    return [
        v
        for v in store.children.get(item.id, [])
        if store.variations[v].data.get("status") in ("publish", "private")
    ]


def _published_children(store: SandboxStore, item: Item, status: str = "publish") -> list[Item]:
    return [
        store.variations[v]
        for v in store.children.get(item.id, [])
        if store.variations[v].data.get("status") == status
        and store.variations[v].data.get("regular_price", "") != ""
    ]


def active_price(store: SandboxStore, item: Item, now: int | None = None) -> str:
    now = store.now() if now is None else now
    if item.kind == PRODUCT and item.data.get("type") == "variable":
        # The parent's _price is the lowest variation price, as that variation stores it.
        # Trashing the parent trashes its variations without syncing it again: it keeps
        # the price they had (a REST restore leaves them in the trash, #62833).
        kids = _published_children(store, item) or _published_children(store, item, "trash")
        prices = [active_price(store, v, now) for v in kids]
        return min(prices, key=Decimal) if prices else ""
    if _sale_active(store, item, now):
        return str(item.data["sale_price"])
    return str(item.data.get("regular_price", ""))


def is_on_sale(store: SandboxStore, item: Item, now: int | None = None) -> bool:
    now = store.now() if now is None else now
    if item.kind == PRODUCT and item.data.get("type") == "variable":
        return any(is_on_sale(store, v, now) for v in _published_children(store, item))
    if not _sale_active(store, item, now):
        return False
    return bool(item.data["sale_price"] != item.data.get("regular_price"))


# --- writes -----------------------------------------------------------------


def touch(store: SandboxStore, item: Item, *, parent: bool = True) -> None:
    """A save: ``date_modified`` becomes now; a variation's save also saves its parent."""
    item.modified = store.now()
    store.save(item)
    if parent and item.kind == VARIATION:
        p = store.products.get(item.data["parent_id"])
        if p is not None:
            p.modified = item.modified
            store.save(p)


def _check_sku(store: SandboxStore, item_id: int, key: str, value: str) -> None:
    if not value:
        return
    for other in (*store.products.values(), *store.variations.values()):
        if other.id != item_id and other.data.get(key) == value:
            if key == "sku":
                raise RestError(
                    400,
                    "product_invalid_sku",
                    "Invalid or duplicated SKU.",
                    resource_id=other.id,
                    unique_sku=f"{value}-1",
                )
            raise RestError(
                400,
                "product_invalid_global_unique_id",
                "Invalid or duplicated GTIN, UPC, EAN or ISBN.",
            )


def _apply(store: SandboxStore, item: Item, body: dict[str, Any]) -> None:
    d = item.data
    for key in ("sku", "global_unique_id"):
        if key in body and body[key] is not None:
            _check_sku(store, item.id, key, str(body[key]))
    for key in COPIED:
        if key in body:
            v = body[key]
            if key in BOOLEANS:
                v = to_bool(v)
            elif key in ("menu_order", "low_stock_amount") and v is not None:
                v = stock_amount(v)
            d[key] = v
    if "tax_class" in body:
        d["tax_class"] = _tax_class(store, item, body["tax_class"])
    for key in ("regular_price", "sale_price"):
        if key in body:
            d[key] = money(body[key])
    # handle_updated_props(): a sale price not below the regular one is dropped
    # (PHP compares the two strings: numerically when both are numbers).
    if (
        ("regular_price" in body or "sale_price" in body)
        and d.get("type") != "variable"
        and _php_ge(str(d.get("sale_price", "")), str(d.get("regular_price", "")))
    ):
        d["sale_price"] = ""
    if d.get("status") not in _POST_STATI:
        d["status"] = "draft"  # an unvalidated (batch) write of an unknown status
    if "manage_stock" in body:
        d["manage_stock"] = body["manage_stock"] != "parent" and to_bool(body["manage_stock"])
    if "stock_quantity" in body:
        d["stock_quantity"] = stock_amount(body["stock_quantity"])
    if "stock_status" in body and not d.get("manage_stock"):
        d["stock_status"] = body["stock_status"]
    if "categories" in body and isinstance(body["categories"], list):
        by_id = {c["id"]: c for c in store.categories}
        d["categories"] = [
            {"id": c["id"], "name": by_id[c["id"]]["name"], "slug": by_id[c["id"]]["slug"]}
            for c in body["categories"]
            if isinstance(c, dict) and c.get("id") in by_id
        ]
    if "meta_data" in body and isinstance(body["meta_data"], list):
        _merge_meta(store, d, body["meta_data"])
    for name in SALE_DATES:
        for key, is_gmt in ((f"{name}_gmt", True), (name, False)):
            if key in body:
                value = body[key]
                slot = "sale_from" if name.endswith("from") else "sale_to"
                item.meta[slot] = parse_write_date(str(value), is_gmt, store.tz) if value else None
                break
    if d.get("type") in ("variable", "grouped"):
        # Every save clears a container's own prices and sale dates: its children hold them.
        d["regular_price"] = d["sale_price"] = ""
        item.meta["sale_from"] = item.meta["sale_to"] = None


_POST_STATI = ("publish", "draft", "pending", "private", "future", "trash", "auto-draft")


def _tax_class(store: SandboxStore, item: Item, value: Any) -> str:
    """``set_tax_class``: the sanitised slug if the store has that class ("standard" is ""),
    else "" (a variation may also say "parent")."""
    slug = permalinks.sanitize_title(str(value or ""))
    slug = "" if slug == "standard" else slug
    valid = {str(c.get("slug")) for c in store.tax_classes if c.get("slug") != "standard"}
    if item.kind == VARIATION:
        valid.add("parent")
    return slug if slug in valid else ""


def _php_ge(a: str, b: str) -> bool:
    """PHP 8's ``$a >= $b`` for two strings: numeric strings compare as numbers."""
    try:
        return Decimal(a.strip()) >= Decimal(b.strip())
    except (InvalidOperation, ValueError):
        return a >= b


def _merge_meta(store: SandboxStore, data: dict[str, Any], incoming: list[Any]) -> None:
    meta: list[dict[str, Any]] = data.setdefault("meta_data", [])
    for m in incoming:
        if not isinstance(m, dict) or "key" not in m:
            continue
        existing = next(
            (x for x in meta if x.get("id") == m.get("id") or x["key"] == m["key"]), None
        )
        if existing is not None:
            existing["value"] = m.get("value")
        else:
            meta.append(
                {"id": store.next_id("item_meta"), "key": m["key"], "value": m.get("value")}
            )


def create_product(store: SandboxStore, body: dict[str, Any], *, validate_body: bool) -> Item:
    if validate_body:
        validate(body)
    now = store.now()
    data = defaults.product_template()
    item = Item(PRODUCT, 0, data, now, now)
    _apply(store, item, body)  # raises before an id is taken (batch shows id 0)
    item.id = store.next_id("post")
    if not data["categories"]:
        # WordPress files a product without categories under the default one.
        data["categories"] = [
            {"id": c["id"], "name": c["name"], "slug": c["slug"]}
            for c in store.categories
            if c.get("slug") == "uncategorized"
        ]
    if not data["slug"] and data.get("status") not in ("draft", "pending", "auto-draft"):
        name = permalinks.sanitize_title(str(data["name"])) or str(item.id)
        data["slug"] = permalinks.unique_slug(store, name, item.id)
    store.products[item.id] = item
    if data["type"] == "variable":
        store.children.setdefault(item.id, [])
    store.save(item)
    store.emit("product.created", item.id)
    return item


def create_variation(
    store: SandboxStore, parent: Item, body: dict[str, Any], *, validate_body: bool
) -> Item:
    if validate_body:
        validate(body, variation=True)
    now = store.now()
    data = defaults.variation_template()
    data["parent_id"] = parent.id
    item = Item(VARIATION, 0, data, now, now)
    _apply(store, item, body)
    _variation_attributes(data, parent)
    item.id = store.next_id("post")
    if not data["name"]:
        data["name"] = ", ".join(str(a.get("option", "")) for a in data.get("attributes", []))
    store.variations[item.id] = item
    store.children.setdefault(parent.id, []).append(item.id)
    touch(store, item)
    store.emit("product.created", item.id)
    return item


def _variation_attributes(data: dict[str, Any], parent: Item | None) -> None:
    """A variation keeps only attributes its parent has for variations, each stored as
    ``{id, name, slug, option}`` (a local attribute: id 0, slug from the name); the option
    itself is not checked."""
    allowed = {
        permalinks.sanitize_title(str(a.get("name", ""))): str(a.get("name", ""))
        for a in (parent.data.get("attributes") or [] if parent is not None else [])
        if isinstance(a, dict) and a.get("variation")
    }
    out = []
    for a in data.get("attributes") or []:
        if isinstance(a, dict):
            slug = permalinks.sanitize_title(str(a.get("name", "")))
            if slug in allowed:
                out.append({"id": int(a.get("id") or 0), "name": allowed[slug], "slug": slug,
                            "option": a.get("option", "")})  # fmt: skip
    data["attributes"] = out


def update_item(
    store: SandboxStore, item: Item, body: dict[str, Any], *, validate_body: bool
) -> None:
    """A REST or admin save: apply the fields, bump the dates, send ``product.updated``."""
    if validate_body:
        validate(body, variation=item.kind == VARIATION)
    # A REST restore (PUT status publish) is a plain status change: WooCommerce does not run
    # wp_untrash_post, so a variable product's variations stay in the trash (issue #62833).
    was = item.data.get("status")
    _apply(store, item, body)
    if item.kind == VARIATION and "attributes" in body:
        _variation_attributes(item.data, store.products.get(int(item.data["parent_id"])))
    if item.kind == PRODUCT and not item.data.get("slug") and item.data.get("status") not in (
        "draft", "pending", "auto-draft"
    ):
        name = permalinks.sanitize_title(str(item.data.get("name", ""))) or str(item.id)
        item.data["slug"] = permalinks.unique_slug(store, name, item.id)
    if was == "trash" and item.data.get("status") != "trash":
        permalinks.restore_from_trash(item)
    touch(store, item)
    store.emit("product.updated", item.id)


def trash(store: SandboxStore, item: Item) -> None:
    """``DELETE`` without force: status ``trash`` (410 when already trashed)."""
    if item.data.get("status") == "trash":
        post_type = "product" if item.kind == PRODUCT else "product_variation"
        raise RestError(
            410, "woocommerce_rest_already_trashed", f"The {post_type} has already been deleted."
        )
    item.meta["trash_prev"] = item.data.get("status", "publish")
    permalinks.to_trash(store, item, str(item.meta["trash_prev"]))
    item.data["status"] = "trash"
    for vid in store.children.get(item.id, []):
        v = store.variations[vid]
        if v.data.get("status") == "trash":
            continue
        v.meta["trash_prev"] = v.data.get("status", "publish")
        permalinks.to_trash(store, v, str(v.meta["trash_prev"]))
        v.data["status"] = "trash"
        touch(store, v, parent=False)
    touch(store, item)
    store.emit("product.deleted", item.id)


def force_delete(store: SandboxStore, item: Item) -> None:
    """Gone without trace: no listing, 404 afterwards, no webhook."""
    for vid in store.children.pop(item.id, []):
        store.forget(store.variations.pop(vid))
    if item.kind == VARIATION:
        store.variations.pop(item.id, None)
        siblings = store.children.get(item.data["parent_id"], [])
        if item.id in siblings:
            siblings.remove(item.id)
        parent = store.products.get(item.data["parent_id"])
        if parent is not None:
            touch(store, parent)
    else:
        store.products.pop(item.id, None)
    store.forget(item)


def adjust_stock(store: SandboxStore, item: Item, delta: int) -> tuple[Item, int, int] | None:
    """Change the stock a sale of ``item`` draws on; None when stock is not managed.

    The item holding the stock is saved (its date bumps, and a variation's
    parent with it); a parent-managed variation leaves its own date alone.
    """
    holder = stock_holder(store, item)
    if not holder.data.get("manage_stock"):
        return None
    old = int(holder.data.get("stock_quantity") or 0)
    holder.data["stock_quantity"] = old + delta  # negative stock is allowed
    if store.config.stock_bumps_modified:
        touch(store, holder)
    else:
        store.save(holder)
    store.emit("product.updated", holder.id)
    return holder, old, old + delta
