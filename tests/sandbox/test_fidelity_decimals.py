"""Order rounding at the store's price decimals (``woocommerce_price_num_decimals``) and
the ``dp`` read parameter, as WooCommerce's ``calculate_totals`` and REST serializer do.

Product 10 is the recorded store's reduced-rate (7 %) simple product; each order sends
explicit net ``subtotal``/``total`` so the tax is an exact tie: 7 % of 50 is 3.5 and
7 % of 0.05 is 0.0035.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx2
import pytest

from onetill.sandbox.config import SandboxConfig
from onetill.sandbox.state import SandboxStore
from sandbox_support import store_client
from support import RECORDED_STORE

pytestmark = pytest.mark.anyio
ORDERS = "/wp-json/wc/v3/orders"
REDUCED = 10


def _store(**settings: str) -> SandboxStore:
    """The recorded store with some settings changed (as the merchant would in wp-admin)."""
    store = SandboxStore.from_config(SandboxConfig(store_dir=RECORDED_STORE))
    for group in store.settings.values():
        for item in group:
            if item.get("id") in settings:
                item["value"] = settings[item["id"]]
    for key, value in settings.items():
        assert store.setting(key) == value, key
    return store


def _line(net: str, net_subtotal: str | None = None) -> dict[str, Any]:
    return {
        "product_id": REDUCED,
        "quantity": 1,
        "subtotal": net_subtotal or net,
        "total": net,
    }


async def _create(c: httpx2.AsyncClient, *lines: dict[str, Any]) -> dict[str, Any]:
    r = await c.post(ORDERS, json={"line_items": list(lines)})
    assert r.status_code == 201, r.text
    return dict(r.json())


def _places(value: str) -> int:
    return -Decimal(value).as_tuple().exponent  # type: ignore[operator]


async def test_zero_decimals_rounds_line_tax_half_down_and_prints_whole_numbers() -> None:
    """dp 0, prices incl. tax, per-line: tax 3.5 rounds half down to 3 (WC_TAX_ROUNDING_MODE
    auto), total = round(50 + 3) = 53; every order money field has no fraction."""
    store = _store(woocommerce_price_num_decimals="0", woocommerce_prices_include_tax="yes")
    async with store_client(store) as c:
        body = await _create(c, _line("50"))
    assert (body["total"], body["total_tax"], body["cart_tax"]) == ("53", "3", "3")
    line = body["line_items"][0]
    assert (line["subtotal"], line["total"], line["total_tax"]) == ("50", "50", "3")
    assert body["tax_lines"][0]["tax_total"] == "3"
    assert body["discount_total"] == "0" and body["shipping_total"] == "0"


async def test_zero_decimals_excluding_tax_rounds_line_tax_half_up() -> None:
    """dp 0, prices excl. tax: wc_round_tax_total rounds half up, so 3.5 -> 4, total 54."""
    store = _store(woocommerce_price_num_decimals="0", woocommerce_prices_include_tax="no")
    async with store_client(store) as c:
        body = await _create(c, _line("50"))
    assert (body["total"], body["total_tax"]) == ("54", "4")


async def test_zero_decimals_at_subtotal_keeps_raw_tax_and_rounds_total_half_up() -> None:
    """Rounding at subtotal: the line tax stays 3.5; total_tax = round(3.5) half up = 4
    (set_total_tax uses NumberUtil::round, not the tax mode) and total = round(53.5) = 54."""
    store = _store(
        woocommerce_price_num_decimals="0",
        woocommerce_prices_include_tax="yes",
        woocommerce_tax_round_at_subtotal="yes",
    )
    async with store_client(store) as c:
        body = await _create(c, _line("50"))
        again = (await c.get(f"{ORDERS}/{body['id']}", params={"dp": "2"})).json()
    assert (body["total"], body["total_tax"], body["cart_tax"]) == ("54", "4", "4")
    # The stored cart tax is the unrounded 3.5; only the printing rounds it.
    assert (again["cart_tax"], again["total_tax"], again["total"]) == ("3.50", "4.00", "54.00")


async def test_zero_decimals_rounds_each_line_net_before_summing() -> None:
    """round_item_subtotal: nets 50.4 and 50.4 are each rounded to 50 (total 100 + tax),
    and the discount is round(51 - 50) per line = 1 for a subtotal of 50.6."""
    store = _store(woocommerce_price_num_decimals="0", woocommerce_prices_include_tax="no")
    async with store_client(store) as c:
        body = await _create(c, _line("50.4", "50.6"), _line("50.4"))
    # Taxes: 3.528 -> 4 per line (half up) = 8; nets 50 + 50 = 100.
    assert (body["total"], body["total_tax"]) == ("108", "8")
    assert body["discount_total"] == "1"


async def test_three_decimals_rounds_tax_to_the_tenth_of_a_cent() -> None:
    """dp 3: 7 % of 0.05 is 0.0035 -> 0.003 (half down, prices incl. tax); total 0.053."""
    store = _store(woocommerce_price_num_decimals="3", woocommerce_prices_include_tax="yes")
    async with store_client(store) as c:
        body = await _create(c, _line("0.05"))
        excl = _store(woocommerce_price_num_decimals="3", woocommerce_prices_include_tax="no")
        async with store_client(excl) as c2:
            body_excl = await _create(c2, _line("0.05"))
    assert (body["total"], body["total_tax"]) == ("0.053", "0.003")
    assert body["line_items"][0]["total"] == "0.050"
    assert (body_excl["total"], body_excl["total_tax"]) == ("0.054", "0.004")


async def test_three_decimals_keeps_three_places_where_two_would_round() -> None:
    """A net of 19.9995 prints 20.000 at dp 3 and its 7 % tax 1.399965 is 1.400."""
    store = _store(woocommerce_price_num_decimals="3", woocommerce_prices_include_tax="no")
    async with store_client(store) as c:
        body = await _create(c, _line("19.9995"))
    line = body["line_items"][0]
    assert line["total"] == "20.000"  # 19.9995 half up at 3 places
    assert line["total_tax"] == "1.400"  # 1.399965
    assert body["total"] == "21.400"
    assert all(_places(body[k]) == 3 for k in ("total", "total_tax", "cart_tax", "discount_total"))


async def test_dp_parameter_reprints_stored_values() -> None:
    """?dp=N prints every order money field with N places from the unrounded stored values
    (the line net 177.981308 is stored, so dp=4 shows 177.9813); line taxes[] are untouched."""
    store = _store(woocommerce_prices_include_tax="yes")
    async with store_client(store) as c:
        body = await _create(c, _line("177.981308"))
        oid = body["id"]
        four = (await c.get(f"{ORDERS}/{oid}", params={"dp": "4"})).json()
        zero = (await c.get(f"{ORDERS}/{oid}", params={"dp": "0"})).json()
        listed = (await c.get(ORDERS, params={"include": str(oid), "dp": "3"})).json()[0]
        created = await c.post(ORDERS, params={"dp": "1"}, json={"line_items": [_line("1")]})
    assert body["line_items"][0]["total"] == "177.98"
    assert four["line_items"][0]["total"] == "177.9813"
    assert four["line_items"][0]["total_tax"] == "12.4600"  # 12.458692 rounded per line
    assert four["total"] == "190.4400"  # the order total is stored rounded to 2 places
    assert four["line_items"][0]["taxes"] == body["line_items"][0]["taxes"]
    assert four["tax_lines"][0]["tax_total"] == "12.4600"
    assert (zero["total"], zero["line_items"][0]["total"]) == ("190", "178")
    assert listed["total"] == "190.440"
    assert created.status_code == 201 and created.json()["total"] == "1.1"


async def test_dp_on_the_list_must_be_an_integer_single_reads_use_absint() -> None:
    """GET /orders declares dp as an integer (400 rest_invalid_param otherwise); a single
    order read passes dp through absint, so 'abc' means 0 places and -3 means 3."""
    store = _store()
    async with store_client(store) as c:
        body = await _create(c, _line("10"))
        bad = await c.get(ORDERS, params={"dp": "abc"})
        single = (await c.get(f"{ORDERS}/{body['id']}", params={"dp": "abc"})).json()
        negative = (await c.get(f"{ORDERS}/{body['id']}", params={"dp": "-3"})).json()
    assert bad.status_code == 400
    assert bad.json()["code"] == "rest_invalid_param"
    assert "dp" in bad.json()["message"]
    assert single["total"] == "11"
    assert negative["total"] == "10.700"


async def test_refund_amounts_use_the_price_decimals() -> None:
    """A refund on a dp-0 store is printed without fraction, on the refund and the order."""
    store = _store(woocommerce_price_num_decimals="0")
    async with store_client(store) as c:
        body = await _create(c, _line("50"))
        r = await c.post(
            f"{ORDERS}/{body['id']}/refunds", json={"amount": "10", "api_refund": False}
        )
        assert r.status_code == 201, r.text
        order = (await c.get(f"{ORDERS}/{body['id']}")).json()
    assert r.json()["amount"] == "10"
    assert order["refunds"][0]["total"] == "-10"
