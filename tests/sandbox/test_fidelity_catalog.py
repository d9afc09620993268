"""Products, variations and collections behave like WooCommerce 11 (recorded store ids)."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest

from onetill.sandbox.config import SandboxConfig
from onetill.sandbox.state import SandboxStore
from sandbox_support import Clock, store_client
from support import RECORDED_STORE

pytestmark = pytest.mark.anyio
P = "/wp-json/wc/v3/products"
DAY_AFTER = datetime(2026, 11, 27, 15, 30, 6, tzinfo=UTC).timestamp()  # after the recorded catalog


def _store() -> tuple[SandboxStore, Clock]:
    clock = Clock(DAY_AFTER)
    return SandboxStore.from_config(SandboxConfig(store_dir=RECORDED_STORE), clock=clock), clock


async def _get(c: httpx2.AsyncClient, path: str, **params: str) -> httpx2.Response:
    return await c.get(path, params=params)


async def test_every_save_bumps_date_modified_even_without_changes() -> None:
    """A PUT with no field changed still moves date_modified to the save time."""
    store, clock = _store()
    async with store_client(store) as c:
        before = (await _get(c, f"{P}/10")).json()["date_modified_gmt"]
        clock.advance(5)
        after = (await c.put(f"{P}/10", json={"regular_price": "63.48"})).json()[
            "date_modified_gmt"
        ]
    assert before == "2026-11-26T15:28:30"
    assert after == "2026-11-27T15:30:11"


async def test_saving_a_variation_bumps_its_parent() -> None:
    """PUT on variation 312 moves the parent 310's date_modified too."""
    store, _ = _store()
    async with store_client(store) as c:
        await c.put(f"{P}/310/variations/312", json={"regular_price": "9.99"})
        parent = (await _get(c, f"{P}/310")).json()
    assert parent["date_modified_gmt"] == "2026-11-27T15:30:06"
    assert parent["price"] == "9.99"  # a variable parent's price is its lowest variation price
    assert parent["regular_price"] == ""


async def test_parent_managed_variation_shows_and_sells_the_parents_stock() -> None:
    """manage_stock 'parent': the variation shows the parent's stock; a sale reduces the parent."""
    store, _ = _store()
    async with store_client(store) as c:
        v = (await _get(c, f"{P}/405/variations/407")).json()
        assert (v["manage_stock"], v["stock_quantity"]) == ("parent", 50)
        r = await c.post(
            "/wp-json/wc/v3/orders",
            json={
                "set_paid": True,
                "line_items": [{"product_id": 405, "variation_id": 407, "quantity": 3}],
            },
        )
        assert r.status_code == 201
        parent = (await _get(c, f"{P}/405")).json()
        v_after = (await _get(c, f"{P}/405/variations/407")).json()
    assert parent["stock_quantity"] == 47
    assert v_after["stock_quantity"] == 47
    assert parent["date_modified_gmt"] == "2026-11-27T15:30:06"
    assert v_after["date_modified_gmt"] == v["date_modified_gmt"]  # only the parent's date moves


async def test_trash_then_410_then_restore() -> None:
    """DELETE trashes (body as before), a second DELETE is 410, PUT status publish restores."""
    store, _ = _store()
    async with store_client(store) as c:
        r = await c.delete(f"{P}/30")
        assert (r.status_code, r.json()["status"]) == (200, "publish")
        assert 30 not in {
            p["id"] for p in (await _get(c, P, per_page="100", include="29,30")).json()
        }
        trash = (await _get(c, P, status="trash", _fields="id,status")).json()
        assert trash == [{"id": 30, "status": "trash"}]
        again = await c.delete(f"{P}/30")
        assert (again.status_code, again.json()["code"]) == (
            410,
            "woocommerce_rest_already_trashed",
        )
        restored = await c.put(f"{P}/30", json={"status": "publish"})
        assert restored.json()["status"] == "publish"
        listed = await _get(c, P, include="29,30", _fields="id")
    assert {p["id"] for p in listed.json()} == {29, 30}


async def test_force_delete_leaves_no_trace_and_takes_the_variations() -> None:
    """force=true: 404 afterwards, in no listing (not trash either); variations go too."""
    store, _ = _store()
    async with store_client(store) as c:
        assert (await c.delete(f"{P}/31", params={"force": "true"})).status_code == 200
        r = await _get(c, f"{P}/31")
        assert (r.status_code, r.json()["code"]) == (404, "woocommerce_rest_product_invalid_id")
        assert (await _get(c, P, status="trash")).json() == []
        assert (await _get(c, P, include="31")).json() == []
        await c.delete(f"{P}/310", params={"force": "true"})
        assert (await _get(c, f"{P}/312")).status_code == 404
        assert (await _get(c, f"{P}/310/variations")).json() == []


