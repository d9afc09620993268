"""Store-wide resources: ``/wp-json/`` index, tax classes, categories,
settings groups and payment gateways.

The index answers without auth and gives ``namespaces``, ``gmt_offset`` and
``timezone_string`` (discovery reads them).
"""

from __future__ import annotations

from typing import Any

from .dates import utc_offset_hours
from .defaults import PAYMENT_GATEWAYS
from .errors import RestError
from .listing import shape_one
from .rest import Call, Reply, Route, require
from .serialize import fields_filter, filter_fields, links

__all__ = ["ROUTES"]


def index(call: Call) -> Reply:
    store = call.store
    body: dict[str, Any] = dict(store.index)
    body["gmt_offset"] = utc_offset_hours(store.tz, store.now())
    body["namespaces"] = list(body.get("namespaces", []))
    if store.config.plugin and "wc-onetill/v1" not in body["namespaces"]:
        body["namespaces"].append("wc-onetill/v1")
    body["routes"] = {}
    fields = call.params.get("_fields")
    if fields:
        body = filter_fields(body, str(fields).split(","))
    return Reply(body)


def _plain_list(call: Call, rows: list[dict[str, Any]]) -> Reply:
    """A small collection answered in one page (WooCommerce does not page these)."""
    fields = call.params.get("_fields")
    out = rows
    if fields:
        trim = fields_filter(str(fields).split(","))
        out = [trim(r) for r in rows]
    return Reply(out, 200, {"X-WP-Total": str(len(rows)), "X-WP-TotalPages": "1" if rows else "0"})


def list_tax_classes(call: Call) -> Reply:
    require(call, "list")
    api = f"{call.store.config.home_url}/wp-json/wc/v3/taxes/classes"
    rows = [{**c, "_links": {"collection": [{"href": api}]}} for c in call.store.tax_classes]
    return _plain_list(call, rows)


def _category(call: Call, c: dict[str, Any]) -> dict[str, Any]:
    # The term count WordPress keeps: published products filed under it.
    count = sum(
        1
        for p in call.store.products.values()
        if p.data.get("status") == "publish"
        and any(x.get("id") == c["id"] for x in p.data.get("categories", []))
    )
    return {
        **c,
        "count": count,
        "_links": links(call.store, f"products/categories/{c['id']}", "products/categories"),
    }


def list_categories(call: Call) -> Reply:
    require(call, "list")
    rows = sorted(call.store.categories, key=lambda c: str(c.get("name", "")).lower())
    return _plain_list(call, [_category(call, c) for c in rows])


def get_category(call: Call) -> Reply:
    require(call, "read")
    for c in call.store.categories:
        if int(c["id"]) == int(call.args["id"]):
            return Reply(shape_one(call, _category(call, c)))
    raise RestError(404, "woocommerce_rest_term_invalid", "Resource does not exist.")


def _setting(call: Call, group: str, s: dict[str, Any]) -> dict[str, Any]:
    return {
        **s,
        "_links": links(
            call.store,
            f"settings/{group}/{s['id']}",
            f"settings/{group}",
            allow=["GET", "POST", "PUT", "PATCH"],
        ),
    }


def _group(call: Call) -> tuple[str, list[dict[str, Any]]]:
    group = call.args["group"]
    rows = call.store.settings.get(group)
    if rows is None:
        raise RestError(404, "rest_setting_setting_group_invalid", "Invalid setting group.")
    return group, rows


def list_settings(call: Call) -> Reply:
    require(call, "list")
    group, rows = _group(call)
    fields = call.params.get("_fields")
    out = [_setting(call, group, s) for s in rows]
    if fields:
        trim = fields_filter(str(fields).split(","))
        out = [trim(r) for r in out]
    return Reply(out)


def get_setting(call: Call) -> Reply:
    require(call, "read")
    group, rows = _group(call)
    for s in rows:
        if s["id"] == call.args["sid"]:
            return Reply(shape_one(call, _setting(call, group, s)))
    raise RestError(404, "rest_setting_setting_invalid", "Invalid setting.")


def update_setting(call: Call) -> Reply:
    require(call, "edit")
    group, rows = _group(call)
    for s in rows:
        if s["id"] == call.args["sid"]:
            if "value" in call.json:
                s["value"] = call.json["value"]
                call.store.save_blob("settings", call.store.settings)
                if call.store.plugin is not None:
                    call.store.plugin.setting_saved(str(s["id"]))
            return Reply(_setting(call, group, s))
    raise RestError(404, "rest_setting_setting_invalid", "Invalid setting.")


def list_gateways(call: Call) -> Reply:
    require(call, "list")
    home = call.store.config.home_url
    rows = [
        {
            **g,
            "settings_url": f"{home}/wp-admin/admin.php?page=wc-settings&tab=checkout",
            "_links": links(
                call.store,
                f"payment_gateways/{g['id']}",
                "payment_gateways",
                allow=["GET", "POST", "PUT", "PATCH"],
            ),
        }
        for g in PAYMENT_GATEWAYS
    ]
    return _plain_list(call, rows)


def system_status(call: Call) -> Reply:
    """A small part of ``/system_status`` (discovery reads ``environment.version``)."""
    require(call, "read")
    store = call.store
    home = store.config.home_url
    body: dict[str, Any] = {
        "environment": {
            "home_url": home, "site_url": home, "version": store.config.wc_version,
            "wp_version": "7.0.4", "php_version": "8.2", "default_timezone": "UTC",
        },
        "settings": {
            "currency": store.setting("woocommerce_currency", "EUR"),
            "taxonomies": {},
        },
    }  # fmt: skip
    fields = call.params.get("_fields")
    return Reply(filter_fields(body, str(fields).split(",")) if fields else body)


ROUTES = [
    Route("/wc/v3/system_status", {"GET": system_status}),
    Route("", {"GET": index}),
    Route("/wc/v3/taxes/classes", {"GET": list_tax_classes}),
    Route("/wc/v3/products/categories", {"GET": list_categories}),
    Route(r"/wc/v3/products/categories/(?P<id>\d+)", {"GET": get_category}),
    Route(r"/wc/v3/settings/(?P<group>[\w-]+)", {"GET": list_settings}),
    Route(
        r"/wc/v3/settings/(?P<group>[\w-]+)/(?P<sid>[\w-]+)",
        {
            "GET": get_setting,
            "POST": update_setting,
            "PUT": update_setting,
            "PATCH": update_setting,
        },
    ),
    Route("/wc/v3/payment_gateways", {"GET": list_gateways}),
]
