"""The companion plugin installed in real WooCommerce: lifecycle, routes, auth, validation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

import companion_support as cs
from onetill.woo.errors import AmbiguousWriteError, AuthError
from realstore_support import RealStore

pytestmark = [pytest.mark.real, pytest.mark.anyio]

ROUTES = {
    "/wc-onetill/v1/status": ["GET"],
    "/wc-onetill/v1/changes": ["GET"],
    "/wc-onetill/v1/ids": ["GET"],
    "/wc-onetill/v1/orders": ["POST"],
    "/wc-onetill/v1/orders/by-key/(?P<key>[A-Za-z0-9][A-Za-z0-9._:-]{7,127})": ["GET"],
    "/wc-onetill/v1/orders/by-uuid": ["GET"],
    "/wc-onetill/v1/stock/adjust": ["POST"],
    "/wc-onetill/v1/webhooks/ensure": ["POST"],
}
HOOK_URL = "http://127.0.0.1:9/never"
SCHEDULED = "echo wp_json_encode( (bool) wp_next_scheduled( 'onetill_companion_prune_journal' ) );"
ORDER = {"status": "completed", "set_paid": True, "line_items": [{"product_id": 40, "quantity": 1}]}


def test_activation_creates_tables_and_options_and_declares_hpos(companion: RealStore) -> None:
    """Activation made the three tables and the options; WooCommerce lists it as HPOS-compatible."""
    assert cs.tables(companion) == sorted(cs.TABLES)
    opts = cs.options(companion)
    assert opts["onetill_companion_db_version"] == "1"
    assert len(opts["onetill_companion_journal_epoch"]) == 16
    state = cs.wp_php(
        companion,
        "$c = \\Automattic\\WooCommerce\\Utilities\\FeaturesUtil::"
        "get_compatible_plugins_for_feature( 'custom_order_tables' ); "
        f"echo wp_json_encode( array( is_plugin_active( '{cs.SLUG}' ), $c['compatible'], "
        f"(bool) wp_next_scheduled( 'onetill_companion_prune_journal' ) ) );",
    )
    active, compatible, scheduled = state
    assert active is True
    assert cs.SLUG in compatible
    assert scheduled is True


async def test_routes_are_registered_with_their_methods(companion: RealStore) -> None:
    """/wp-json/ lists the namespace (discovery finds it); each route has its methods."""
    async with cs.client(companion) as c:
        assert (await c.discover()).plugin
        index = await c.request("GET", "", namespace=cs.NAMESPACE)
    routes = {path: sorted(r["methods"]) for path, r in index.data["routes"].items()}
    assert routes.pop("/wc-onetill/v1") == ["GET"]
    assert routes == ROUTES


async def test_status_reports_versions_clock_and_journal(companion: RealStore) -> None:
    async with cs.client(companion) as c:
        r = await c.request("GET", "status", namespace=cs.NAMESPACE)
    body = r.data
    assert (body["plugin_version"], body["woocommerce_version"], body["wordpress_version"]) == (
        "1.0.0",
        "11.0.1",
        "7.0.4",
    )
    server = datetime.fromisoformat(body["server_time_gmt"]).replace(tzinfo=UTC)
    assert r.server_time is not None and abs((server - r.server_time).total_seconds()) <= 2
    assert body["hpos"] is True
    assert set(body["journal"]) == {"epoch", "head", "pruned_through", "max_limit"}
    assert body["journal"]["epoch"] == cs.options(companion)["onetill_companion_journal_epoch"]
    assert all(body["features"].values())


async def test_a_read_only_key_reads_but_cannot_write(companion: RealStore) -> None:
    """WooCommerce refuses a read key's writes on our routes before our handlers run."""
    async with cs.client(companion, read_only=True) as ro, cs.client(companion) as rw:
        for path, params in [
            ("status", None),
            ("changes", {"after": 0, "limit": 1}),
            ("ids", {"type": "product", "per_page": 1}),
            ("orders/by-uuid", {"uuids": "nothing-here"}),
        ]:
            r = await ro.request("GET", path, params, namespace=cs.NAMESPACE)
            assert r.status == 200, path
        key = "ro-key-write-0001"
        writes: list[tuple[str, Any, dict[str, str] | None]] = [
            ("orders", ORDER, {"Idempotency-Key": key}),
            ("stock/adjust", {"adjustments": [{"id": 41, "delta": 1, "key": "ro-adj-0001"}]}, None),
            ("webhooks/ensure", {"delivery_url": HOOK_URL, "secret": "secret-123"}, None),
        ]
        for path, body, headers in writes:
            # A 401 to a write is ambiguous to the client (a replayed copy may have got
            # there first); the store's refusal inside it says what happened.
            with pytest.raises(AmbiguousWriteError) as caught:
                await ro.request("POST", path, json=body, namespace=cs.NAMESPACE, headers=headers)
            assert caught.value.status == 401 and caught.value.keys_refused, path
        status, body, _ = await cs.call(rw, "GET", f"orders/by-key/{key}")
        stock = (await rw.get("products/41", {"_fields": "stock_quantity"})).data
        hooks = (await rw.get("webhooks", {"_fields": "delivery_url"})).data
    assert (status, body["code"]) == (404, "onetill_order_not_found")
    assert stock["stock_quantity"] == 42  # as recorded: untouched
    assert HOOK_URL not in [h["delivery_url"] for h in hooks]


