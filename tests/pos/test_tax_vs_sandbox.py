"""Differential check: the till's totals equal the sandbox store's, for many random carts.

The sandbox implements WooCommerce's order arithmetic on its own (it shares
no code with ``onetill.pos``), so agreement on hundreds of carts, with
prices entered with and without tax, is evidence that neither has a
rounding slip the eleven recorded orders happen not to exercise.
"""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path

import pytest

from onetill.pos.cart import Cart
from till_support import close_rig, make_rig, store_with_settings

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("at_subtotal", ["no", "yes"])
@pytest.mark.parametrize("decimals", ["2", "0", "3"])
@pytest.mark.parametrize("include_tax", ["yes", "no"])
async def test_random_carts_total_like_the_store(
    tmp_path: Path, include_tax: str, decimals: str, at_subtotal: str
) -> None:
    """200 random carts (1-6 lines, 1-9 units, both classes, sale prices, variations),
    for stores with 2, 0 and 3 price decimals (``woocommerce_price_num_decimals``), taxes
    rounded per line or at subtotal (``woocommerce_tax_round_at_subtotal``)."""
    folder = store_with_settings(
        tmp_path,
        woocommerce_prices_include_tax=include_tax,
        woocommerce_price_num_decimals=decimals,
        woocommerce_tax_round_at_subtotal=at_subtotal,
    )
    rig = make_rig(tmp_path, store_dir=folder)
    try:
        ids = [
            int(row[0])
            for row in rig.db.conn.execute(
                "SELECT id FROM products WHERE sellable = 1 AND type IN ('simple', 'variation')"
            )
        ]
        places = int(decimals)
        seed = f"tax-{include_tax}" if places == 2 else f"tax-{include_tax}-{places}"
        rng = random.Random(seed if at_subtotal == "no" else f"{seed}-subtotal")
        for _ in range(200):
            cart = Cart(rig.db.conn)
            for item in rng.sample(ids, rng.randint(1, 6)):
                cart.add_id(item, rng.randint(1, 9))
            mine = cart.totals()
            lines = [
                {"product_id": line.product_id, "variation_id": line.variation_id,
                 "quantity": line.quantity}
                for line in cart.lines
            ]  # fmt: skip
            answer = (await rig.client.post("orders", json={"line_items": lines})).data
            assert answer["prices_include_tax"] is (include_tax == "yes")
            cart_desc = [(line.item_id, line.quantity) for line in cart.lines]
            assert Decimal(answer["total"]) == mine.total, cart_desc
            assert Decimal(answer["total_tax"]) == mine.total_tax, cart_desc
            # WooCommerce prints order money with the store's decimals (dp default).
            assert -Decimal(answer["total"]).as_tuple().exponent == places, answer["total"]
            assert mine.total == mine.total.quantize(Decimal(1).scaleb(-places)), mine.total
    finally:
        await close_rig(rig)
