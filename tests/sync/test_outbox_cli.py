"""The sales commands: `sell`, `orders`, `drain`, `retry`, `void`, `discrepancies`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from onetill.cli import cli
from onetill.config import Config, save_config
from onetill.store.db import Database
from onetill.store.outbox import mark_failed, mark_synced
from till_support import order_uuid, seeded_db

OFFLINE_URL = "http://127.0.0.1:9"  # discard port: nothing answers


@pytest.fixture(autouse=True)
def no_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")


def _home(tmp_path: Path, url: str = OFFLINE_URL, key: str = "ck_x", secret: str = "cs_x") -> Path:
    home = tmp_path / "till"
    home.mkdir(mode=0o700)
    save_config(home, Config(url=url, key=key, secret=secret, till_id="till-cli"))
    seeded_db(home / "onetill.db").close()
    return home


def run(home: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, [*args, "--home", str(home)], catch_exceptions=False)


def _count(home: Path) -> int:
    with Database(home / "onetill.db") as db:
        return int(db.conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0])


def test_sell_offline_records_and_prints_json(tmp_path: Path) -> None:
    """Offline cash sale: recorded pending_sync; --json has uuid, total, change, state."""
    home = _home(tmp_path)
    result = run(home, "sell", "SIMPLE-001:2", "VAR-20-L", "--pay", "cash", "--tendered", "200",
                 "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["state"] == "pending_sync"
    assert (data["total"], data["change"]) == ("168.95", "31.05")
    listed = json.loads(run(home, "orders", "--pending", "--json").output)
    assert [o["uuid"] for o in listed] == [data["uuid"]]
    assert set(listed[0]) == {
        "uuid", "state", "remote_id", "number", "total", "created_at", "attempts", "last_error",
        "discrepancy",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["NOPE-404", "--pay", "cash"], "unknown"),
        (["SIMPLE-001:0", "--pay", "cash"], "at least 1"),
        (["SIMPLE-001:-2", "--pay", "cash"], "digits 0-9"),
        (["SIMPLE-001:+2", "--pay", "cash"], "digits 0-9"),
        (["SIMPLE-001:\u0662", "--pay", "cash"], "digits 0-9"),
        (["SIMPLE-001", "--pay", "cash", "--tendered", "1_000"], "digits 0-9"),
        (["SIMPLE-001", "--pay", "cash", "--tendered", "\u0661\u0660\u0660"], "digits 0-9"),
        (["SIMPLE-001:100000", "--pay", "cash"], "more than"),
        (["SIMPLE-001:two", "--pay", "cash"], "whole number"),
        (["SIMPLE-001", "--pay", "cash", "--tendered", "1.00"], "less than the total"),
        (["SIMPLE-001", "--pay", "cash", "--tendered", "abc"], "not an amount"),
        (["SIMPLE-001", "--pay", "card", "--txn", "pi_3Q0abcdEFGH1"], "reachable"),
    ],
)
def test_bad_sales_are_refused_and_write_nothing(
    tmp_path: Path, args: list[str], message: str
) -> None:
    """Each bad input: non-zero exit, an error saying what was wrong, no order written."""
    home = _home(tmp_path)
    result = CliRunner().invoke(cli, ["sell", *args, "--home", str(home)])
    assert result.exit_code != 0
    assert message in result.output
    assert _count(home) == 0


def test_orders_needing_attention_show_why(tmp_path: Path) -> None:
    """`orders --failed` shows the reason of a sale the store created differently (found by
    the chaos suite: the difference was recorded but listed as no reason at all)."""
    home = _home(tmp_path)
    uuid = json.loads(run(home, "sell", "SIMPLE-001", "--pay", "cash", "--json").output)["uuid"]
    why = "total: till 57.26, store 55.82"
    with Database(home / "onetill.db") as db, db.write() as conn:
        mark_synced(conn, uuid, 901, "901", datetime.now(UTC), discrepancy=why)
    (row,) = json.loads(run(home, "orders", "--failed", "--json").output)
    assert (row["state"], row["discrepancy"]) == ("synced_with_discrepancy", why)
    assert why in run(home, "orders", "--failed").output


def test_void_and_retry_commands(tmp_path: Path) -> None:
    """void needs a failed order and restores stock; a synced order cannot be voided."""
    home = _home(tmp_path)
    first = json.loads(run(home, "sell", "SIMPLE-001", "--pay", "cash", "--json").output)["uuid"]
    second = json.loads(run(home, "sell", "SIMPLE-002", "--pay", "cash", "--json").output)["uuid"]
    with Database(home / "onetill.db") as db, db.write() as conn:
        mark_failed(conn, first, "HTTP 400 woocommerce_rest_invalid: bad")
        mark_synced(conn, second, 900, "900", datetime.now(UTC))
    refused = CliRunner().invoke(cli, ["void", second, "--reason", "x", "--home", str(home)])
    assert refused.exit_code != 0 and "WooCommerce" in refused.output
    done = run(home, "void", first, "--reason", "entered twice")
    assert done.exit_code == 0 and "voided" in done.output
    failed = json.loads(run(home, "orders", "--all", "--json").output)
    assert {o["uuid"]: o["state"] for o in failed} == {first: "voided", second: "synced"}
    again = CliRunner().invoke(cli, ["retry", first, "--home", str(home)])
    assert again.exit_code != 0 and "voided" in again.output


def test_sell_online_uploads_at_once(tmp_path: Path, sandbox_server: Any) -> None:
    """With the store reachable, `sell` records then uploads: state synced, one store order."""
    home = _home(tmp_path, sandbox_server.url, sandbox_server.key, sandbox_server.secret)
    result = run(home, "sell", "SIMPLE-001", "--pay", "card", "--txn", "pi_3Q0abcdEFGH12345",
                 "--brand", "visa", "--last4", "4242", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["state"] == "synced" and data["change"] == "0.00"
    orders = [o for o in sandbox_server.store.list_orders() if order_uuid(o) == data["uuid"]]
    assert len(orders) == 1
    assert orders[0]["transaction_id"] == "pi_3Q0abcdEFGH12345"
    assert orders[0]["payment_method"] == "onetill_card"


def test_drain_and_discrepancies_commands(tmp_path: Path, sandbox_server: Any) -> None:
    """`drain` uploads what was sold offline; a deleted product shows in `discrepancies`."""
    home = _home(tmp_path, sandbox_server.url, sandbox_server.key, sandbox_server.secret)
    with Database(home / "onetill.db") as db:
        from till_support import sell

        sale = sell(db, "SIMPLE-005")
    sandbox_server.store.force_delete_product(14)
    result = run(home, "drain", "--settle", "0")
    assert result.exit_code == 0 and "with differences 1" in result.output
    listed = json.loads(run(home, "discrepancies", "--json").output)
    assert any(d["object_id"] == sale.uuid for d in listed)
    failed = json.loads(run(home, "orders", "--failed", "--json").output)
    assert [o["state"] for o in failed] == ["synced_with_discrepancy"]


def test_sell_reports_the_recorded_sale_even_when_the_upload_breaks(
    tmp_path: Path, sandbox_server: Any
) -> None:
    """The sale is committed before the upload: an upload that blows up (here a bad
    outbox_batch_size in config.json) still prints the sale and exits 0, so the cashier
    never sells the same goods twice."""
    home = tmp_path / "till"
    home.mkdir(mode=0o700)
    save_config(home, Config(url=sandbox_server.url, key=sandbox_server.key,
                             secret=sandbox_server.secret, till_id="till-cli",
                             extra={"outbox_batch_size": 500}))  # fmt: skip
    seeded_db(home / "onetill.db").close()
    result = CliRunner().invoke(cli, ["sell", "SIMPLE-001", "--pay", "cash", "--json",
                                      "--home", str(home)])  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["state"] == "pending_sync"
    assert "uploading it failed" in result.stderr and "batch_size" in result.stderr
    assert _count(home) == 1


def test_drain_uploads_by_key_when_the_engine_saw_the_plugin(
    tmp_path: Path, start_sandbox: Any
) -> None:
    """`drain` goes by the engine's last verdict on the companion plugin: with it, the sale is
    uploaded through the keyed route (the plugin's key table holds its UUID)."""
    from onetill.store.sync_state import set_json, set_state

    server = start_sandbox(plugin=True)
    home = _home(tmp_path, server.url, server.key, server.secret)
    with Database(home / "onetill.db") as db:
        from till_support import sell

        sale = sell(db, "SIMPLE-005")
        with db.write() as conn:  # what the engine's detection recorded
            set_state(conn, "store.plugin", "1")
            set_json(conn, "plugin.features", {"idempotent_orders": True})
    result = run(home, "drain", "--settle", "0")
    assert result.exit_code == 0, result.output
    assert sale.uuid in server.store.plugin.order_keys
    assert [order_uuid(o) for o in server.store.list_orders()] == [sale.uuid]
