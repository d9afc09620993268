"""``onetill demo`` takes card payments: its Stripe sandbox and simulated S710 are wired in."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from onetill.store.db import Database

pytestmark = pytest.mark.slow


def test_demo_card_sale_is_paid_and_uploaded(tmp_path: Path) -> None:
    """A card sale against the running demo: paid on the simulated reader, synced to the store,
    and the reader's events reached the engine's Stripe webhook."""
    home = tmp_path / "demo"
    env = {**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "onetill", "demo", "--home", str(home), "--products", "20",
         "--variable", "2", "--no-browser"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1, env=env,
    )  # fmt: skip
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            # The engine syncs the catalog and registers the webhooks, then reports
            # its state ("online · 0 pending · ...").
            if " pending" in line:
                ready.set()
        ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert ready.wait(90), "".join(lines)
        db = Database(home / "onetill.db")
        sku = db.conn.execute(
            "SELECT sku FROM products WHERE sellable = 1 AND sku LIKE 'SKU-%'"
            " AND CAST(price AS REAL) >= 1 ORDER BY id LIMIT 1"
        ).fetchone()[0]
        db.close()
        sold = subprocess.run(
            [sys.executable, "-m", "onetill", "sell", sku, "--pay", "card", "--test-card",
             "success", "--json", "--home", str(home)],
            capture_output=True, text=True, env=env, timeout=120,
        )  # fmt: skip
        assert sold.returncode == 0, sold.stderr
        db = Database(home / "onetill.db")
        events = [r[0] for r in db.conn.execute("SELECT type FROM stripe_events")]
        db.close()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0, "".join(lines)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(5)
        if proc.stdout is not None:
            proc.stdout.close()
    result = json.loads(sold.stdout)
    assert result["state"] == "synced" and result["transaction_id"].startswith("pi_")
    assert "Stripe sandbox: http://127.0.0.1:" in "".join(lines)
    assert "terminal.reader.action_succeeded" in events
