"""`onetill demo`: sandbox + sync + engine in one command, stopped cleanly by Ctrl-C."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from engine.engine_support import connect_home
from onetill.engine.demo import DemoError, previous_demo, status_line
from onetill.engine.status import read_status


def test_status_line_shows_the_initial_sync_while_it_runs() -> None:
    line = status_line({"connected": True, "initial_sync_done": False, "progress": [
        {"resource": "products", "done": 100, "total": 300, "finished": False},
        {"resource": "tax_rates", "done": 2, "total": 2, "finished": True}]})
    assert line == "syncing the catalog: products 100/300"


def test_status_line_shows_state_pending_and_last_sync() -> None:
    line = status_line({"state": "offline", "pending_orders": 3, "failed_orders": 1,
                        "last_sync_at": "2026-11-26T15:30:06Z", "state_reason": "refused"})
    assert line == ("offline · 3 pending · 1 need attention · last sync 2026-11-26T15:30:06Z"
                    " · refused")
    assert "last sync never" in status_line({"state": "online", "pending_orders": 0})


def test_demo_refuses_a_home_connected_to_a_real_store(tmp_path: Path) -> None:
    connect_home(tmp_path, "https://shop.example.com")
    with pytest.raises(DemoError, match="another --home"):
        previous_demo(tmp_path)


@pytest.mark.slow
def test_demo_syncs_serves_and_stops_both_processes_on_ctrl_c(tmp_path: Path) -> None:
    home = tmp_path / "demo"
    proc = subprocess.Popen(
        [sys.executable, "-m", "onetill", "demo", "--home", str(home), "--products", "30",
         "--variable", "3", "--no-browser"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
    )
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("OneTill engine: "):
                ready.set()
        ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert ready.wait(90), "".join(lines)
        assert any(line.startswith("OneTill engine: http://127.0.0.1:") for line in lines)
        for _ in range(300):  # the engine syncs the catalog, then the status line says so
            if any("online" in line and "pending" in line for line in lines):
                break
            time.sleep(0.1)
        assert any(line.startswith("Till: http://127.0.0.1:") for line in lines)
        status = read_status(home)  # what `onetill status --home` reads
        assert status["source"] == "engine"
        assert status["products"] >= 30 and status["variations"] > 0
        assert status["state"] == "online" and status["initial_sync_done"]
        store_url = json.loads((home / "config.json").read_text())["url"]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0, "".join(lines)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(5)
        if proc.stdout is not None:
            proc.stdout.close()
    assert "Stopped the engine and the sandbox store." in "".join(lines)
    # Both are gone: nothing answers at the store's URL, and the status comes from the file.
    import httpx2

    with pytest.raises(httpx2.ConnectError):
        httpx2.get(store_url + "/wp-json/", timeout=2)
    assert read_status(home)["source"] == "database"
