"""The sandbox's companion plugin (plugin=True): the behaviours the engine will rely on.

Shapes and error codes are held to the real plugin by the contract test; these
check what the sandbox does with them: which changes are journaled, that a key
gives one order, the sale date, stock adjustments, webhooks, and a restart.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest
from starlette.applications import Starlette

from onetill.sandbox import create_app
from onetill.sandbox.config import DEFAULT_KEY, DEFAULT_SECRET, SandboxConfig
from onetill.sandbox.server import SandboxProcess, running_sandbox
from onetill.sandbox.state import SandboxStore
from onetill.woo import WooClient
from onetill.woo.errors import NoRouteError, WooAPIError
from support import RECORDED_STORE

pytestmark = pytest.mark.anyio
NS = "wc-onetill/v1"


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(store_dir=RECORDED_STORE, webhook_delay_s=0.05, plugin=True)


@pytest.fixture
async def client(sandbox_app: Starlette) -> AsyncIterator[WooClient]:
    transport = httpx2.ASGITransport(app=sandbox_app)
    async with WooClient(
        "http://sandbox.test", DEFAULT_KEY, DEFAULT_SECRET, transport=transport
    ) as c:
        yield c


async def plugin(c: WooClient, method: str, path: str, params: Any = None, **kw: Any) -> Any:
    return (await c.request(method, path, params, namespace=NS, **kw)).data


async def since(c: WooClient, after: int) -> list[tuple[str, int, int, str]]:
    body = await plugin(c, "GET", "changes", {"after": after})
    return [(ch["type"], ch["id"], ch["parent_id"], ch["op"]) for ch in body["changes"]]


async def test_discovery_finds_the_plugin_and_the_journal_starts_empty(client: WooClient) -> None:
    assert (await client.discover()).plugin
    status = await plugin(client, "GET", "status")
    assert status["journal"]["head"] == 0 and status["plugin_version"] == "1.0.0"


async def test_without_the_plugin_its_routes_do_not_exist() -> None:
    app = create_app(SandboxConfig(store_dir=RECORDED_STORE))
    transport = httpx2.ASGITransport(app=app)
    async with WooClient(
        "http://sandbox.test", DEFAULT_KEY, DEFAULT_SECRET, transport=transport
    ) as c:
        assert not (await c.discover()).plugin
        with pytest.raises(NoRouteError):
            await c.request("GET", "status", namespace=NS)
    await app.state.sandbox.aclose()


async def test_edits_online_sales_trash_and_force_deletes_are_journaled(
    client: WooClient, sandbox_store: SandboxStore
) -> None:
    """REST edits, admin edits, an online order, a trash and force deletes (a variable product
    with its variations) each leave rows; a setting change names its option."""
    await client.put("products/10", json={"regular_price": "9.99"})
    sandbox_store.admin_update_product(311, {"regular_price": "8.00"})
    sandbox_store.place_online_order([{"product_id": 12, "quantity": 1}])
    sandbox_store.trash_product(13)
    sandbox_store.force_delete_product(14)
    await client.delete("products/310", {"force": "true"})
    await client.put("settings/general/woocommerce_price_num_decimals", json={"value": "2"})
    rows = await since(client, 0)
    assert ("product", 10, 0, "upsert") in rows
    assert ("variation", 311, 310, "upsert") in rows
    assert ("product", 12, 0, "upsert") in rows
    assert ("product", 13, 0, "upsert") in rows
    assert ("product", 14, 0, "delete") in rows
    assert {("variation", v, 310, "delete") for v in (311, 312, 313, 314)} <= set(rows)
    assert ("product", 310, 0, "delete") in rows
    body = await plugin(client, "GET", "changes", {"after": 0})
    assert body["changes"][-1]["key"] == "woocommerce_price_num_decimals"


async def test_paging_rebaseline_and_pruning(
    client: WooClient, sandbox_store: SandboxStore
) -> None:
    for pid in (20, 21, 22):
        sandbox_store.admin_update_product(pid, {"regular_price": "1.00"})
    first = await plugin(client, "GET", "changes", {"after": 0, "limit": 2})
    assert [c["id"] for c in first["changes"]] == [20, 21] and first["more"] is True
    assert first["next"] == 2
    assert sandbox_store.plugin is not None
    sandbox_store.plugin.journal.prune(-60)  # a cutoff in the future: all but the newest
    with pytest.raises(WooAPIError) as caught:
        await plugin(client, "GET", "changes", {"after": 0})
    assert (caught.value.status, caught.value.code) == (410, "onetill_journal_rebaseline")
    assert caught.value.data["reason"] == "expired" and caught.value.data["head"] == 3
    assert await since(client, 2) == [("product", 22, 0, "upsert")]


async def test_one_key_one_order_with_the_sale_date(
    client: WooClient, sandbox_store: SandboxStore
) -> None:
    key = str(uuid.uuid4())
    sold = datetime.fromtimestamp(sandbox_store.now(), UTC) - timedelta(days=2)
    body = {
        "set_paid": True,
        "status": "completed",
        "line_items": [{"product_id": 30, "quantity": 2}],
        "meta_data": [{"key": "_onetill_sold_at", "value": sold.strftime("%Y-%m-%dT%H:%M:%SZ")}],
    }
    headers = {"Idempotency-Key": key}
    stock = sandbox_store.stock_of([30])[30]
    first = await client.request("POST", "orders", json=body, namespace=NS, headers=headers)
    second = await client.request("POST", "orders", json=body, namespace=NS, headers=headers)
    assert (first.status, second.status) == (201, 200)
    assert second.headers["Idempotent-Replayed"] == "true"
    assert first.data["id"] == second.data["id"]
    assert first.data["date_created_gmt"] == sold.strftime("%Y-%m-%dT%H:%M:%S")
    assert first.data["date_completed_gmt"] == first.data["date_created_gmt"]
    assert sandbox_store.stock_of([30])[30] == stock - 2
    assert len(sandbox_store.orders) == 1
    with pytest.raises(WooAPIError) as caught:
        await client.request(
            "POST", "orders", json={**body, "set_paid": False}, namespace=NS, headers=headers
        )
    assert (caught.value.status, caught.value.code) == (422, "onetill_idempotency_key_reused")


async def test_a_refused_order_keeps_no_key(client: WooClient) -> None:
    key = str(uuid.uuid4())
    headers = {"Idempotency-Key": key}
    with pytest.raises(WooAPIError) as caught:
        await client.request(
            "POST", "orders", json={"status": "sold"}, namespace=NS, headers=headers
        )
    assert caught.value.code == "rest_invalid_param"
    ok = await client.request(
        "POST", "orders", json={"status": "pending"}, namespace=NS, headers=headers
    )
    assert ok.status == 201


async def test_stock_adjust_moves_the_stock_holder_once(
    client: WooClient, sandbox_store: SandboxStore
) -> None:
    body = {"adjustments": [{"id": 406, "delta": 4, "key": "goods-in-0001"}]}
    before = sandbox_store.stock_of([405])[405]
    first = await plugin(client, "POST", "stock/adjust", json=body)
    again = await plugin(client, "POST", "stock/adjust", json=body)
    assert first["adjustments"][0]["stock_item_id"] == 405
    assert [first["adjustments"][0]["replayed"], again["adjustments"][0]["replayed"]] == [
        False,
        True,
    ]
    assert sandbox_store.stock_of([405])[405] == before + 4


async def test_webhooks_ensure_never_duplicates(
    client: WooClient, sandbox_store: SandboxStore
) -> None:
    ask = {"delivery_url": "http://127.0.0.1:9/hooks", "secret": "secret-123"}
    await plugin(client, "POST", "webhooks/ensure", json=ask)
    sandbox_store.webhooks[min(sandbox_store.webhooks)].data["status"] = "disabled"
    again = await plugin(client, "POST", "webhooks/ensure", json=ask)
    assert len(sandbox_store.webhooks) == 6
    assert sorted(h["action"] for h in again["webhooks"]) == ["reactivated"] + ["updated"] * 5
    assert all(h.data["status"] == "active" for h in sandbox_store.webhooks.values())


async def test_a_restart_keeps_the_keys_and_starts_a_new_epoch(tmp_path: Path) -> None:
    """The state file keeps orders and their keys (no duplicate after a restart); the journal
    is lost, so its epoch changes and a till re-baselines."""
    state = tmp_path / "store.sqlite"
    key = str(uuid.uuid4())
    headers = {"Idempotency-Key": key}
    order = {"line_items": [{"product_id": 40, "quantity": 1}]}
    epochs, ids = [], []
    config = SandboxConfig(store_dir=RECORDED_STORE, plugin=True, state_file=state)
    for _ in range(2):
        with running_sandbox(config) as srv:
            async with WooClient(srv.url, srv.key, srv.secret) as c:
                r = await c.request("POST", "orders", json=order, namespace=NS, headers=headers)
                ids.append(r.data["id"])
                epochs.append((await plugin(c, "GET", "status"))["journal"]["epoch"])
    assert ids[0] == ids[1]
    assert epochs[0] != epochs[1]


async def test_onetill_sandbox_plugin_serves_the_routes() -> None:
    """`onetill sandbox --plugin` (a separate process) lists the namespace and answers status."""
    proc = SandboxProcess(["--store", str(RECORDED_STORE), "--plugin"])
    url = proc.start()
    try:
        async with WooClient(url, DEFAULT_KEY, DEFAULT_SECRET) as c:
            assert (await c.discover()).plugin
            assert (await plugin(c, "GET", "status"))["journal"]["head"] == 0
    finally:
        proc.stop()
