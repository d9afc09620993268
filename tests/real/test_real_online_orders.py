"""Online-shop orders and refunds in the real store move the till's stock within one poll."""

from __future__ import annotations

from typing import Any

import pytest

from onetill.sync.catalog import delta_sync
from real.real_support import Admin, Till

pytestmark = [pytest.mark.real, pytest.mark.anyio]


async def poll(till: Till) -> None:
    async with till.client() as client:
        await delta_sync(client, till.db)


def online_order(admin: Admin, lines: list[dict[str, Any]]) -> dict[str, Any]:
    """A paid web-shop checkout (``processing``): WooCommerce reduces stock in the request."""
    return dict(
        admin.post(
            "orders",
            {"set_paid": True, "created_via": "checkout", "payment_method": "bacs",
             "billing": {"country": "DE"}, "line_items": lines},
        )
    )  # fmt: skip


async def test_an_online_order_reduces_the_tills_stock_within_one_poll(
    till: Till, admin: Admin
) -> None:
    """A simple product, a variation with its own stock and one whose stock is its parent's."""
    before = {i: till.stock(i) for i in (21, 313, 405, 406)}
    assert before[405] == before[406]  # VAR-20 manages stock at the parent
    order = online_order(
        admin,
        [{"product_id": 21, "quantity": 2},
         {"product_id": 310, "variation_id": 313, "quantity": 1},
         {"product_id": 405, "variation_id": 406, "quantity": 3}],
    )  # fmt: skip
    assert order["status"] == "processing"
    store = {i: admin.stock(i) for i in (21, 313, 405)}
    assert store == {21: before[21] - 2, 313: before[313] - 1, 405: before[405] - 3}
    await poll(till)
    assert {i: till.stock(i) for i in (21, 313, 405)} == store
    assert till.stock(406) == store[405]  # the variation shows its parent's stock


async def test_a_refund_with_restock_raises_the_tills_stock_within_one_poll(
    till: Till, admin: Admin
) -> None:
    order = online_order(admin, [{"product_id": 22, "quantity": 3}])
    await poll(till)
    sold = till.stock(22)
    line = order["line_items"][0]
    admin.post(
        f"orders/{order['id']}/refunds",
        {"amount": line["total"], "api_refund": False, "restock_items": True,
         "line_items": [{"id": line["id"], "quantity": 2,
                         "refund_total": line["total"], "refund_tax": []}]},
    )  # fmt: skip
    assert admin.stock(22) == sold + 2
    await poll(till)
    assert till.stock(22) == sold + 2
