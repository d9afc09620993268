"""The engine against a sandbox server with the companion plugin (loopback, real SQLite).

What it protects: the engine finds the plugin by itself, the status API (the till screen's
status bar) and `onetill status` show it with its version, a sale goes up through the
plugin's keyed POST, and a plain store shows "no plugin"."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
import pytest
from click.testing import CliRunner

from engine.engine_support import connect_home
from engine.test_runtime import fast_settings, sell_one, until_status
from onetill.cli import cli
from onetill.engine.runtime import Engine
from onetill.store import Database

pytestmark = pytest.mark.anyio


async def run_engine(tmp_path: Path, server: Any) -> tuple[Engine, asyncio.Task[None]]:
    home = tmp_path / "home"
    home.mkdir()
    engine = Engine(fast_settings(home), config=connect_home(home, server.url))
    task = asyncio.create_task(engine.run())
    await asyncio.wait_for(engine.started.wait(), 30)
    return engine, task


async def test_the_plugin_is_found_shown_and_used_for_uploads(
    tmp_path: Path, start_sandbox: Callable[..., Any]
) -> None:
    server = start_sandbox(products=8, seed=4, plugin=True)
    engine, task = await run_engine(tmp_path, server)
    try:
        assert engine.url is not None and engine.config is not None
        async with httpx2.AsyncClient(base_url=engine.url, timeout=10, trust_env=False) as http:
            current = await until_status(http, lambda s: s["initial_sync_done"])
            assert current["plugin"] is True and current["plugin_version"] == "1.0.0"
            with Database(engine.home / "onetill.db") as db:
                uuid = sell_one(db, "UTC", engine.config.till_id)
            engine.notify_sale()
            await until_status(http, lambda s: s["pending_orders"] == 0)
        assert uuid in server.store.plugin.order_keys  # uploaded by key
    finally:
        engine.request_stop()
        await asyncio.wait_for(task, 15)
    shown = CliRunner().invoke(cli, ["status", "--home", str(engine.home)])
    assert shown.exit_code == 0, shown.output
    assert "plugin         yes, version 1.0.0" in shown.output


async def test_a_store_without_the_plugin_shows_none(
    tmp_path: Path, start_sandbox: Callable[..., Any]
) -> None:
    server = start_sandbox(products=8, seed=4)
    engine, task = await run_engine(tmp_path, server)
    try:
        assert engine.url is not None
        async with httpx2.AsyncClient(base_url=engine.url, timeout=10, trust_env=False) as http:
            current = await until_status(http, lambda s: s["initial_sync_done"])
            assert current["plugin"] is False and current["plugin_version"] is None
    finally:
        engine.request_stop()
        await asyncio.wait_for(task, 15)
