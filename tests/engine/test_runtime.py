"""The engine in-process against a real sandbox server: start-up sync, status API and stream,
sales woken from another connection, degraded keys, secret rotation, clean stop."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx2
import pytest

from engine.engine_support import connect_home, signed
from onetill.config import save_config
from onetill.engine.runtime import Engine, EngineSettings
from onetill.engine.status import ENGINE_INFO_FILENAME, engine_url
from onetill.pos.cart import Cart
from onetill.pos.sale import record_sale
from onetill.pos.tender import Payment
from onetill.store import Database


def fast_settings(home: Path) -> EngineSettings:
    return EngineSettings(
        home=home, port=0, delta_interval_s=600, probe_min_s=0.1, probe_max_s=0.5,
        idle_probe_s=0.3, outbox_poll_s=0.05, drain_settle_s=0.5, grace_s=3,
        status_refresh_s=0.1,
        # A lost upload that the store never saw is resent after a second, not two minutes.
        drain_min_resend_age_s=1.0,
    )


@pytest.fixture
async def running(
    tmp_path: Path, start_sandbox: Callable[..., Any]
) -> AsyncIterator[tuple[Engine, Any, httpx2.AsyncClient]]:
    server = start_sandbox(products=8, variable=1, seed=2)
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    config = connect_home(home, server.url)
    engine = Engine(fast_settings(home), config=config)
    task = asyncio.create_task(engine.run())
    await asyncio.wait_for(engine.started.wait(), 30)
    assert engine.url is not None
    async with httpx2.AsyncClient(base_url=engine.url, timeout=10, trust_env=False) as http:
        yield engine, server, http
    engine.request_stop()
    await asyncio.wait_for(task, 15)


async def status(http: httpx2.AsyncClient) -> dict[str, Any]:
    response = await http.get("/api/status")
    response.raise_for_status()
    data: dict[str, Any] = response.json()
    return data


async def until_status(http: httpx2.AsyncClient, check: Callable[[dict[str, Any]], bool],
                       within: float = 10.0) -> dict[str, Any]:
    last: dict[str, Any] = {}
    for _ in range(int(within / 0.05)):
        last = await status(http)
        if check(last):
            return last
        await asyncio.sleep(0.05)
    raise AssertionError(f"status never matched: {last}")


def sell_one(db: Database, timezone: str, till_id: str) -> str:
    row = db.conn.execute(
        "SELECT sku FROM products WHERE type = 'simple' AND sellable = 1 AND sku != ''"
        " ORDER BY id LIMIT 1"
    ).fetchone()
    cart = Cart(db.conn, timezone=timezone)
    cart.add(str(row[0]), 1)
    return record_sale(db, cart, Payment("cash"), till_id=till_id).uuid


@pytest.mark.anyio
async def test_fresh_home_is_synced_at_start_and_status_is_served(running: Any) -> None:
    engine, _, http = running
    current = await until_status(http, lambda s: s["initial_sync_done"])
    assert current["state"] == "online" and current["products"] > 0
    assert current["engine"]["url"] == engine.url
    assert engine_url(engine.home) == engine.url
    page = await http.get("/")
    assert page.status_code == 200 and "OneTill" in page.text


@pytest.mark.anyio
async def test_status_stream_pushes_changes(running: Any) -> None:
    engine, server, http = running
    await until_status(http, lambda s: s["initial_sync_done"])
    seen: list[dict[str, Any]] = []
    async with http.stream("GET", "/api/status/stream") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        async for line in response.aiter_lines():
            if not line.startswith("data:"):
                continue
            seen.append(json.loads(line[5:]))
            if len(seen) == 1:
                server.control.revoke_key(engine.config.key)  # something visible changes
                # Idle probes are handshakes, which cannot see keys: the next poll does.
                engine.scheduler.wake_delta()
            if seen[-1]["state"] == "degraded":
                break
    assert seen[0]["state"] == "online" and seen[-1]["state"] == "degraded"


@pytest.mark.anyio
async def test_rejected_keys_make_the_state_degraded_with_the_reason(running: Any) -> None:
    engine, server, http = running
    await until_status(http, lambda s: s["initial_sync_done"])
    server.control.revoke_key(engine.config.key)
    engine.scheduler.wake_delta()  # the next poll (handshakes cannot see keys)
    current = await until_status(http, lambda s: s["state"] == "degraded")
    assert "keys" in current["state_reason"]


@pytest.mark.anyio
async def test_a_sale_committed_by_another_connection_is_uploaded_at_once(running: Any) -> None:
    """Another process (`onetill sell --offline`, a second screen) commits; the engine notices
    through SQLite's data_version and drains without waiting for any timer."""
    engine, server, http = running
    await until_status(http, lambda s: s["initial_sync_done"])
    with Database(engine.home / "onetill.db") as other:
        uuid = sell_one(other, engine.config.timezone, engine.config.till_id)
    await until_status(http, lambda s: s["pending_orders"] == 0, within=5)
    metas = [m.get("value") for o in server.control.orders() for m in o.get("meta_data", [])]
    assert metas.count(uuid) == 1


