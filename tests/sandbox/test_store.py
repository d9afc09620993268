"""The SandboxStore itself: recorded and generated catalogs, persistence, control methods."""

from __future__ import annotations

from pathlib import Path

import pytest

from onetill.sandbox.catalog import is_on_sale
from onetill.sandbox.config import SandboxConfig
from onetill.sandbox.generator import ean13
from onetill.sandbox.state import SandboxStore
from sandbox_support import store_client
from support import RECORDED_STORE, load_fixture


def test_recorded_store_loads_with_identical_ids_and_values() -> None:
    """ids 10-309 simple, 310-405 variable, 81 variations; values as recorded."""
    store = SandboxStore.from_config(SandboxConfig(store_dir=RECORDED_STORE))
    simple = load_fixture("product-simple.json")["response"]["body"]
    assert len(store.products) == 320 and len(store.variations) == 81
    assert store.products[10].data["sku"] == simple["sku"]
    assert (
        store.children[310]
        == load_fixture("product-variable.json")["response"]["body"]["variations"]
    )
    assert store.counters["post"] == 410


def test_generated_catalog_is_deterministic_and_varied() -> None:
    """Same seed, same store; it has drafts, sales with windows, zero and unmanaged stock, both
    tax classes, EAN-13 barcodes and variable products with 2-6 variations, some parent-managed."""

    def build(seed: int) -> SandboxStore:
        return SandboxStore.from_config(
            SandboxConfig(products=600, variable=30, seed=seed), clock=lambda: 1_795_707_684
        )

    a, b, c = build(7), build(7), build(8)
    assert [p.data for p in a.products.values()] == [p.data for p in b.products.values()]
    assert [p.data["name"] for p in a.products.values()] != [
        p.data["name"] for p in c.products.values()
    ]
    data = [p.data for p in a.products.values()]
    assert len(a.products) == 630
    assert any(d["status"] == "draft" for d in data)
    assert any(d["sale_price"] for d in data)
    now = 1_795_707_684
    assert any((p.meta.get("sale_to") or now) < now for p in a.products.values())  # sale over
    assert any((p.meta.get("sale_from") or 0) > now for p in a.products.values())  # not yet
    assert any(
        a.products[i].data["sale_price"] and is_on_sale(a, a.products[i]) for i in a.products
    )
    assert any(d.get("stock_quantity") == 0 and d["manage_stock"] for d in data)
    assert any(not d["manage_stock"] and d["type"] == "simple" for d in data)
    assert {d["tax_class"] for d in data} >= {"", "reduced-rate"}
    assert all(
        len(a.children[p.id]) in range(2, 7)
        for p in a.products.values()
        if p.data["type"] == "variable"
    )
    assert any(
        a.stock_of([v])[v] is not None and not a.variations[v].data["manage_stock"]
        for v in a.variations
    )  # parent-managed variations exist
    gtin = data[0]["global_unique_id"]
    assert len(gtin) == 13 and ean13(1) == gtin


@pytest.mark.anyio
async def test_state_file_survives_a_restart(tmp_path: Path) -> None:
    """With state_file, orders, stock, trash and webhooks are all there after a restart."""
    config = SandboxConfig(store_dir=RECORDED_STORE, state_file=tmp_path / "store.sqlite")
    first = SandboxStore.from_config(config)
    async with store_client(first) as c:
        order = (
            await c.post(
                "/wp-json/wc/v3/orders",
                json={
                    "status": "completed",
                    "meta_data": [{"key": "_uuid", "value": "abc"}],
                    "line_items": [{"product_id": 40, "quantity": 2}],
                },
            )
        ).json()
        await c.delete("/wp-json/wc/v3/products/30")
        await c.post(
            "/wp-json/wc/v3/webhooks",
            json={"topic": "order.created", "delivery_url": "http://127.0.0.1:9/x", "secret": "s"},
        )
    await first.aclose()
    second = SandboxStore.from_config(config)
    try:
        assert second.stock_of([40]) == {40: 161}
        assert second.list_orders()[0]["meta_data"][0]["value"] == "abc"
        assert second.products[30].data["status"] == "trash"
        assert len(second.webhooks) == 1 and second.webhooks[1].meta["secret"] == "s"
        async with store_client(second) as c:
            nxt = (await c.post("/wp-json/wc/v3/orders", json={})).json()
        assert nxt["id"] == order["id"] + 1  # the id sequence continues
    finally:
        await second.aclose()


def test_control_methods_edit_trash_and_force_delete() -> None:
    """admin_update_product (product or variation), trash_product and force_delete_product."""
    store = SandboxStore.from_config(SandboxConfig(store_dir=RECORDED_STORE))
    edited = store.admin_update_product(312, {"regular_price": "1.23", "stock_quantity": 4})
    assert (edited["regular_price"], edited["stock_quantity"], edited["type"]) == (
        "1.23",
        4,
        "variation",
    )
    assert store.trash_product(20)["status"] == "publish"
    assert store.products[20].data["status"] == "trash"
    store.force_delete_product(21)
    assert 21 not in store.products
    with pytest.raises(KeyError):
        store.trash_product(999999)


def test_generated_objects_have_the_recorded_shapes() -> None:
    """Generated products and variations have every recorded key, with the same JSON types."""
    from onetill.sandbox.serialize import item_json
    from sandbox_support import shape_differences

    store = SandboxStore.from_config(SandboxConfig(products=40, variable=5, seed=3))
    simple = next(p for p in store.products.values() if p.data["type"] == "simple")
    variable = next(p for p in store.products.values() if p.data["type"] == "variable")
    own = next(v for v in store.variations.values() if v.data["manage_stock"])
    cases = [("product-simple.json", simple), ("product-variable.json", variable),
             ("product-variations-of-310.json", own)]  # fmt: skip
    for name, item in cases:
        recorded = load_fixture(name)["response"]["body"]
        recorded = recorded[0] if isinstance(recorded, list) else recorded
        differences = shape_differences(recorded, item_json(store, item))
        assert [d for d in differences if "related_ids" not in d] == [], name


def test_secrets_stay_out_of_reprs() -> None:
    """Key secrets and webhook secrets never show in the repr of the keyring or of a record."""
    from onetill.sandbox.records import WEBHOOK, Item

    store = SandboxStore.from_config(SandboxConfig(keys={"ck_a": "cs_topsecret"}))
    hook = Item(WEBHOOK, 1, {"topic": "order.created"}, 0, 0, {"secret": "whsec_topsecret"})
    assert "topsecret" not in repr(store.keyring)
    assert "topsecret" not in repr(hook)
