"""Hypothesis strategies for REST request sequences sent to the sandbox and the real store.

Reads use every parameter the till sends (``per_page``, ``page``,
``orderby=id``, ``order``, ``status``, ``include``, ``sku``, ``_fields``,
``modified_after`` with ``dates_are_gmt``, ``after``) plus invalid values;
writes are what a merchant's admin, an online shop and the till do:
product and variation edits, creates, batch, trash, force delete, tax rate
edits, orders with edge-case lines, order status changes and refunds.

Every value is drawn from small pools on purpose: duplicate SKUs and
barcodes, missing ids, drafts, out-of-stock and parent-managed items are
where stores differ. Dates are fixed far in the past or future, or relative
to the start of the sequence, so a recorded sequence replays the same later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from differential_support import Request

__all__ = ["Known", "step"]

# 34 and 59 are on sale, 308 is a draft, 309 is out of stock.
SIMPLE = [10, 11, 30, 34, 59, 150, 299, 308, 309]
PARENTS = {310: [311, 312, 313, 314], 405: [406, 407, 408, 409, 410]}  # 405 parent-managed
VARIATIONS = [v for vs in PARENTS.values() for v in vs]
MISSING = 99999
CATEGORIES = [15, 16, 17, 18, 19, 20]
SKUS = ["SIMPLE-001", "SIMPLE-050", "VAR-01-S", "VAR-20-M", "NEW-A", "NEW-B", "NOPE-1"]
GTINS = ["4006381333931", "4006381333948", "12345678", ""]
PRODUCT_FIELDS = [
    "id", "sku", "type", "parent_id", "status", "price", "stock_quantity",
    "manage_stock", "date_modified_gmt", "variations", "name", "meta_data",
]  # fmt: skip
ORDER_FIELDS = ["id", "line_items", "status", "total", "meta_data", "date_created_gmt"]


@dataclass
class Known:
    """What the sequence has made so far (ids as the real store answered them)."""

    started: datetime
    products: list[int] = field(default_factory=list)
    variations: dict[int, int] = field(default_factory=dict)  # id -> parent
    orders: dict[int, list[int]] = field(default_factory=dict)  # id -> line item ids

    def learn(self, request: Request, status: int, body: Any) -> None:
        """Note the ids a successful create answered with."""
        if status >= 300 or not isinstance(body, dict):
            return
        path = request.path
        if request.method == "POST" and path == "products":
            self.products.append(int(body["id"]))
        elif request.method == "POST" and path.endswith("/variations"):
            self.variations[int(body["id"])] = int(path.split("/")[1])
        elif request.method == "POST" and path == "products/batch":
            self.products += [int(o["id"]) for o in body.get("create", []) if "id" in o]
        elif request.method == "POST" and path in ("orders",):
            self.orders[int(body["id"])] = [int(i["id"]) for i in body.get("line_items", [])]
        elif request.method == "POST" and path == "orders/batch":
            for o in body.get("create", []):
                if "id" in o:
                    self.orders[int(o["id"])] = [int(i["id"]) for i in o.get("line_items", [])]


def _gmt(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def windows(known: Known) -> st.SearchStrategy[dict[str, str]]:
    """``modified_after`` (or ``after``) windows: since the sequence began, long ago, invalid."""
    recent = _gmt(known.started - timedelta(seconds=1))
    local = (known.started - timedelta(seconds=1)).astimezone(
        __import__("zoneinfo").ZoneInfo("America/New_York")
    ).strftime("%Y-%m-%dT%H:%M:%S")
    return st.sampled_from(
        [
            {"modified_after": recent, "dates_are_gmt": "true"},
            {"modified_after": local},
            {"modified_after": "2020-01-01T00:00:00", "dates_are_gmt": "true"},
            {"modified_after": "2026-11-26", "dates_are_gmt": "true"},
            {"modified_after": "2020-01-01T00:00:00Z", "dates_are_gmt": "true"},
            {"after": recent, "dates_are_gmt": "true"},
        ]
    )


def _csv(pool: list[Any], *, max_size: int = 4) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(pool), min_size=1, max_size=max_size, unique=True).map(
        lambda xs: ",".join(map(str, xs))
    )


def _products(known: Known) -> list[int]:
    return [*SIMPLE, *PARENTS, *known.products, MISSING]


def list_params(known: Known, fields: list[str], orderby: list[str]) -> st.SearchStrategy[Any]:
    ids = [*_products(known), *VARIATIONS[:3]]
    base = st.fixed_dictionaries(
        {},
        optional={
            "per_page": st.sampled_from(["1", "3", "100", "0", "101"]),
            "page": st.sampled_from(["1", "2", "50"]),
            "orderby": st.sampled_from(orderby),
            "order": st.sampled_from(["asc", "desc", "up"]),
            "include": _csv(ids),
            "_fields": _csv(fields, max_size=3),
        },
    )
    # orderby=include without include: WordPress falls back to the post date and leaves
    # ties to MySQL, an order no client can rely on (the till never asks it).
    return (
        st.tuples(base, st.one_of(st.just({}), windows(known)))
        .map(lambda parts: {**parts[0], **parts[1]})
        .filter(lambda p: p.get("orderby") != "include" or "include" in p)
    )


def reads(known: Known) -> st.SearchStrategy[Request]:
    products = st.tuples(
        list_params(known, PRODUCT_FIELDS, ["id", "date", "modified", "include", "bogus"]),
        st.fixed_dictionaries(
            {},
            optional={
                "status": st.sampled_from(["any", "publish", "draft", "trash", "bogus"]),
                "sku": _csv(SKUS, max_size=3),
                "type": st.sampled_from(["simple", "variable", "variation"]),
            },
        ),
    ).map(lambda p: Request("GET", "products", {**p[0], **p[1]}))
    one = st.sampled_from([*_products(known), *VARIATIONS]).flatmap(
        lambda i: st.fixed_dictionaries({}, optional={"_fields": _csv(PRODUCT_FIELDS)}).map(
            lambda params: Request("GET", f"products/{i}", params)
        )
    )
    variations = list_params(known, PRODUCT_FIELDS, ["id", "date", "modified"]).map(
        lambda p: Request("GET", "variations", p)
    )
    per_parent = st.sampled_from([*PARENTS, 10, MISSING]).map(
        lambda p: Request("GET", f"products/{p}/variations", {"per_page": "100"})
    )
    orders = st.tuples(
        list_params(known, ORDER_FIELDS, ["id", "date", "modified", "include"]),
        st.fixed_dictionaries(
            {}, optional={"status": st.sampled_from(["any", "completed", "processing"])}
        ),
    ).map(lambda p: Request("GET", "orders", {**p[0], **p[1]}))
    small = st.sampled_from(
        [Request("GET", path) for path in ("taxes", "taxes/classes", "products/categories",
                                          "settings/general", "settings/tax")]
    )  # fmt: skip
    options = [products, products, one, variations, per_parent, orders, small]
    if known.orders:
        options.append(
            st.sampled_from(sorted(known.orders)).map(lambda o: Request("GET", f"orders/{o}"))
        )
    return st.one_of(options)


MONEY = st.sampled_from(["0", "1.5", "9.99", "10", "123.456", ""])
SALE_DATES = st.sampled_from(
    [
        {},
        {"date_on_sale_from": "2020-01-01T00:00:00", "date_on_sale_to": "2030-12-31T23:59:59"},
        {"date_on_sale_from": "2030-01-01T00:00:00"},
        {"date_on_sale_to": "2021-01-01T00:00:00"},
        {"date_on_sale_from": "", "date_on_sale_to": ""},
    ]
)


def edits() -> st.SearchStrategy[dict[str, Any]]:
    fields = st.fixed_dictionaries(
        {},
        optional={
            "regular_price": st.one_of(MONEY, st.just(5)),
            "sale_price": MONEY,
            "stock_quantity": st.one_of(st.integers(-2, 30), st.just("7")),
            "manage_stock": st.booleans(),
            "status": st.sampled_from(["publish", "draft", "private", "pending", "bogus"]),
            "global_unique_id": st.sampled_from(GTINS),
            "sku": st.sampled_from(SKUS),
            "categories": st.sampled_from(CATEGORIES).map(lambda c: [{"id": c}]),
            "tax_class": st.sampled_from(["", "reduced-rate", "bogus"]),
            "name": st.sampled_from(["Renamed", "Ünïcode ✓"]),
        },
    )
    return st.tuples(fields, SALE_DATES).map(lambda p: {**p[0], **p[1]})


def new_product() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {"name": st.sampled_from(["New Thing", "Another"])},
        optional={
            "regular_price": MONEY,
            "sku": st.sampled_from(SKUS),
            "manage_stock": st.booleans(),
            "stock_quantity": st.integers(0, 9),
            "status": st.sampled_from(["publish", "draft"]),
            "tax_class": st.sampled_from(["", "reduced-rate"]),
            "type": st.sampled_from(["simple", "variable"]),
            "categories": st.sampled_from(CATEGORIES).map(lambda c: [{"id": c}]),
        },
    )


def new_variation() -> st.SearchStrategy[dict[str, Any]]:
    options = st.sampled_from(["XXL", "S", "Nope"])
    return st.fixed_dictionaries(
        {"attributes": options.map(lambda o: [{"name": "Size", "option": o}])},
        optional={
            "regular_price": MONEY,
            "sku": st.sampled_from(SKUS),
            "manage_stock": st.booleans(),
            "stock_quantity": st.integers(0, 5),
        },
    )


def line_items(known: Known) -> st.SearchStrategy[list[dict[str, Any]]]:
    simple = st.fixed_dictionaries(
        {"product_id": st.sampled_from([*SIMPLE, *known.products, MISSING]),
         "quantity": st.sampled_from([1, 2, 3, 0, -1])},
        optional={"subtotal": MONEY, "total": MONEY},
    )  # fmt: skip
    variation = st.sampled_from([(p, v) for p, vs in PARENTS.items() for v in vs]).map(
        lambda pv: {"product_id": pv[0], "variation_id": pv[1], "quantity": 1}
    )
    alone = st.sampled_from(VARIATIONS).map(lambda v: {"product_id": v, "quantity": 2})
    by_sku = st.sampled_from(SKUS).map(lambda s: {"sku": s, "quantity": 1})
    return st.lists(st.one_of(simple, variation, alone, by_sku), min_size=0, max_size=3)


def new_order(known: Known) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {"line_items": line_items(known)},
        optional={
            "status": st.sampled_from(["completed", "processing", "pending", "on-hold"]),
            "set_paid": st.booleans(),
            "payment_method": st.just("onetill_cash"),
            "payment_method_title": st.just("Cash"),
            "created_via": st.just("onetill"),
            "meta_data": st.just([{"key": "_onetill_order_uuid", "value": "0b9a-uuid"}]),
        },
    )


def writes(known: Known) -> st.SearchStrategy[Request]:
    products = [*SIMPLE, *known.products]
    variation_ids = [(p, v) for p, vs in PARENTS.items() for v in vs] + [
        (p, v) for v, p in known.variations.items()
    ]
    options: list[st.SearchStrategy[Request]] = [
        st.tuples(st.sampled_from([*products, MISSING]), edits()).map(
            lambda p: Request("PUT", f"products/{p[0]}", json=p[1])
        ),
        st.tuples(st.sampled_from(variation_ids), edits()).map(
            lambda p: Request("PUT", f"products/{p[0][0]}/variations/{p[0][1]}", json=p[1])
        ),
        new_product().map(lambda body: Request("POST", "products", json=body)),
        st.tuples(st.sampled_from([*PARENTS, 10]), new_variation()).map(
            lambda p: Request("POST", f"products/{p[0]}/variations", json=p[1])
        ),
        st.tuples(st.sampled_from([*products, *PARENTS, MISSING]), st.booleans()).map(
            lambda p: Request("DELETE", f"products/{p[0]}", {"force": "true"} if p[1] else {})
        ),
        st.fixed_dictionaries(
            {},
            optional={
                "create": st.lists(new_product(), max_size=2),
                "update": st.lists(
                    st.tuples(st.sampled_from([*products, MISSING]), edits()).map(
                        lambda p: {"id": p[0], **p[1]}
                    ),
                    max_size=2,
                ),
                "delete": st.lists(st.sampled_from([*products, MISSING]), max_size=1),
            },
        ).map(lambda body: Request("POST", "products/batch", json=body)),
        new_order(known).map(lambda body: Request("POST", "orders", json=body)),
        st.lists(new_order(known), min_size=1, max_size=2).map(
            lambda orders: Request("POST", "orders/batch", json={"create": orders})
        ),
        st.tuples(st.sampled_from([1, 2, 99]), st.sampled_from(["16.0000", "7", "abc"])).map(
            lambda p: Request("PUT", f"taxes/{p[0]}", json={"rate": p[1]})
        ),
    ]
    if known.orders:
        options.append(
            st.tuples(
                st.sampled_from(sorted(known.orders)),
                st.sampled_from(["completed", "cancelled", "processing", "refunded"]),
            ).map(lambda p: Request("PUT", f"orders/{p[0]}", json={"status": p[1]}))
        )
        with_lines = [o for o, lines in known.orders.items() if lines]
        if with_lines:
            options.append(
                st.tuples(st.sampled_from(sorted(with_lines)), st.booleans()).map(
                    lambda p: Request(
                        "POST",
                        f"orders/{p[0]}/refunds",
                        json={
                            "amount": "1.00",
                            "api_refund": False,
                            "restock_items": p[1],
                            "line_items": [
                                {"id": known.orders[p[0]][0], "quantity": 1,
                                 "refund_total": "1.00"}
                            ],
                        },
                    )
                )
            )  # fmt: skip
    return st.one_of(options)


def step(known: Known) -> st.SearchStrategy[Request]:
    """One request: reads and writes about equally often."""
    return st.one_of(reads(known), writes(known))
