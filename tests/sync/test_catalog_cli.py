"""`onetill sync / product / search / status` against the sandbox as a real HTTP server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from catalog_support import local_items, store_items
from onetill.cli import cli
from onetill.config import Config, save_config
from onetill.store import open_database


def _connect(home: Path, server: Any) -> None:
    save_config(home, Config(url=server.url, key=server.key, secret=server.secret))


def _run(home: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, [*args, "--home", str(home)], catch_exceptions=False)


def test_sync_then_product_search_and_status(tmp_path: Path, sandbox_server: Any) -> None:
    """The initial sync over real HTTP; the local record, search and status tell the truth."""
    _connect(tmp_path, sandbox_server)
    result = _run(tmp_path, "sync")
    assert result.exit_code == 0, result.output
    assert "initial sync: 401 items stored" in result.output
    assert "products" in result.output and "320/320" in result.output  # the progress bar
    with open_database(tmp_path) as db:
        local = local_items(db)
    truth = store_items(sandbox_server.store)
    assert set(local) == set(truth)
    for iid, item in truth.items():
        assert local[iid]["price"] == item["price"], iid
        assert local[iid]["store_stock_quantity"] == item["stock_quantity"], iid

    record = json.loads(_run(tmp_path, "product", "SIMPLE-001", "--json").output)
    assert record == {
        "id": 10, "parent_id": 0, "sku": "SIMPLE-001", "name": "Simple Product 001",
        "status": "publish", "price": "63.48", "regular_price": "63.48", "sale_price": None,
        "stock_quantity": 7, "manage_stock": True, "sellable": True,
    }  # fmt: skip
    by_id = _run(tmp_path, "product", "407")
    assert "VAR-20-M" in by_id.output and "parent" in by_id.output

    found = json.loads(_run(tmp_path, "search", "variable product 01", "--json").output)
    assert sorted(r["id"] for r in found) == [311, 312, 313, 314]

    status = json.loads(_run(tmp_path, "status", "--json").output)
    # No engine runs: what the sync saw is recorded, and nothing more is claimed.
    assert status["state"] == "unknown" and status["recorded_state"] == "online"
    assert status["engine"]["running"] is False and status["products"] == 320
    assert status["last_contact_at"] == status["last_sync_at"]
    assert status["variations"] == 81 and status["pending_orders"] == 0
    assert status["last_sync_at"].endswith("Z") and status["plugin"] is False

    sandbox_server.control.update_product(10, regular_price="5.00")
    again = _run(tmp_path, "sync", "--audit", "--json")
    kinds = [r["kind"] for r in json.loads(again.output)]
    assert kinds == ["delta", "audit"]
    assert json.loads(_run(tmp_path, "product", "10", "--json").output)["regular_price"] == "5.00"


def test_unknown_product_is_a_clear_error(tmp_path: Path) -> None:
    """Asking for what the till does not have says so and what to do."""
    save_config(tmp_path, Config(url="http://127.0.0.1:9", key="ck_x", secret="cs_x"))
    result = CliRunner().invoke(cli, ["product", "NOPE-1", "--home", str(tmp_path)])
    assert result.exit_code == 1
    assert "no product 'NOPE-1' in the local catalog" in result.output
    assert "onetill sync" in result.output


def test_sync_without_a_connection_says_how_to_connect(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["sync", "--home", str(tmp_path)])
    assert result.exit_code == 1 and "onetill connect" in result.output


@pytest.mark.slow
def test_dropped_connection_mid_sync_then_resume(tmp_path: Path, start_sandbox: Any) -> None:
    """Connections reset mid-pull: a clear error, stored pages kept, the rerun completes."""
    server = start_sandbox(faults="GET /wp-json/wc/v3/products:reset@from=3")
    _connect(tmp_path, server)
    failed = CliRunner().invoke(cli, ["sync", "--home", str(tmp_path)])
    assert failed.exit_code == 1
    assert "sync failed" in failed.output and "run `onetill sync` again" in failed.output
    assert server.secret not in failed.output
    status = json.loads(_run(tmp_path, "status", "--json").output)
    assert status["recorded_state"] == "offline" and 0 < status["products"] < 320
    server.control.clear_faults()
    assert _run(tmp_path, "sync").exit_code == 0
    status = json.loads(_run(tmp_path, "status", "--json").output)
    assert (status["recorded_state"], status["products"], status["variations"]) == (
        "online", 320, 81,
    )  # fmt: skip
