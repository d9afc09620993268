"""The status tells the truth: a failing initial sync is not "online", a skewed clock is
not "keys rejected", the running engine says it runs, a blocked queue says since when and
why, and without an engine nobody claims the store is online."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
import pytest
from click.testing import CliRunner

from engine.engine_support import connect_home
from engine.test_runtime import fast_settings, sell_one, status, until_status
from onetill.cli import cli
from onetill.config import Config, save_config
from onetill.engine.connectivity import ConnectivityMonitor, State
from onetill.engine.jobs import build_client
from onetill.engine.runtime import Engine
from onetill.sandbox import SandboxConfig, create_app
from onetill.store.sync_state import set_state
from support import RECORDED_STORE
from till_support import seeded_db

pytestmark = pytest.mark.anyio


class _TaxesRefused(httpx2.AsyncBaseTransport):
    """The real network to the store, except that the tax rates answer a WooCommerce JSON
    400: the store answers properly, yet the initial sync fails on every tick."""

    def __init__(self) -> None:
        self.inner = httpx2.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.method == "GET" and request.url.path.endswith("/wc/v3/taxes"):
            return httpx2.Response(400, json={
                "code": "rest_invalid_param", "message": "Invalid parameter(s): per_page",
                "data": {"status": 400},
            })  # fmt: skip
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_an_initial_sync_failing_every_tick_is_degraded_with_the_reason(
    tmp_path: Path, start_sandbox: Callable[..., Any]
) -> None:
    server = start_sandbox(products=8, seed=4)
    home = tmp_path / "home"
    home.mkdir()
    settings = fast_settings(home)
    settings.delta_interval_s = 0.3
    engine = Engine(settings, config=connect_home(home, server.url), transport=_TaxesRefused())
    task = asyncio.create_task(engine.run())
    try:
        await asyncio.wait_for(engine.started.wait(), 30)
        assert engine.url is not None
        async with httpx2.AsyncClient(base_url=engine.url, timeout=10, trust_env=False) as http:
            current = await until_status(http, lambda s: s["state"] == "degraded")
            assert "delta fails" in current["state_reason"]
            assert "400" in current["state_reason"]
            assert current["initial_sync_done"] is False
            assert current["engine"]["running"] is True  # the engine runs, whatever it does
    finally:
        engine.request_stop()
        await asyncio.wait_for(task, 15)


async def test_a_till_clock_an_hour_off_is_not_reported_as_rejected_keys() -> None:
    """OAuth store an hour ahead: the first request is refused for its timestamp and resent
    signed with the store's time. The monitor never says the keys were rejected."""
    config = SandboxConfig(store_dir=RECORDED_STORE, clock_offset_s=3600)
    app = create_app(config)
    key, secret = next(iter(config.keys.items()))
    monitor = ConnectivityMonitor(lambda: asyncio.sleep(0))
    changes: list[tuple[State, str]] = []
    monitor.add_listener(lambda _old, new: changes.append((new, monitor.reason)))
    till = Config(url=config.home_url, key=key, secret=secret)
    client = build_client(till, observe=monitor.observe, transport=httpx2.ASGITransport(app=app))
    try:
        response = await client.get("products", {"per_page": 1})
        assert response.status == 200
        assert client.clock_skew_s is not None and client.clock_skew_s > 3500
    finally:
        await client.aclose()
        await app.state.sandbox.aclose()
    assert changes == [] and monitor.state is State.ONLINE


async def test_a_paused_queue_is_shown_blocked_since_when_and_why(
    tmp_path: Path, start_sandbox: Callable[..., Any]
) -> None:
    """Keys revoked with a sale queued: /api/status says the queue is blocked, since when
    (store time), because the keys were rejected, and names the order."""
    server = start_sandbox(products=8, seed=4)
    home = tmp_path / "home"
    home.mkdir()
    settings = fast_settings(home)
    settings.delta_interval_s = 0.5  # the poll interval the head may sit still for
    engine = Engine(settings, config=connect_home(home, server.url))
    task = asyncio.create_task(engine.run())
    try:
        await asyncio.wait_for(engine.started.wait(), 30)
        assert engine.url is not None and engine.db is not None
        async with httpx2.AsyncClient(base_url=engine.url, timeout=10, trust_env=False) as http:
            await until_status(http, lambda s: s["initial_sync_done"])
            server.control.revoke_key(engine.config.key)
            uuid = sell_one(engine.db, engine.config.timezone, engine.config.till_id)
            engine.notify_sale()
            current = await until_status(http, lambda s: s["queue_blocked"] is not None)
            blocked = current["queue_blocked"]
            assert blocked["uuid"] == uuid and "rejected the API keys" in blocked["reason"]
            assert blocked["since"].endswith("Z")
            assert (await status(http))["engine"]["running"] is True
    finally:
        engine.request_stop()
        await asyncio.wait_for(task, 15)


def test_without_an_engine_the_status_says_so_and_when_the_store_last_answered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last sync recorded "online", no engine runs and the store is unreachable: the
    status does not say online; it says the engine is not running and when the store last
    answered, beside the queued sales."""
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    save_config(tmp_path, Config(url="http://127.0.0.1:9", key="ck_x", secret="cs_x"))
    with seeded_db(tmp_path / "onetill.db") as db:
        with db.write() as conn:
            set_state(conn, "catalog.state", "online")
            set_state(conn, "catalog.last_sync_at", "2026-11-26T15:30:06")
        from till_support import sell

        sell(db, "SIMPLE-001")
    text = CliRunner().invoke(cli, ["status", "--home", str(tmp_path)]).output
    assert "online" not in text.splitlines()[0], text
    assert "engine not running" in text
    assert "last contact   2026-11-26T15:30:06Z (store time; the store was online)" in text
    assert "pending orders 1" in text
