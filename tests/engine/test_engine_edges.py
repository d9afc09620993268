"""The running engine answers only requests addressed to it (DNS rebinding), including the
public name its webhooks were registered with, and keeps its files private."""

from __future__ import annotations

import asyncio
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
import pytest

from engine.engine_support import connect_home
from onetill.config import load_config, save_config
from onetill.engine.runtime import Engine, EngineSettings
from onetill.engine.status import ENGINE_INFO_FILENAME

pytestmark = pytest.mark.anyio


async def test_requests_for_other_hosts_are_refused_registered_names_answered(
    tmp_path: Path, start_sandbox: Callable[..., Any]
) -> None:
    server = start_sandbox(products=4, seed=1)
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    connect_home(home, server.url)
    engine = Engine(EngineSettings(home=home, port=0, delta_interval_s=600, grace_s=2,
                                   probe_min_s=0.2, idle_probe_s=0.5), config=load_config(home))
    task = asyncio.create_task(engine.run())
    try:
        await asyncio.wait_for(engine.started.wait(), 30)
        assert engine.url is not None
        info = home / ENGINE_INFO_FILENAME
        assert stat.S_IMODE(info.stat().st_mode) == 0o600
        async with httpx2.AsyncClient(base_url=engine.url, trust_env=False, timeout=10) as http:
            assert (await http.get("/api/status")).status_code == 200
            evil = await http.get("/api/status", headers={"host": "rebind.attacker.example"})
            assert evil.status_code == 400
            tunnel = {"host": "till.example.com"}
            assert (await http.get("/api/status", headers=tunnel)).status_code == 400
            config = load_config(home)  # `onetill webhooks register https://till.example.com`
            config.extra["webhook_url"] = "https://till.example.com/webhooks/woocommerce"
            save_config(home, config)
            assert (await http.get("/api/status", headers=tunnel)).status_code == 200
    finally:
        engine.request_stop()
        await asyncio.wait_for(task, 15)