@pytest.mark.anyio
async def test_a_sale_made_in_process_wakes_the_drainer(running: Any) -> None:
    engine, _, http = running
    await until_status(http, lambda s: s["initial_sync_done"])
    assert engine.db is not None
    sell_one(engine.db, engine.config.timezone, engine.config.till_id)
    engine.notify_sale()
    await until_status(http, lambda s: s["pending_orders"] == 0, within=3)


@pytest.mark.anyio
async def test_a_rotated_webhook_secret_is_used_without_a_restart(running: Any) -> None:
    engine, _, http = running
    headers, raw = signed({"id": 1}, "second-secret-value", "coupon.updated", "rot-1")
    assert (await http.post("/webhooks/woocommerce", content=raw, headers=headers)).status_code \
        == 401
    engine.config.webhook_secret = "second-secret-value"
    await asyncio.sleep(0.01)  # a new mtime for config.json
    save_config(engine.home, engine.config)
    response = await http.post("/webhooks/woocommerce", content=raw, headers=headers)
    assert response.status_code == 200


@pytest.mark.anyio
async def test_stop_removes_the_engine_record_and_closes_cleanly(
    tmp_path: Path, start_sandbox: Callable[..., Any]
) -> None:
    server = start_sandbox(products=3, seed=1)
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    engine = Engine(fast_settings(home), config=connect_home(home, server.url))
    task = asyncio.create_task(engine.run())
    await asyncio.wait_for(engine.started.wait(), 30)
    assert (home / ENGINE_INFO_FILENAME).exists()
    engine.request_stop()
    await asyncio.wait_for(task, 15)
    assert not (home / ENGINE_INFO_FILENAME).exists()
    with Database(home / "onetill.db") as db:  # the file is consistent and reopens
        assert db.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


async def start_engine(
    tmp_path: Path, start_sandbox: Callable[..., Any], *, delta_interval_s: float = 600,
    **sandbox: Any,
) -> tuple[Engine, Any, asyncio.Task[None]]:
    server = start_sandbox(products=8, seed=4, **sandbox)
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    settings = fast_settings(home)
    settings.delta_interval_s = delta_interval_s
    engine = Engine(settings, config=connect_home(home, server.url))
    task = asyncio.create_task(engine.run())
    await asyncio.wait_for(engine.started.wait(), 30)
    return engine, server, task