async def test_trashing_a_variable_product_trashes_its_variations_and_rest_restore_does_not() -> (
    None
):
    """Trash takes the variations along; PUT status publish restores only the parent (#62833)."""
    store, _ = _store()
    async with store_client(store) as c:
        await c.delete(f"{P}/310")
        assert (await _get(c, f"{P}/310/variations")).json() == []
        trashed = await _get(c, f"{P}/310/variations", status="trash", _fields="id")
        await c.put(f"{P}/310", json={"status": "publish"})
        parent = (await _get(c, f"{P}/310")).json()
        still = await _get(c, f"{P}/310/variations", status="trash", _fields="id")
        again = await c.delete(f"{P}/310/variations/312")
    assert len(trashed.json()) == 4
    assert parent["status"] == "publish"
    assert len(still.json()) == 4
    assert again.json()["message"] == "The product_variation has already been deleted."


@pytest.mark.parametrize("per_page", ["0", "101"])
async def test_per_page_out_of_bounds_is_a_400(per_page: str) -> None:
    """per_page must be 1..100."""
    store, _ = _store()
    async with store_client(store) as c:
        r = await _get(c, P, per_page=per_page)
    assert r.status_code == 400
    assert r.json()["data"]["details"]["per_page"]["code"] == "rest_out_of_bounds"


async def test_headers_link_echo_oauth_and_page_past_end_is_empty() -> None:
    """X-WP-Total counts all but trash (drafts too); Link echoes the request's oauth_* params."""
    store, _ = _store()
    async with store_client(store) as c:
        r = await _get(c, P, per_page="100", page="2")
        past = await _get(c, P, per_page="100", page="9")
    assert (r.headers["x-wp-total"], r.headers["x-wp-totalpages"]) == ("320", "4")
    assert 308 in {p["id"] for p in (await _list_all(store))}  # the draft is listed
    links = {
        part.split("; rel=")[1].strip('"'): part.split(";")[0].strip("<>")
        for part in r.headers["link"].split(", ")
    }
    assert set(links) == {"prev", "next"}
    nxt = parse_qs(urlsplit(links["next"]).query)
    sent = parse_qs(urlsplit(str(r.request.url)).query)
    assert nxt["page"] == ["3"]
    assert nxt["oauth_nonce"] == sent["oauth_nonce"]  # a used nonce: never follow verbatim
    assert (past.status_code, past.json()) == (200, [])
    assert "page=4" in past.headers["link"] and 'rel="prev"' in past.headers["link"]


async def _list_all(store: SandboxStore) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    async with store_client(store) as c:
        for page in range(1, 5):
            out += (await _get(c, P, per_page="100", page=str(page), _fields="id")).json()
    return out


async def test_sku_matches_variations_and_takes_comma_lists() -> None:
    """sku=A,B finds a simple product and a variation (listed as a variation)."""
    store, _ = _store()
    async with store_client(store) as c:
        r = await _get(c, P, sku="SIMPLE-002,VAR-01-M", _fields="id,type,parent_id")
    assert sorted(r.json(), key=lambda p: p["id"]) == [
        {"id": 11, "type": "simple", "parent_id": 0},
        {"id": 312, "type": "variation", "parent_id": 310},
    ]


async def test_include_comma_list_and_array_and_orderby() -> None:
    """include=10,11,12 filters; include[] signed as sent is refused (PHP signs it as
    include[0], include[1]); orderby=id&order=asc sorts ascending."""
    store, _ = _store()
    async with store_client(store) as c:
        a = await _get(c, P, include="12,10,11", orderby="id", order="asc", _fields="id")
        b = await c.get(P, params=[("include[]", "10"), ("include[]", "11"), ("_fields", "id")])
        bad = await _get(c, P, orderby="bogus")
        variation_type = await _get(c, P, type="variation")
    assert [p["id"] for p in a.json()] == [10, 11, 12]
    assert (b.status_code, b.json()["message"]) == (
        401,
        "Invalid signature - provided signature does not match.",
    )
    assert (bad.status_code, bad.json()["code"]) == (400, "rest_invalid_param")
    assert "orderby is not one of date, id, include" in bad.json()["message"] + str(
        bad.json()["data"]
    )
    assert variation_type.status_code == 400


async def test_fields_trims_top_level_and_nested() -> None:
    """_fields=id,dimensions.width keeps only those (and a single object keeps _links)."""
    store, _ = _store()
    async with store_client(store) as c:
        many = await _get(c, P, include="10", _fields="id,dimensions.width")
        one = await _get(c, f"{P}/10", _fields="id,sku")
    assert many.json() == [{"id": 10, "dimensions": {"width": ""}}]
    assert set(one.json()) == {"id", "sku", "_links"}


