"""The /__sandbox__/ control API: the rest of the world on demand, loopback clients only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest

from onetill.sandbox.config import SandboxConfig
from onetill.sandbox.control import build_control
from onetill.sandbox.cost import CostModel
from onetill.sandbox.faults import FaultInjector
from onetill.sandbox.state import SandboxStore
from support import RECORDED_STORE

pytestmark = pytest.mark.anyio


class _World:
    def __init__(self) -> None:
        self.store = SandboxStore.from_config(SandboxConfig(store_dir=RECORDED_STORE))
        self.faults = FaultInjector()
        self.cost = CostModel()
        self.app = build_control(self.store, self.faults, self.cost)

    def client(self, host: str = "127.0.0.1") -> httpx2.AsyncClient:
        transport = httpx2.ASGITransport(app=self.app, client=(host, 50000))
        return httpx2.AsyncClient(transport=transport, base_url="http://sandbox.test")


@pytest.fixture
def world() -> _World:
    return _World()


@pytest.fixture
async def control(world: _World) -> AsyncIterator[httpx2.AsyncClient]:
    async with world.client() as client:
        yield client


async def test_online_order_reduces_stock_and_is_listed(
    world: _World, control: httpx2.AsyncClient
) -> None:
    before = world.store.stock_of([10])[10]
    line_items = [{"product_id": 10, "quantity": 2}]
    response = await control.post("/orders", json={"line_items": line_items})
    assert response.status_code == 201
    order = response.json()
    assert order["status"] == "processing"
    stock = (await control.get("/stock", params={"ids": "10"})).json()
    assert stock == {"10": before - 2}
    listed = (await control.get("/orders")).json()
    assert [o["id"] for o in listed] == [order["id"]]
    assert "meta_data" in listed[0]


async def test_admin_edits_price_and_stock(world: _World, control: httpx2.AsyncClient) -> None:
    fields = {"regular_price": "7.77", "stock_quantity": 3}
    response = await control.put("/products/11", json=fields)
    assert response.status_code == 200
    assert response.json()["regular_price"] == "7.77"
    assert world.store.stock_of([11]) == {11: 3}


async def test_variation_change_goes_through_the_variations_route(
    world: _World, control: httpx2.AsyncClient
) -> None:
    variation_id = next(iter(world.store.variations))
    response = await control.put(f"/variations/{variation_id}", json={"regular_price": "3.30"})
    assert response.status_code == 200
    assert response.json()["regular_price"] == "3.30"


async def test_trash_then_force_delete(world: _World, control: httpx2.AsyncClient) -> None:
    trashed = await control.delete("/products/12")
    assert trashed.status_code == 200
    assert world.store.products[12].data["status"] == "trash"
    gone = await control.delete("/products/12", params={"force": "true"})
    assert gone.status_code == 200
    assert world.store.find(12) is None
    again = await control.put("/products/12", json={"regular_price": "1.00"})
    assert again.status_code == 404
    assert "12" in again.json()["error"]


async def test_faults_are_added_listed_and_cleared(
    world: _World, control: httpx2.AsyncClient
) -> None:
    added = await control.post("/faults", json={"spec": "POST /orders*:commit_drop@nth=2"})
    assert added.status_code == 201
    assert added.json()[0]["kind"] == "commit_drop"
    listed = (await control.get("/faults")).json()
    assert [rule["rule"] for rule in listed] == ["POST /orders*:commit_drop@nth=2"]
    cleared = await control.delete("/faults")
    assert cleared.json() == {"removed": 1}
    assert world.faults.rules == []


async def test_one_fault_rule_is_cleared_by_id(world: _World, control: httpx2.AsyncClient) -> None:
    first, second = (await control.post("/faults", json={"spec": "/a:reset;/b:reset"})).json()
    await control.delete(f"/faults/{first['id']}")
    assert [rule.id for rule in world.faults.rules] == [second["id"]]


async def test_a_bad_fault_spec_says_what_is_wrong(control: httpx2.AsyncClient) -> None:
    response = await control.post("/faults", json={"spec": "/orders:explode"})
    assert response.status_code == 400
    assert "unknown fault kind 'explode'" in response.json()["error"]


async def test_clock_offset_moves_the_server_clock(
    world: _World, control: httpx2.AsyncClient
) -> None:
    before = world.store.now()
    response = await control.put("/clock", json={"offset_s": -3600})
    assert response.status_code == 200
    assert before - 3600 - 2 <= world.store.now() <= before - 3600 + 2


async def test_revoked_key_no_longer_exists(world: _World, control: httpx2.AsyncClient) -> None:
    (key,) = world.store.keyring.keys
    response = await control.post("/keys/revoke", json={"key": key})
    assert response.status_code == 200
    assert world.store.keyring.secret_of(key) is None


async def test_cost_counters_are_read_then_reset(
    world: _World, control: httpx2.AsyncClient
) -> None:
    world.cost.counters.requests = 4
    assert (await control.delete("/cost")).json()["requests"] == 4
    assert (await control.get("/cost")).json()["requests"] == 0


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [
        ("POST", "/orders", {}, 400, "line_items"),
        ("POST", "/orders", "not json", 400, "not valid JSON"),
        ("PUT", "/products/10", {}, 400, "v3 fields"),
        ("PUT", "/products/999999", {"regular_price": "1.00"}, 404, "999999"),
        ("GET", "/stock?ids=10,x", None, 400, "comma list of integers"),
        ("PUT", "/clock", {"offset_s": "soon"}, 400, "offset_s"),
        ("POST", "/keys/revoke", {}, 400, "key"),
        ("POST", "/faults", {"rules": "x"}, 400, "spec"),
    ],
)
async def test_bad_control_calls_get_a_clear_error(
    control: httpx2.AsyncClient, method: str, path: str, body: Any, status: int, message: str
) -> None:
    if isinstance(body, str):
        response = await control.request(method, path, content=body)
    else:
        response = await control.request(method, path, json=body)
    assert response.status_code == status
    assert message in response.json()["error"]


@pytest.mark.parametrize("host", ["203.0.113.7", "192.168.1.20", "10.0.0.2", "testclient"])
async def test_non_loopback_clients_are_refused(world: _World, host: str) -> None:
    async with world.client(host) as client:
        response = await client.post("/orders", json={"line_items": [{"product_id": 10}]})
    assert response.status_code == 403
    assert "loopback" in response.json()["error"]
    assert world.store.list_orders() == []


async def test_ipv6_loopback_is_allowed_and_sees_the_summary(world: _World) -> None:
    world.faults.add("/orders:reset")
    async with world.client("::1") as client:
        response = await client.get("/")
    assert response.status_code == 200
    summary = response.json()
    assert summary["now"] == pytest.approx(world.store.now(), abs=2)
    assert summary["orders"] == 0
    assert [rule["kind"] for rule in summary["faults"]] == ["reset"]
    assert summary["cost"]["requests"] == 0


async def test_a_tax_rate_edited_in_wp_admin_is_what_the_store_lists_afterwards(
    world: _World, control: httpx2.AsyncClient
) -> None:
    """The chaos workload's online shop changes tax rates through this route."""
    rate_id = int(world.store.taxes[0]["id"])
    response = await control.put(f"/taxes/{rate_id}", json={"rate": "7.0000"})
    assert response.status_code == 200
    assert response.json()["rate"] == "7.0000"
    listed = {int(t["id"]): t["rate"] for t in world.store.taxes}
    assert listed[rate_id] == "7.0000"
    unknown = await control.put("/taxes/999999", json={"rate": "7.0000"})
    assert unknown.status_code == 404 and "999999" in unknown.json()["error"]
    empty = await control.put(f"/taxes/{rate_id}", json={})
    assert empty.status_code == 400