ANONYMOUS = [
    ("GET", "status", None, "woocommerce_rest_cannot_view"),
    ("GET", "changes?after=0", None, "woocommerce_rest_cannot_view"),
    ("GET", "ids?type=product", None, "woocommerce_rest_cannot_view"),
    ("GET", "orders/by-key/abcdefgh-1", None, "woocommerce_rest_cannot_view"),
    ("GET", "orders/by-uuid?uuids=a", None, "woocommerce_rest_cannot_view"),
    ("POST", "orders", ORDER, "woocommerce_rest_cannot_create"),
    (
        "POST",
        "stock/adjust",
        {"adjustments": [{"id": 41, "delta": 1, "key": "anon-0001"}]},
        "woocommerce_rest_cannot_edit",
    ),
    (
        "POST",
        "webhooks/ensure",
        {"delivery_url": HOOK_URL, "secret": "secret-123"},
        "woocommerce_rest_cannot_create",
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "code"), ANONYMOUS, ids=[a[1] for a in ANONYMOUS]
)
async def test_a_request_without_keys_is_refused(
    companion: RealStore, method: str, path: str, body: Any, code: str
) -> None:
    """Anonymous callers get WooCommerce's own 401 permission errors on every route."""
    async with cs.client(companion) as c:
        # A refused write reaches the caller as ambiguous (a replayed copy could have got
        # there first), with the store's refusal inside; a refused read as itself.
        with pytest.raises((AuthError, AmbiguousWriteError)) as caught:
            await c.request(
                method,
                path,
                json=body,
                namespace=cs.NAMESPACE,
                authenticate=False,
                headers={"Idempotency-Key": "anon-order-0001"} if path == "orders" else None,
            )
    refused = caught.value
    if isinstance(refused, AmbiguousWriteError):
        assert method == "POST" and refused.refusal is not None
        refused = refused.refusal
    assert isinstance(refused, AuthError)
    assert (refused.status, refused.code) == (401, code)


