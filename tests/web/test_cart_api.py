"""POST /api/cart: scans and taps priced by the server, refused when they should be."""

from __future__ import annotations

from typing import Any

import pytest

from web.web_support import TillHost, change_product, post

pytestmark = pytest.mark.anyio


async def cart(api: tuple[Any, str], lines: list[dict[str, Any]], action: Any = None) -> Any:
    """The cart after ``action``; ``lines`` as the browser keeps them (id, qty, confirmed)."""
    client, token = api
    kept = [{k: v for k, v in li.items() if k in ("id", "qty", "confirmed")} for li in lines]
    response = await post(client, "/api/cart", {"lines": kept, "action": action}, token)
    assert response.status_code == 200, response.text
    return response.json()


async def test_scanning_skus_prices_the_cart_with_one_tax_line_per_rate(api: Any) -> None:
    """63.48 incl. 7 % and 22.49 incl. 19 %: WooCommerce's per-line rounded taxes."""
    first = await cart(api, [], {"kind": "scan", "code": "SIMPLE-001"})
    assert [(li["id"], li["qty"]) for li in first["lines"]] == [(10, 1)]
    both = await cart(api, first["lines"], {"kind": "scan", "code": "SIMPLE-003"})
    totals = both["totals"]
    assert totals["total"] == "85.97" and totals["total_text"] == "€85.97"
    assert [(t["label"], t["amount"]) for t in totals["taxes"]] == [
        ("MwSt 19%", "3.59"), ("MwSt 7%", "4.15"),
    ]
    assert totals["prices_include_tax"] is True


async def test_scanning_the_same_code_twice_adds_a_second_unit(api: Any) -> None:
    one = await cart(api, [], {"kind": "scan", "code": "SIMPLE-003"})
    two = await cart(api, one["lines"], {"kind": "scan", "code": "12"})  # the id works too
    assert [(li["id"], li["qty"]) for li in two["lines"]] == [(12, 2)]
    assert two["added"] == {"id": 12, "name": "Simple Product 003", "qty": 2}


async def test_an_unknown_code_adds_nothing_and_says_so(api: Any) -> None:
    start = await cart(api, [], {"kind": "scan", "code": "SIMPLE-003"})
    after = await cart(api, start["lines"], {"kind": "scan", "code": "4006381333931"})
    assert after["problem"]["kind"] == "unknown"
    assert "4006381333931" in after["problem"]["message"]
    assert "onetill sync" not in after["problem"]["message"]
    assert [(li["id"], li["qty"]) for li in after["lines"]] == [(12, 1)]


async def test_a_variable_product_asks_for_its_variation(api: Any) -> None:
    answer = await cart(api, [], {"kind": "scan", "code": "VAR-01"})
    assert answer["lines"] == [] and answer["problem"]["kind"] == "choose"
    options = answer["problem"]["product"]["variations"]
    assert [o["sku"] for o in options] == ["VAR-01-S", "VAR-01-M", "VAR-01-L", "VAR-01-XL"]
    picked = await cart(api, [], {"kind": "add", "id": options[1]["id"]})
    assert picked["lines"][0]["sku"] == "VAR-01-M" and picked["lines"][0]["unit_price"] == "48.39"


async def test_out_of_stock_without_backorders_is_refused(api: Any) -> None:
    """SIMPLE-300 has 0 in stock and the store does not allow backorders."""
    answer = await cart(api, [], {"kind": "scan", "code": "SIMPLE-300"})
    assert answer["lines"] == []
    assert answer["problem"]["kind"] == "out_of_stock"
    assert "does not allow backorders" in answer["problem"]["message"]


async def test_raising_a_quantity_beyond_stock_is_refused_and_keeps_the_old_one(api: Any) -> None:
    """SIMPLE-013 has 2 in stock, backorders off."""
    two = await cart(api, [{"id": 22, "qty": 2}])
    three = await cart(api, two["lines"], {"kind": "set", "id": 22, "qty": 3})
    assert three["problem"]["kind"] == "out_of_stock"
    assert "Only 2" in three["problem"]["message"]
    assert [(li["id"], li["qty"]) for li in three["lines"]] == [(22, 2)]


async def test_beyond_stock_with_backorders_allowed_asks_first(api: Any, host: TillHost) -> None:
    change_product(host.db, 22, backorders="notify")
    asked = await cart(api, [{"id": 22, "qty": 2}], {"kind": "add", "id": 22, "qty": 1})
    assert asked["problem"]["kind"] == "confirm" and "may have more" in asked["problem"]["message"]
    assert asked["lines"][0]["qty"] == 2
    sure = await cart(api, asked["lines"], {"kind": "add", "id": 22, "qty": 1, "confirm": True})
    assert sure["problem"] is None
    assert (sure["lines"][0]["qty"], sure["lines"][0]["confirmed"]) == (3, True)


async def test_bad_carts_are_refused_with_a_reason(api: Any) -> None:
    client, token = api
    for body, words in [
        ({"lines": [{"id": 12, "qty": 0}]}, "between 1 and 9999"),
        ({"lines": [{"id": 12, "qty": 10000}]}, "between 1 and 9999"),
        ({"lines": [{"id": 12, "qty": "2"}]}, "Expected `int`"),
        ({"lines": [], "action": {"kind": "steal"}}, "invalid request"),
        ({"lines": [], "extra": 1}, "unknown field"),
    ]:
        response = await post(client, "/api/cart", body, token)
        assert response.status_code == 400, body
        assert words in response.json()["message"], response.json()
    response = await client.post("/api/cart", content=b"{", headers={
        "x-csrf-token": token, "content-type": "application/json"})
    assert response.status_code == 400 and "not valid JSON" in response.json()["message"]


async def test_an_item_that_left_the_catalog_is_dropped_with_a_message(
    api: Any, host: TillHost
) -> None:
    change_product(host.db, 12, status="draft")
    answer = await cart(api, [{"id": 12, "qty": 1}, {"id": 10, "qty": 1}])
    assert [li["id"] for li in answer["lines"]] == [10]
    assert answer["dropped"][0]["id"] == 12 and "not for sale" in answer["dropped"][0]["message"]


async def test_search_finds_by_name_and_exact_barcode_first(api: Any) -> None:
    client, _ = api
    found = (await client.get("/api/products", params={"q": "Simple Product 00"})).json()
    assert found["tiles"] and all("Simple Product 00" in t["name"] for t in found["tiles"])
    exact = (await client.get("/api/products", params={"q": "SIMPLE-013"})).json()
    assert exact["tiles"][0]["id"] == 22 and exact["tiles"][0]["stock_text"] == "2 in stock"


async def test_the_grid_lists_a_category_with_variable_products_as_one_tile(api: Any) -> None:
    client, _ = api
    cats = (await client.get("/api/categories")).json()["categories"]
    apparel = next(c["id"] for c in cats if c["name"] == "Apparel")
    page = (await client.get("/api/products", params={"category": apparel})).json()
    kinds = {t["kind"] for t in page["tiles"]}
    assert kinds <= {"simple", "variable"} and len(page["tiles"]) == 60 and page["more"]
    everything: list[Any] = []
    offset = 0
    while True:
        chunk = (await client.get("/api/products",
                                  params={"category": apparel, "offset": offset})).json()
        everything += chunk["tiles"]
        if not chunk["more"]:
            break
        offset += 60
    variable = [t for t in everything if t["kind"] == "variable"]
    assert variable and all(t["options"] >= 1 for t in variable)
    assert "–" in next(t for t in variable if t["id"] == 310)["price_text"]