async def test_nested_fields_follow_wordpress_array_intersection() -> None:
    """WordPress intersects keys recursively: ``categories.name`` on a list keeps list
    *indexes* named 'name' (none: ``[]``, not the names), ``categories.0`` keeps the first
    entry, a sub-field of a scalar keeps the scalar, an emptied object is PHP's ``[]``."""
    store, _ = _store()
    async with store_client(store) as c:
        r = await _get(
            c, P, include="10", _fields="id,categories.name,name.first,dimensions.nope"
        )
        first = await _get(c, P, include="10", _fields="categories.0.id")
        full = (await _get(c, f"{P}/10", _fields="name,categories")).json()
    assert r.json() == [{"id": 10, "name": full["name"], "categories": [], "dimensions": []}]
    category = full["categories"][0]
    assert first.json() == [{"categories": [{"id": category["id"]}]}]


async def test_variation_routes() -> None:
    """GET /products/{variation_id} works; global /variations has parent_id; unknown parent: []."""
    store, _ = _store()
    async with store_client(store) as c:
        v = (await _get(c, f"{P}/312")).json()
        g = await _get(c, "/wp-json/wc/v3/variations", per_page="100")
        none = await _get(c, f"{P}/999999/variations")
    assert (v["type"], v["parent_id"]) == ("variation", 310)
    assert g.headers["x-wp-total"] == "81"
    assert all(x["parent_id"] for x in g.json())
    assert (none.status_code, none.json()) == (200, [])


async def test_rest_writes_validate_types() -> None:
    """A number for a price or 'abc' for stock_quantity is a 400 outside batch."""
    store, _ = _store()
    async with store_client(store) as c:
        price = await c.put(f"{P}/10", json={"regular_price": 5.55})
        stock = await c.put(f"{P}/10", json={"stock_quantity": "abc"})
    for r, field in ((price, "regular_price"), (stock, "stock_quantity")):
        assert r.status_code == 400
        assert r.json()["code"] == "rest_invalid_param"
        assert field in r.json()["data"]["params"]
    assert store.products[10].data["regular_price"] == "63.48"


async def test_malformed_json_and_unknown_route() -> None:
    """Broken JSON is 400 rest_invalid_json; an unknown route is 404 rest_no_route."""
    store, _ = _store()
    async with store_client(store) as c:
        bad = await c.put(
            f"{P}/10", content=b"{not json", headers={"Content-Type": "application/json"}
        )
        nowhere = await _get(c, "/wp-json/wc/v3/nosuchroute")
    assert (bad.status_code, bad.json()["code"]) == (400, "rest_invalid_json")
    assert (nowhere.status_code, nowhere.json()["code"]) == (404, "rest_no_route")


async def test_sale_window_decides_the_price() -> None:
    """A sale that starts tomorrow is not active today; after the start the sale price applies."""
    store, clock = _store()
    async with store_client(store) as c:
        r = await c.put(
            f"{P}/10", json={"sale_price": "50.00", "date_on_sale_from_gmt": "2026-11-28T00:00:00"}
        )
        assert (r.json()["price"], r.json()["on_sale"]) == ("63.48", False)
        assert r.json()["date_on_sale_from_gmt"] == "2026-11-28T00:00:00"
        clock.advance(86400)
        later = (await _get(c, f"{P}/10")).json()
    assert (later["price"], later["on_sale"]) == ("50.00", True)


async def test_create_product_with_duplicate_sku_is_refused() -> None:
    """POST /products with an existing SKU: 400 product_invalid_sku, nothing created."""
    store, _ = _store()
    count = len(store.products)
    async with store_client(store) as c:
        dup = await c.post(P, json={"name": "Dup", "sku": "SIMPLE-001", "regular_price": "1.00"})
        new = await c.post(
            P,
            json={
                "name": "New thing",
                "sku": "NEW-1",
                "regular_price": "1.00",
                "manage_stock": True,
                "stock_quantity": 4,
            },
        )
    assert (dup.status_code, dup.json()["code"]) == (400, "product_invalid_sku")
    assert new.status_code == 201
    assert new.json()["id"] == 411  # the next WordPress post id
    assert (new.json()["stock_quantity"], new.json()["stock_status"]) == (4, "instock")
    assert len(store.products) == count + 1


async def test_trashing_bumps_the_date_so_trash_polling_finds_it() -> None:
    """status=trash&modified_after=<cursor> sees a product trashed after the cursor."""
    store, clock = _store()
    async with store_client(store) as c:
        clock.advance(30)
        await c.delete(f"{P}/30")
        found = await _get(
            c, P, status="trash", modified_after="2026-11-27T15:30:06", dates_are_gmt="true",
            _fields="id,status,date_modified_gmt",
        )  # fmt: skip
    assert found.json() == [
        {"id": 30, "status": "trash", "date_modified_gmt": "2026-11-27T15:30:36"}
    ]


async def test_system_status_gives_the_woocommerce_version() -> None:
    """GET /system_status?_fields=environment carries environment.version (11.0.1)."""
    store, _ = _store()
    async with store_client(store) as c:
        r = await _get(c, "/wp-json/wc/v3/system_status", _fields="environment")
    assert set(r.json()) == {"environment"}
    assert r.json()["environment"]["version"] == "11.0.1"
