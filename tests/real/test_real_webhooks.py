"""Webhooks with the real store: registration, and the store's own deliveries into ``onetill run``.

The store's cron loop sends queued deliveries every ~10 s (WooCommerce's
Action Scheduler), so a delivery arrives 0-11 s after a change.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from engine.engine_support import EngineProcess
from onetill.cli import cli
from onetill.engine.register import TOPICS, WEBHOOK_PATH
from real.real_support import Admin, Till, wait_until

pytestmark = pytest.mark.real

CLOSED_PORT = "http://127.0.0.1:9"  # discard port: the store's ping is refused at once


def register(home: Path, url: str) -> Result:
    result = CliRunner().invoke(
        cli, ["webhooks", "register", url, "--home", str(home)], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    return result


def actions(result: Result) -> dict[str, tuple[str, int]]:
    """topic -> (action, webhook id), from the command's table."""
    out = {}
    for line in result.stdout.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[1].startswith("#") and parts[2] in TOPICS:
            out[parts[2]] = (parts[0], int(parts[1][1:]))
    return out


def ours(admin: Admin, till: Till) -> list[dict[str, Any]]:
    prefix = f"OneTill {till.config.till_id} "
    hooks = admin.get("webhooks", per_page=100, status="all")
    return [h for h in hooks if str(h["name"]).startswith(prefix)]


def test_register_is_idempotent_and_reenables_a_disabled_hook(till: Till, admin: Admin) -> None:
    """Run twice: one webhook per topic, the same ids; one disabled in the store is re-enabled."""
    first = actions(register(till.home, CLOSED_PORT))
    assert {a for a, _ in first.values()} == {"created"} and set(first) == set(TOPICS)
    hooks = ours(admin, till)
    assert len(hooks) == len(TOPICS)
    assert {h["delivery_url"] for h in hooks} == {CLOSED_PORT + WEBHOOK_PATH}
    assert {h["status"] for h in hooks} == {"active"}

    again = actions(register(till.home, CLOSED_PORT))
    assert again == {topic: ("updated", hook_id) for topic, (_, hook_id) in first.items()}
    assert len(ours(admin, till)) == len(TOPICS)

    disabled = first["product.updated"][1]
    assert admin.put(f"webhooks/{disabled}", {"status": "disabled"})["status"] == "disabled"
    third = actions(register(till.home, CLOSED_PORT))
    assert third["product.updated"] == ("reenabled", disabled)
    assert {h["status"] for h in ours(admin, till)} == {"active"}


def test_the_stores_deliveries_reach_onetill_run_before_the_next_poll(
    till: Till, admin: Admin
) -> None:
    """``onetill run`` polls every 120 s here; a price edited in the store arrives by the
    store's own signed delivery, is verified and applied, long before the next poll."""
    engine = EngineProcess(till.home, "--interval", "120")
    url = engine.start()
    try:
        engine.wait_status(lambda s: s.get("state") == "online", within=30)
        made = actions(register(till.home, url))
        assert {a for a, _ in made.values()} == {"created"}
        assert "webhook ping received" in engine.output  # one per webhook created
        polled = engine.status()["last_sync_at"]
        edited = time.monotonic()
        admin.edit(10, regular_price="7.77")
        wait_until(lambda: till.row(10)["price"] == "7.77", within=30)  # type: ignore[index]
        took = time.monotonic() - edited
        assert engine.status()["last_sync_at"] == polled  # no poll ran meanwhile
        assert took < 30, took  # the default poll interval
        with sqlite3.connect(till.home / "onetill.db") as conn:
            applied = conn.execute(
                "SELECT topic, outcome FROM webhook_deliveries WHERE resource_id = 10"
            ).fetchall()
        assert ("product.updated", "applied") in applied
        assert "refused" not in engine.output and "bad or missing signature" not in engine.output
    finally:
        engine.stop()
