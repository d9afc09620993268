"""``/wc/v3/taxes``: list, read, create, update and delete tax rates.

WooCommerce facts (11.0.1): a rate is stored with four decimals
(``WC_Tax::format_tax_rate``: ``number_format((float) $rate, 4)``, so
``"abc"`` becomes ``"0.0000"``), but the schema wants a string (a number is
``400 rest_invalid_type``); an unknown id is ``404
woocommerce_rest_invalid_id``; ``DELETE`` without ``force`` is ``501
woocommerce_rest_trash_not_supported``. Taxes have no modified date and
send no webhook. The collection is answered in one page.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from .errors import RestError, invalid_param
from .listing import shape_one
from .rest import Call, Reply, Route, bool_param, require
from .serialize import fields_filter, links

__all__ = ["ROUTES"]

_STRINGS = ("country", "state", "postcode", "city", "rate", "name", "class")
_INTEGERS = ("priority", "order")
_BOOLEANS = ("compound", "shipping")
_TEMPLATE: dict[str, Any] = {
    "country": "", "state": "", "postcode": "", "city": "", "rate": "0.0000", "name": "",
    "priority": 1, "compound": False, "shipping": True, "order": 0, "class": "standard",
    "postcodes": [], "cities": [],
}  # fmt: skip


def _json(call: Call, rate: dict[str, Any]) -> dict[str, Any]:
    return {**rate, "_links": links(call.store, f"taxes/{rate['id']}", "taxes")}


def _format_rate(value: Any) -> str:
    """``number_format((float) $rate, 4, '.', '')``: PHP's float cast of a string."""
    text = str(value).strip()
    number = Decimal(0)
    for end in range(len(text), 0, -1):
        try:
            number = Decimal(text[:end])
            break
        except InvalidOperation:
            continue
    return f"{number:.4f}" if number.is_finite() else "0.0000"


def _validate(body: dict[str, Any]) -> None:
    for name in _STRINGS:
        if name in body and not isinstance(body[name], str):
            raise invalid_param(name, f"{name} is not of type string.", "rest_invalid_type")
    for name in _INTEGERS:
        if name in body and (isinstance(body[name], bool) or not isinstance(body[name], int)):
            raise invalid_param(name, f"{name} is not of type integer.", "rest_invalid_type")
    for name in _BOOLEANS:
        if name in body and not isinstance(body[name], bool):
            raise invalid_param(name, f"{name} is not of type boolean.", "rest_invalid_type")


def _apply(rate: dict[str, Any], body: dict[str, Any]) -> None:
    for key in (*_STRINGS, *_INTEGERS, *_BOOLEANS):
        if key in body:
            rate[key] = body[key]
    if "rate" in body:
        rate["rate"] = _format_rate(body["rate"])
    for key in ("country", "state"):
        rate[key] = str(rate[key]).upper()
    if "postcode" in body:
        rate["postcodes"] = [p for p in str(body["postcode"]).split(";") if p]
    if "city" in body:
        rate["cities"] = [c.upper() for c in str(body["city"]).split(";") if c]


def _find(call: Call) -> dict[str, Any]:
    for rate in call.store.taxes:
        if int(rate["id"]) == int(call.args["id"]):
            return rate
    raise RestError(404, "woocommerce_rest_invalid_id", "Invalid resource ID.")


def list_taxes(call: Call) -> Reply:
    require(call, "list")
    rows = call.store.taxes
    cls = call.params.get("class")
    if cls:
        rows = [t for t in rows if t.get("class") == cls]
    out = [_json(call, t) for t in rows]
    fields = call.params.get("_fields")
    if fields:
        trim = fields_filter(str(fields).split(","))
        out = [trim(r) for r in out]
    pages = "1" if rows else "0"
    return Reply(out, 200, {"X-WP-Total": str(len(rows)), "X-WP-TotalPages": pages})


def get_tax(call: Call) -> Reply:
    require(call, "read")
    return Reply(shape_one(call, _json(call, _find(call))))


def create_tax(call: Call) -> Reply:
    require(call, "create")
    _validate(call.json)
    store = call.store
    rate: dict[str, Any] = {"id": max((int(t["id"]) for t in store.taxes), default=0) + 1}
    rate.update(_TEMPLATE)
    _apply(rate, call.json)
    store.taxes.append(rate)
    store.save_blob("taxes", store.taxes)
    home = store.config.home_url
    return Reply(_json(call, rate), 201, {"Location": f"{home}/wp-json/wc/v3/taxes/{rate['id']}"})


def update_tax(call: Call) -> Reply:
    require(call, "edit")
    rate = _find(call)
    _validate(call.json)
    _apply(rate, call.json)
    call.store.save_blob("taxes", call.store.taxes)
    return Reply(_json(call, rate))


def delete_tax(call: Call) -> Reply:
    require(call, "delete")
    rate = _find(call)
    if not bool_param(call, "force"):
        raise RestError(
            501, "woocommerce_rest_trash_not_supported", "Taxes do not support trashing."
        )
    before = _json(call, rate)
    call.store.taxes.remove(rate)
    call.store.save_blob("taxes", call.store.taxes)
    return Reply(before)


ROUTES = [
    Route("/wc/v3/taxes", {"GET": list_taxes, "POST": create_tax}),
    Route(
        r"/wc/v3/taxes/(?P<id>\d+)",
        {
            "GET": get_tax,
            "POST": update_tax,
            "PUT": update_tax,
            "PATCH": update_tax,
            "DELETE": delete_tax,
        },
    ),
]
