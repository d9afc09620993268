"""``onetill connect`` to another store: never the old store's queued sales into the new one;
otherwise a fresh start (no catalog, no cursors, full sync) with the sales history kept.
The same store with new keys keeps everything."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from onetill.cli import cli
from onetill.cli.connect import EXIT_OTHER_STORE
from onetill.config import load_config
from onetill.sandbox.config import DEFAULT_KEY, DEFAULT_SECRET
from onetill.store import open_database
from onetill.store.sync_state import get_state


@pytest.fixture(autouse=True)
def _no_os_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")


def onetill(home: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, [*args, "--home", str(home)], catch_exceptions=False)


def connect(home: Path, srv: Any, key: str | None = None, secret: str | None = None) -> Result:
    return onetill(home, "connect", srv.url, "--key", key or srv.key,
                   "--secret", secret or srv.secret)  # fmt: skip


def catalog_size(home: Path) -> int:
    with open_database(home) as db:
        return int(db.conn.execute("SELECT COUNT(*) FROM products").fetchone()[0])


def test_queued_sales_are_never_sent_to_another_store(start_sandbox: Any, tmp_path: Path) -> None:
    old, new = start_sandbox(), start_sandbox()
    assert connect(tmp_path, old).exit_code == 0
    assert onetill(tmp_path, "sync").exit_code == 0
    sold = onetill(tmp_path, "sell", "SIMPLE-001", "--pay", "cash", "--offline", "--json")
    assert sold.exit_code == 0, sold.output
    uuid = json.loads(sold.output)["uuid"]

    refused = connect(tmp_path, new)
    assert refused.exit_code == EXIT_OTHER_STORE, refused.output
    assert "1 sale(s) not yet uploaded" in refused.stderr and "onetill drain" in refused.stderr
    assert "orders --pending --json" in refused.stderr
    assert load_config(tmp_path).url == old.url  # nothing changed
    assert catalog_size(tmp_path) > 0

    assert onetill(tmp_path, "drain").exit_code == 0  # uploaded to the old store
    assert any(o["meta_data"] for o in old.control.orders())
    switched = connect(tmp_path, new)
    assert switched.exit_code == 0, switched.output
    assert "catalog and sync position were dropped" in switched.stderr
    assert load_config(tmp_path).url == new.url
    assert catalog_size(tmp_path) == 0
    with open_database(tmp_path) as db:
        assert get_state(db.conn, "catalog.cursor") is None
    history = json.loads(onetill(tmp_path, "orders", "--json").output)
    assert [o["uuid"] for o in history] == [uuid] and history[0]["state"] == "synced"
    again = onetill(tmp_path, "sync")
    assert "initial sync" in again.output and catalog_size(tmp_path) > 0
    assert not new.control.orders()  # the old sale never reached the new store


def test_the_same_store_with_new_keys_keeps_catalog_and_cursor(
    start_sandbox: Any, tmp_path: Path
) -> None:
    srv = start_sandbox(keys={DEFAULT_KEY: DEFAULT_SECRET, "ck_second": "cs_second_secret"})
    assert connect(tmp_path, srv).exit_code == 0
    assert onetill(tmp_path, "sync").exit_code == 0
    onetill(tmp_path, "sell", "SIMPLE-001", "--pay", "cash", "--offline")
    with open_database(tmp_path) as db:
        cursor = get_state(db.conn, "catalog.cursor")
    size = catalog_size(tmp_path)
    result = connect(tmp_path, srv, "ck_second", "cs_second_secret")
    assert result.exit_code == 0, result.output
    assert load_config(tmp_path).key == "ck_second"
    assert catalog_size(tmp_path) == size
    with open_database(tmp_path) as db:
        assert get_state(db.conn, "catalog.cursor") == cursor
    assert len(json.loads(onetill(tmp_path, "orders", "--pending", "--json").output)) == 1
