"""Collection answers: paging, headers, ``Link``, ``_fields`` and date windows.

WooCommerce/WordPress facts:
- ``per_page`` 1..100 (default 10), else ``400 rest_invalid_param``; a page
  past the end is ``200 []``.
- ``X-WP-Total`` / ``X-WP-TotalPages``; ``Link`` has ``prev``/``next`` built
  from the request's own query string (``oauth_*`` included, as the real
  store does), ``page`` replaced in place or appended.
- ``_fields`` trims; in a collection ``_links`` go too (unless asked for),
  a single object keeps them.
- ``after``/``before``/``modified_after``/``modified_before`` are strict at
  one-second resolution (see ``dates.parse_query_date``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote_plus

from .dates import InvalidDate, parse_query_date
from .errors import Checks, invalid_param
from .records import Item
from .rest import Call, Reply, bool_param, id_list, int_param
from .serialize import fields_filter, filter_fields

__all__ = ["check_paging", "date_filter", "fields_of", "list_reply", "shape_one"]

_DATE_PARAMS = {
    "after": ("created", 1),
    "before": ("created", -1),
    "modified_after": ("modified", 1),
    "modified_before": ("modified", -1),
}


def fields_of(call: Call) -> list[str] | None:
    raw = call.params.get("_fields")
    if raw is None or raw == "":
        return None
    items = raw if isinstance(raw, list) else str(raw).split(",")
    return [f.strip() for f in items if f.strip()]


def shape_one(call: Call, obj: dict[str, Any]) -> dict[str, Any]:
    """A single object: ``_fields`` applied, ``_links`` kept (WordPress adds them after)."""
    fields = fields_of(call)
    if fields is None:
        return obj
    links = obj.get("_links")
    out = filter_fields(obj, fields)
    if links is not None:
        out["_links"] = links
    return out


def _date(name: str, raw: str, gmt: bool, tz: Any) -> int:
    try:
        return parse_query_date(raw, gmt, tz)
    except InvalidDate:
        raise invalid_param(name, "Invalid date.", "rest_invalid_date") from None


def date_filter(call: Call, tz: Any) -> Callable[[Item], bool]:
    """A predicate for the date window parameters present in ``call`` (every invalid one
    is reported in one error)."""
    found = Checks([*_DATE_PARAMS, "dates_are_gmt"])
    gmt = bool(found.run(bool_param, call, "dates_are_gmt"))
    checks: list[tuple[str, int, int]] = []
    for name, (column, sign) in _DATE_PARAMS.items():
        raw = call.params.get(name)
        if raw is None:
            continue
        bound = found.run(_date, name, str(raw), gmt, tz)
        if bound is not None:
            checks.append((column, sign, bound))
    found.done()

    def keep(item: Item) -> bool:
        for column, sign, bound in checks:
            value = item.created if column == "created" else item.modified
            if sign > 0 and not value > bound:
                return False
            if sign < 0 and not value < bound:
                return False
        return True

    return keep


_BOOLEAN_ARGS = frozenset(
    {"dates_are_gmt", "on_sale", "featured", "downloadable", "virtual", "pos_products_only"}
)
_ID_LIST_ARGS = frozenset({"include", "exclude", "parent", "parent_exclude"})
_INTEGER_ARGS = frozenset({"per_page", "page", "offset", "customer", "product", "dp"})


def _is_orders(call: Call) -> bool:
    return call.route.rstrip("/").endswith("/wc/v3/orders")


def _sanitized(call: Call, with_items: bool = True) -> list[tuple[str, str]]:
    """The query as ``WP_REST_Request::get_query_params()`` holds it once sanitised, which is
    what WooCommerce builds ``Link`` from: booleans true as ``1`` (false ones dropped by
    ``add_query_arg``), id lists as ``k[0]=..``, integers as integers; on ``/orders`` the
    ``status`` list is set again by the controller, so it comes last, followed by
    ``dp`` and ``context``, which only preparing an order adds (none on an empty page)."""
    pairs: list[tuple[str, str]] = []
    for key, value in call.query:
        if key in _BOOLEAN_ARGS:
            if value.strip().lower() in ("1", "true"):
                pairs.append((key, "1"))
        elif key in _ID_LIST_ARGS:
            ids = id_list(call, key) or []
            pairs += [(f"{key}[{i}]", str(n)) for i, n in enumerate(ids)]
        elif key in _INTEGER_ARGS and value.strip().lstrip("-").isdigit():
            pairs.append((key, str(int(value))))
        else:
            pairs.append((key, value))
    if _is_orders(call):
        moved = {"status", "dp", "context"}
        pairs = [(k, v) for k, v in pairs if k not in moved]
        raw = call.params.get("status") or "any"
        statuses = raw if isinstance(raw, list) else str(raw).split(",")
        pairs += [(f"status[{i}]", s) for i, s in enumerate(statuses)]
        if with_items:
            pairs.append(("dp", str(call.params.get("dp") or money_decimals(call))))
            pairs.append(("context", str(call.params.get("context") or "view")))
    return pairs


def money_decimals(call: Call) -> int:
    try:
        return int(call.store.setting("woocommerce_price_num_decimals", "2"))
    except ValueError:
        return 2


def _link(call: Call, page: int, with_items: bool = True) -> str:
    pairs = _sanitized(call, with_items)
    if any(k == "page" for k, _ in pairs):
        pairs = [(k, str(page) if k == "page" else v) for k, v in pairs]
    else:
        pairs.append(("page", str(page)))
    qs = "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in pairs)
    return f"{call.store.config.home_url}/wp-json{call.route}?{qs}"


def check_paging(call: Call) -> None:
    """``page``, ``per_page`` and ``offset`` (every invalid one in one error)."""
    found = Checks(["page", "per_page", "offset"])
    found.run(int_param, call, "per_page", 10, minimum=1, maximum=100)
    found.run(int_param, call, "page", 1, minimum=1)
    found.run(int_param, call, "offset", None, minimum=0)
    found.done()


def list_reply(
    call: Call, items: Iterable[Item], to_json: Callable[[Item], dict[str, Any]]
) -> Reply:
    """Page ``items`` (already filtered and ordered) into WooCommerce's collection answer."""
    per_page = int_param(call, "per_page", 10, minimum=1, maximum=100) or 10
    page = int_param(call, "page", 1, minimum=1) or 1
    offset = int_param(call, "offset", None, minimum=0)
    rows = list(items)
    total = len(rows)
    start = offset if offset is not None else (page - 1) * per_page
    chosen = rows[start : start + per_page]
    fields = fields_of(call)
    trim = None if fields is None else fields_filter(fields)
    body = []
    for item in chosen:
        obj = to_json(item)
        body.append(obj if trim is None else trim(obj))
    orders = _is_orders(call)
    if orders and not chosen:
        total = 0  # the HPOS orders query counts 0 for a page (or offset) past the end
    pages = math.ceil(total / per_page) if total else 0
    headers = {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)}
    links = []
    with_items = bool(chosen)
    if page > 1:  # even to page 0 when there are no pages
        links.append(f'<{_link(call, min(page - 1, pages), with_items)}>; rel="prev"')
    if page < pages:
        links.append(f'<{_link(call, page + 1, with_items)}>; rel="next"')
    if links:
        headers["Link"] = ", ".join(links)
    return Reply(body, 200, headers)
