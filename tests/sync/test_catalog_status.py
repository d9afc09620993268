"""Progress events and the status the till shows, read from the database."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from onetill.status import collect_status
from onetill.store import Database
from onetill.store.discrepancies import log_discrepancy
from onetill.store.sync_state import set_json, set_state
from onetill.sync.progress import Progress, ProgressBoard


def test_progress_board_fans_out_and_keeps_the_latest_per_resource() -> None:
    """Every listener sees every event; a broken listener never stops the others (or the sync)."""
    seen: list[Progress] = []

    def broken(event: Progress) -> None:
        raise RuntimeError("screen went away")

    board = ProgressBoard(broken, seen.append)
    board.update("products", 100, 320)
    board.update("variations", 81, 81, finished=True)
    board.update("products", 200)  # total carried over
    assert seen[-1] == Progress("products", 200, 320, False)
    assert {p.resource: p.done for p in board.snapshot()} == {"products": 200, "variations": 81}
    finished = board.update("products", 300, 320, finished=True)
    assert finished.done == 320  # a finished resource shows n of n


def test_status_of_a_fresh_till_is_offline_and_empty(tmp_path: Path) -> None:
    with Database(tmp_path / "t.db") as db:
        status = collect_status(db)
    assert (status.state, status.last_sync_at, status.products, status.pending_orders) == (
        "offline", None, 0, 0,
    )  # fmt: skip
    assert status.initial_sync_done is False


@pytest.mark.parametrize("state", ["online", "offline", "degraded"])
def test_status_reports_sync_state_queue_and_discrepancies(tmp_path: Path, state: str) -> None:
    """State and last sync come from sync_state; queue counts from the orders table."""
    with Database(tmp_path / "t.db") as db:
        with db.write() as conn:
            set_state(conn, "catalog.state", state)
            set_state(conn, "catalog.last_sync_at", "2026-11-26T15:30:06")
            set_state(conn, "catalog.cursor", "2026-11-26T15:30:06")
            set_state(conn, "store.plugin", "1")
            set_json(conn, "progress", [{"resource": "products", "done": 5, "total": 9}])
            log_discrepancy(conn, "product", 10, "stock_quantity", 5, 3, "delta sync")
            for n, st in enumerate(["pending_sync", "in_flight", "failed", "synced"], 1):
                conn.execute(
                    "INSERT INTO orders (uuid, seq, state, created_at, till_id, currency,"
                    " payment_method, payment_title, subtotal, total_tax, total)"
                    " VALUES (?, ?, ?, ?, 't', 'EUR', 'c', 'Cash', '1', '0', '1')",
                    (f"u{n}", n, st, f"2026-11-26T15:0{n}:00+00:00"),
                )
        status = collect_status(db)
    assert status.state == state and status.last_sync_at == "2026-11-26T15:30:06Z"
    assert (status.pending_orders, status.failed_orders, status.discrepancies) == (2, 1, 1)
    assert status.oldest_pending_age_s is not None and status.oldest_pending_age_s > 0
    assert status.plugin is True and status.initial_sync_done is True
    assert status.progress[0].resource == "products" and status.progress[0].total == 9
    encoded = msgspec.json.decode(msgspec.json.encode(status))
    assert {"state", "last_sync_at", "products", "variations", "pending_orders",
            "failed_orders", "discrepancies", "plugin"} <= set(encoded)  # fmt: skip


def test_status_cli_says_uploads_are_paused_when_the_keys_were_rejected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A queue paused by rejected keys is visible in `onetill status`, text and JSON."""
    from click.testing import CliRunner

    from onetill.cli import cli
    from onetill.config import Config, save_config

    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    save_config(tmp_path, Config(url="http://127.0.0.1:9", key="ck_x", secret="cs_x"))
    with Database(tmp_path / "onetill.db") as db, db.write() as conn:
        set_state(conn, "outbox.paused", "the store rejected the API keys (401)")
    runner = CliRunner()
    text = runner.invoke(cli, ["status", "--home", str(tmp_path)])
    data = runner.invoke(cli, ["status", "--json", "--home", str(tmp_path)])
    assert text.exit_code == 0, text.output
    assert "uploads paused the store rejected the API keys (401)" in text.output
    parsed = msgspec.json.decode(data.output)
    assert parsed["queue_paused"] == "the store rejected the API keys (401)"
    assert parsed["source"] == "database"