BAD_INPUT = [
    ("GET", "changes", {"after": -1}, None, None, "rest_invalid_param", "after"),
    ("GET", "changes", {"after": "x"}, None, None, "rest_invalid_param", "after"),
    ("GET", "changes", {"after": 0, "limit": 1001}, None, None, "rest_invalid_param", "limit"),
    ("GET", "changes", {"after": 0, "limit": 0}, None, None, "rest_invalid_param", "limit"),
    ("GET", "changes", {"after": 0, "epoch": "NOT-HEX"}, None, None, "rest_invalid_param", "epoch"),
    ("GET", "changes", {}, None, None, "rest_missing_callback_param", "after"),
    ("GET", "ids", {"type": "order"}, None, None, "rest_invalid_param", "type"),
    ("GET", "ids", {}, None, None, "rest_missing_callback_param", "type"),
    (
        "GET",
        "ids",
        {"type": "product", "per_page": 5001},
        None,
        None,
        "rest_invalid_param",
        "per_page",
    ),
    ("GET", "ids", {"type": "product", "page": 0}, None, None, "rest_invalid_param", "page"),
    ("GET", "orders/by-uuid", {}, None, None, "rest_missing_callback_param", "uuids"),
    (
        "GET",
        "orders/by-uuid",
        {"uuids": ",".join(f"u{i}" for i in range(101))},
        None,
        None,
        "rest_invalid_param",
        "uuids",
    ),
    ("POST", "orders", None, ORDER, None, "onetill_idempotency_key_missing", None),
    (
        "POST",
        "orders",
        None,
        ORDER,
        {"Idempotency-Key": "short"},
        "onetill_idempotency_key_invalid",
        None,
    ),
    (
        "POST",
        "orders",
        None,
        [1, 2],
        {"Idempotency-Key": "list-body-0001"},
        "onetill_order_body_invalid",
        None,
    ),
    (
        "POST",
        "orders",
        None,
        {**ORDER, "status": "sold"},
        {"Idempotency-Key": "bad-status-0001"},
        "rest_invalid_param",
        "status",
    ),
    ("POST", "stock/adjust", None, {"adjustments": []}, None, "rest_invalid_param", "adjustments"),
    (
        "POST",
        "stock/adjust",
        None,
        {"adjustments": [{"id": 41, "delta": "two", "key": "adj-0000x"}]},
        None,
        "rest_invalid_param",
        "adjustments",
    ),
    (
        "POST",
        "stock/adjust",
        None,
        {"adjustments": [{"id": 41, "delta": 1}]},
        None,
        "rest_invalid_param",
        "adjustments",
    ),
    (
        "POST",
        "stock/adjust",
        None,
        {"adjustments": [{"id": 41, "delta": 1, "key": "k y"}]},
        None,
        "rest_invalid_param",
        "adjustments",
    ),
    ("POST", "stock/adjust", None, {"x": 1}, None, "rest_missing_callback_param", "adjustments"),
    (
        "POST",
        "webhooks/ensure",
        None,
        {"delivery_url": HOOK_URL},
        None,
        "rest_missing_callback_param",
        "secret",
    ),
    (
        "POST",
        "webhooks/ensure",
        None,
        {"delivery_url": "not a url", "secret": "secret-123"},
        None,
        "onetill_webhook_invalid_delivery_url",
        None,
    ),
    (
        "POST",
        "webhooks/ensure",
        None,
        {"delivery_url": HOOK_URL, "secret": "secret-123", "topics": ["coupon.created"]},
        None,
        "rest_invalid_param",
        "topics",
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "params", "body", "headers", "code", "param"),
    BAD_INPUT,
    ids=[f"{b[1]}-{b[5]}-{b[6]}-{i}" for i, b in enumerate(BAD_INPUT)],
)
async def test_schema_validation_refuses_bad_input(
    companion: RealStore,
    method: str,
    path: str,
    params: dict[str, Any] | None,
    body: Any,
    headers: dict[str, str] | None,
    code: str,
    param: str | None,
) -> None:
    """Each bad input is a 400 naming the parameter; nothing is created or changed."""
    async with cs.client(companion) as c:
        status, answer, _ = await cs.call(c, method, path, params, json=body, headers=headers)
    assert (status, answer["code"]) == (400, code), answer
    if param is not None:
        named = answer["data"]["params"]
        assert param in (named if isinstance(named, list) else list(named))


async def test_deactivation_stops_the_journal_and_reactivation_starts_a_new_epoch(
    companion: RealStore,
) -> None:
    """Inactive: routes gone, edits unjournaled, cron cleared. Active again: a new epoch, so a till
    that knew the old one is told to re-baseline."""
    async with cs.client(companion) as c:
        before = (await cs.call(c, "GET", "status"))[1]["journal"]
        cs.deactivate(companion)
        try:
            status, body, _ = await cs.call(c, "GET", "status")
            assert (status, body["code"]) == (404, "rest_no_route")
            await c.put("products/42", json={"regular_price": "3.33"})
            scheduled = cs.wp_php(companion, SCHEDULED)
            assert scheduled is False
        finally:
            cs.activate(companion)
        after = (await cs.call(c, "GET", "status"))[1]["journal"]
        assert after["epoch"] != before["epoch"]
        assert not [ch for ch in await cs.changes_since(c, before["head"]) if ch["id"] == 42]
        status, body, _ = await cs.call(
            c, "GET", "changes", {"after": before["head"], "epoch": before["epoch"]}
        )
    assert (status, body["code"]) == (410, "onetill_journal_rebaseline")
    assert body["data"]["reason"] == "epoch"
    assert body["data"]["epoch"] == after["epoch"]
    assert isinstance(body["data"]["head"], int)


def test_uninstall_drops_tables_and_options(companion: RealStore) -> None:
    """uninstall.php (WordPress's "Delete") leaves no table, option or cron event behind."""
    try:
        cs.uninstall(companion)
        assert cs.tables(companion) == []
        assert cs.options(companion) == {}
        left = cs.wp_php(companion, SCHEDULED)
        assert left is False
    finally:
        cs.activate(companion)
    assert cs.tables(companion) == sorted(cs.TABLES)