@pytest.mark.anyio
@pytest.mark.parametrize("fault", ["commit_drop", "reset"])
async def test_a_connection_lost_mid_upload_ends_with_exactly_one_order(
    tmp_path: Path, start_sandbox: Callable[..., Any], fault: str
) -> None:
    """A network path change resets the upload (before or after the store committed it):
    the engine treats it like any ambiguous failure, and the store ends with one order."""
    engine, server, task = await start_engine(
        tmp_path, start_sandbox, faults=f"POST /orders*:{fault}@nth=1"
    )
    try:
        assert engine.url is not None
        async with httpx2.AsyncClient(base_url=engine.url, timeout=10, trust_env=False) as http:
            await until_status(http, lambda s: s["initial_sync_done"])
            assert engine.db is not None
            uuid = sell_one(engine.db, engine.config.timezone, engine.config.till_id)
            engine.notify_sale()
            await until_status(http, lambda s: s["pending_orders"] == 0, within=15)
        fired = [f for f in server.control.faults() if f.get("fired")]
        assert fired, "the fault never fired: the test proved nothing"
        metas = [m.get("value") for o in server.control.orders() for m in o.get("meta_data", [])]
        assert metas.count(uuid) == 1
    finally:
        engine.request_stop()
        await asyncio.wait_for(task, 15)


@pytest.mark.anyio
@pytest.mark.parametrize(("spec", "reason"), [
    ("GET /products*:waf=200", "HTML"),
    ("GET /products*:status=503", "server errors"),
])
async def test_a_store_that_answers_badly_is_degraded_until_it_recovers(
    tmp_path: Path, start_sandbox: Callable[..., Any], spec: str, reason: str
) -> None:
    """Judged from the till's own polls (idle handshakes cannot see a WAF page or PHP
    failing), and probed with requests while degraded until it recovers."""
    engine, server, task = await start_engine(tmp_path, start_sandbox, delta_interval_s=0.5)
    try:
        assert engine.url is not None
        async with httpx2.AsyncClient(base_url=engine.url, timeout=10, trust_env=False) as http:
            await until_status(http, lambda s: s["initial_sync_done"] and s["state"] == "online")
            server.control.add_faults(spec)
            current = await until_status(http, lambda s: s["state"] == "degraded")
            assert reason in current["state_reason"]
            server.control.clear_faults()
            await until_status(http, lambda s: s["state"] == "online")
    finally:
        engine.request_stop()
        await asyncio.wait_for(task, 15)


@pytest.mark.anyio
async def test_a_drain_blocked_by_another_process_is_retried_shortly(
    tmp_path: Path, start_sandbox: Callable[..., Any]
) -> None:
    """`onetill drain` in another process holds the drain lock: the engine backs off and
    tries again by itself once it is free, without waiting for another sale."""
    import fcntl
    import os

    engine, _, task = await start_engine(tmp_path, start_sandbox)
    try:
        assert engine.url is not None and engine.db is not None
        async with httpx2.AsyncClient(base_url=engine.url, timeout=10, trust_env=False) as http:
            await until_status(http, lambda s: s["initial_sync_done"])
            fd = os.open(f"{engine.db.path}.drain-lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                sell_one(engine.db, engine.config.timezone, engine.config.till_id)
                engine.notify_sale()
                await asyncio.sleep(0.5)
                assert (await status(http))["pending_orders"] == 1
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
            await until_status(http, lambda s: s["pending_orders"] == 0, within=5)
    finally:
        engine.request_stop()
        await asyncio.wait_for(task, 15)


@pytest.mark.anyio
async def test_rejected_keys_pause_the_queue_without_spinning(
    tmp_path: Path, start_sandbox: Callable[..., Any]
) -> None:
    """With the keys rejected the sale stays queued and visible, and the drainer does not
    retry in a tight loop against the store (or the CPU)."""
    engine, server, task = await start_engine(tmp_path, start_sandbox)
    try:
        assert engine.url is not None and engine.db is not None
        async with httpx2.AsyncClient(base_url=engine.url, timeout=10, trust_env=False) as http:
            await until_status(http, lambda s: s["initial_sync_done"])
            server.control.revoke_key(engine.config.key)
            sell_one(engine.db, engine.config.timezone, engine.config.till_id)
            engine.notify_sale()
            await until_status(http, lambda s: s["state"] == "degraded")
            assert engine.scheduler is not None
            before = engine.scheduler.stats.drains
            await asyncio.sleep(1.5)
            assert engine.scheduler.stats.drains - before <= 3
            assert (await status(http))["pending_orders"] == 1
    finally:
        engine.request_stop()
        await asyncio.wait_for(task, 15)
