"""WooCommerce product/variation JSON -> one typed ``products`` row, checked field by field.

The check is hand-written (not a schema library) because the initial sync
converts tens of thousands of objects and must stay above 20,000 per second.
A malformed object raises ``MalformedItem`` naming its id, the field and the
value (cut short), so the caller can skip it and go on; nothing of it is
written. Integers must fit SQLite's 64 bits (ids) or be a count a till can
hold (stock): a store answering ``stock_quantity: 2**63`` must cost one
item, not an ``OverflowError`` that drops the page.

WooCommerce facts relied on: money fields are decimal *strings* (``""`` when
unset); ``manage_stock`` is ``true``, ``false`` or (variations) ``"parent"``;
``stock_quantity`` is an integer or null; ``date_modified_gmt`` is naive UTC
at one-second resolution; ``global_unique_id`` exists since 9.2 only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import msgspec

__all__ = [
    "MAX_ID",
    "MAX_STOCK",
    "ROW_COLUMNS",
    "SELLABLE_TYPES",
    "MalformedItem",
    "item_row",
]

# Types a till can ring up. A variable parent is a container (its variations
# are sold), grouped is a list of other products, external is a link.
SELLABLE_TYPES = frozenset({"simple", "variation"})

ROW_COLUMNS: tuple[str, ...] = (
    "id",
    "parent_id",
    "type",
    "status",
    "name",
    "sku",
    "barcode",
    "price",
    "regular_price",
    "sale_price",
    "sale_from_gmt",
    "sale_to_gmt",
    "tax_status",
    "tax_class",
    "manage_stock",
    "store_stock_quantity",
    "stock_status",
    "backorders",
    "categories",
    "date_modified_gmt",
    "purchasable",
    "sellable",
    "raw",
)
# Positions the apply step reads back.
I_ID, I_PARENT, I_TYPE, I_STATUS = 0, 1, 2, 3
I_MANAGE, I_STORE_STOCK, I_MODIFIED, I_RAW = 14, 15, 19, 22

_MONEY = re.compile(r"-?[0-9]+(\.[0-9]+)?\Z")
MAX_ID = 2**63 - 1  # SQLite's INTEGER
MAX_STOCK = 2**53 - 1  # far beyond any shelf; keeps till arithmetic exact
_GMT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\Z")
_encode = msgspec.json.Encoder().encode


class MalformedItem(ValueError):
    """An object from WooCommerce that cannot be stored; says which and why.

    ``value`` is what came, cut short (None when the field was missing);
    ``modified`` the object's ``date_modified_gmt`` when it was readable.
    """

    def __init__(
        self, kind: str, object_id: object, field: str, problem: str, value: str | None = None
    ) -> None:
        self.kind = kind
        self.object_id = object_id
        self.field = field
        self.problem = problem
        self.value = value
        self.modified: str | None = None
        super().__init__(f"{kind} {object_id}: field {field!r} {problem}; item skipped")


def _show(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**40:
        text = f"{str(value)[:12]}...({len(str(value))} digits)"  # repr() of a huge int is slow
    else:
        text = repr(value) if not isinstance(value, list | dict) or len(value) < 50 else "[...]"
    return (text[:40] + "...") if len(text) > 43 else text


def _bad(kind: str, oid: object, field: str, want: str, value: object) -> MalformedItem:
    if value is _MISSING:
        return MalformedItem(kind, oid, field, "is missing")
    shown = _show(value)
    return MalformedItem(kind, oid, field, f"must be {want}, got {shown}", shown)


def _int(value: object, low: int, high: int) -> bool:
    return type(value) is int and low <= value <= high


_MISSING = object()


def _str(obj: Mapping[str, Any], field: str, kind: str, oid: object) -> str:
    value = obj.get(field, _MISSING)
    if type(value) is not str:
        raise _bad(kind, oid, field, "a string", value)
    return value


def _opt_str(obj: Mapping[str, Any], field: str, kind: str, oid: object, default: str) -> str:
    value = obj.get(field)
    if value is None:
        return default
    if type(value) is not str:
        raise _bad(kind, oid, field, "a string", value)
    return value


def _money(obj: Mapping[str, Any], field: str, kind: str, oid: object) -> str:
    value = obj.get(field, _MISSING)
    if type(value) is not str or (value and _MONEY.match(value) is None):
        raise _bad(kind, oid, field, 'a decimal string like "5.55" (or "")', value)
    return value


def _gmt(obj: Mapping[str, Any], field: str, kind: str, oid: object, required: bool) -> str | None:
    value = obj.get(field, _MISSING if required else None)
    if value is None and not required:
        return None
    if type(value) is not str or _GMT.match(value) is None:
        raise _bad(kind, oid, field, "a naive UTC date like 2026-11-26T15:30:06", value)
    return value


def _barcode(obj: Mapping[str, Any], sku: str, meta_key: str | None, kind: str, oid: object) -> str:
    code = obj.get("global_unique_id")
    if code is not None and type(code) is not str:
        raise _bad(kind, oid, "global_unique_id", "a string", code)
    if code:
        return code
    if sku:
        return sku
    if meta_key:
        meta = obj.get("meta_data") or []
        if type(meta) is not list:
            raise _bad(kind, oid, "meta_data", "a list", meta)
        for entry in meta:
            if type(entry) is dict and entry.get("key") == meta_key:
                value = entry.get("value")
                if isinstance(value, str | int) and not isinstance(value, bool):
                    return str(value)
    return ""


def _raw(obj: dict[str, Any]) -> str:
    # Kept as received, minus ``_links`` (hypermedia pointing back at the store).
    if "_links" in obj:
        obj = {k: v for k, v in obj.items() if k != "_links"}
    return _encode(obj).decode()


def item_row(
    obj: Any, kind: str, *, barcode_meta_key: str | None = None, parent_id: int | None = None
) -> tuple[Any, ...]:
    """The ``products`` row (in ``ROW_COLUMNS`` order) for one product or variation.

    ``kind`` is ``product`` or ``variation`` (what the endpoint returns);
    ``parent_id`` fills in a variation's parent when the per-parent endpoint
    of an old WooCommerce left it out. Raises ``MalformedItem``.
    """
    if type(obj) is not dict:
        raise MalformedItem(
            kind, "?", "(object)", f"must be a JSON object, got {_show(obj)}", _show(obj)
        )
    try:
        return _row(obj, kind, barcode_meta_key, parent_id)
    except MalformedItem as exc:
        modified = obj.get("date_modified_gmt")
        if type(modified) is str and _GMT.match(modified):
            exc.modified = modified
        raise
    except (ValueError, TypeError) as exc:
        # Text no encoder takes (a lone surrogate from a lenient JSON decoder).
        oid = obj.get("id")
        shown = oid if _int(oid, 1, MAX_ID) else _show(oid)
        raise MalformedItem(kind, shown, "(object)", f"cannot be stored: {exc}") from None


def _row(
    obj: dict[str, Any], kind: str, barcode_meta_key: str | None, parent_id: int | None
) -> tuple[Any, ...]:
    oid = obj.get("id", _MISSING)
    if not _int(oid, 1, MAX_ID):
        shown = "?" if oid is _MISSING else _show(oid)
        raise _bad(kind, shown, "id", "a positive integer (below 2**63)", oid)
    if kind == "variation":
        typ = _opt_str(obj, "type", kind, oid, "variation")
        if typ != "variation":
            raise _bad(kind, oid, "type", '"variation"', typ)
        parent = obj.get("parent_id", parent_id)
        if not _int(parent, 1, MAX_ID):
            raise _bad(kind, oid, "parent_id", "a positive integer", parent)
    else:
        typ = _str(obj, "type", kind, oid)
        if typ == "variation":
            kind = "variation"
        parent = obj.get("parent_id", 0)
        if not _int(parent, 0, MAX_ID):
            raise _bad(kind, oid, "parent_id", "an integer", parent)
    status = _str(obj, "status", kind, oid)
    name = _str(obj, "name", kind, oid)
    sku = _str(obj, "sku", kind, oid)
    price = _money(obj, "price", kind, oid)
    regular = _money(obj, "regular_price", kind, oid)
    sale = _money(obj, "sale_price", kind, oid)
    sale_from = _gmt(obj, "date_on_sale_from_gmt", kind, oid, False)
    sale_to = _gmt(obj, "date_on_sale_to_gmt", kind, oid, False)
    tax_status = _opt_str(obj, "tax_status", kind, oid, "taxable")
    tax_class = _opt_str(obj, "tax_class", kind, oid, "")
    manage = obj.get("manage_stock", _MISSING)
    if manage is True:
        manage_text = "1"
    elif manage is False:
        manage_text = "0"
    elif manage == "parent":
        manage_text = "parent"
    else:
        raise _bad(kind, oid, "manage_stock", 'true, false or "parent"', manage)
    stock = obj.get("stock_quantity", _MISSING)
    if stock is not None and type(stock) is not int:
        raise _bad(kind, oid, "stock_quantity", "an integer or null", stock)
    if stock is not None and not -MAX_STOCK <= stock <= MAX_STOCK:
        raise _bad(kind, oid, "stock_quantity", f"at most {MAX_STOCK} units either way", stock)
    stock_status = _str(obj, "stock_status", kind, oid)
    backorders = _opt_str(obj, "backorders", kind, oid, "no")
    cats = obj.get("categories") or []
    if type(cats) is not list:
        raise _bad(kind, oid, "categories", "a list", cats)
    cat_ids: list[int] = []
    for cat in cats:
        cid = cat.get("id") if type(cat) is dict else None
        if type(cid) is not int or not 0 <= cid <= MAX_ID:
            raise _bad(kind, oid, "categories", "a list of {id: int}", cats)
        cat_ids.append(cid)
    modified = _gmt(obj, "date_modified_gmt", kind, oid, True)
    purchasable = obj.get("purchasable", _MISSING)
    if type(purchasable) is not bool:
        raise _bad(kind, oid, "purchasable", "true or false", purchasable)
    barcode = _barcode(obj, sku, barcode_meta_key, kind, oid)
    # A variation's sellability also needs its parent published; the apply
    # step finishes that in SQL, where the parent row is.
    sellable = int(status == "publish" and purchasable and typ in SELLABLE_TYPES)
    return (
        oid,
        parent,
        typ,
        status,
        name,
        sku,
        barcode,
        price,
        regular,
        sale,
        sale_from,
        sale_to,
        tax_status,
        tax_class,
        manage_text,
        stock if manage_text != "0" else None,
        stock_status,
        backorders,
        "[" + ",".join(map(str, cat_ids)) + "]",
        modified,
        int(purchasable),
        sellable,
        _raw(obj),
    )
