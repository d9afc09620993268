"""Property: WooCommerce's per-line tax arithmetic keeps an order within a cent per line of its
gross prices, and its totals always add up (prices entered incl. tax, recorded store)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from onetill.sandbox import checkout
from onetill.sandbox.config import SandboxConfig
from onetill.sandbox.serialize import order_json
from onetill.sandbox.state import SandboxStore
from support import RECORDED_STORE

STORE = SandboxStore.from_config(SandboxConfig(store_dir=RECORDED_STORE))
SIMPLE_IDS = sorted(i for i, p in STORE.products.items() if p.data["type"] == "simple")

lines = st.lists(
    st.tuples(st.sampled_from(SIMPLE_IDS), st.integers(min_value=1, max_value=40)),
    min_size=1,
    max_size=6,
)


@settings(max_examples=60, deadline=None)
@given(lines)
def test_order_totals_add_up_and_stay_within_a_cent_per_line(cart: list[tuple[int, int]]) -> None:
    """total == net lines + tax; |total - gross| <= 0.01 per line; tax lines sum to total_tax."""
    order = checkout.create_order(
        STORE, {"line_items": [{"product_id": p, "quantity": q} for p, q in cart]}
    )
    body = order_json(STORE, order)
    gross = sum((Decimal(STORE.products[p].data["price"]) * q for p, q in cart), Decimal(0))
    total = Decimal(body["total"])
    nets = sum((Decimal(li["total"]) for li in body["line_items"]), Decimal(0))
    assert total == nets + Decimal(body["total_tax"])
    assert abs(total - gross) <= Decimal("0.01") * len(cart)
    assert sum((Decimal(t["tax_total"]) for t in body["tax_lines"]), Decimal(0)) == Decimal(
        body["total_tax"]
    )
    assert body["status"] == "pending"  # nothing paid: no stock moved
