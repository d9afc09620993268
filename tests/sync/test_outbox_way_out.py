"""A merchant always has a way out of a stuck order, and sees why it is stuck.

`onetill lookup`, `retry` and `void` act on an order in flight whatever its timers say
(looking it up first, never resending blindly); `drain` exits non-zero when the keys are
rejected and names what waits; `status` says since when and why the queue is blocked.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from onetill.cli import cli
from onetill.config import Config, save_config
from onetill.store.db import Database
from onetill.store.orders import get_order
from onetill.store.outbox import mark_in_flight
from onetill.sync.outbox_payload import order_payload
from onetill.woo import WooClient
from till_support import order_uuid, seeded_db, sell, stock_of


@pytest.fixture(autouse=True)
def no_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")


def _home(tmp_path: Path, server: Any) -> Path:
    home = tmp_path / "till"
    home.mkdir(mode=0o700)  # private, as connect makes it: no warning in the output
    save_config(home, Config(url=server.url, key=server.key, secret=server.secret,
                             till_id="till-cli"))  # fmt: skip
    seeded_db(home / "onetill.db").close()
    return home


def run(home: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, [*args, "--home", str(home)])


def _stuck_in_flight(home: Path, server: Any, *, reached_store: bool, sent_ago_s: float) -> str:
    """A sale whose upload left ``sent_ago_s`` ago (store time) and whose next lookup is an
    hour away; ``reached_store``: the store did create it (its answer was lost)."""
    with Database(home / "onetill.db") as db:
        uuid = sell(db, "SIMPLE-001").uuid
        sent = datetime.fromtimestamp(server.store.now(), UTC) - timedelta(seconds=sent_ago_s)
        with db.write() as conn:
            mark_in_flight(conn, [uuid], sent, 0.0, lookup_after=sent + timedelta(hours=1))
        payload = order_payload(get_order(db.conn, uuid))
    if reached_store:

        async def post() -> None:
            async with WooClient(server.url, server.key, server.secret) as client:
                await client.post("orders", json=payload)

        asyncio.run(post())
    return uuid


def _copies(server: Any, uuid: str) -> list[dict[str, Any]]:
    return [o for o in server.store.list_orders() if order_uuid(o) == uuid]


def test_lookup_finds_an_order_in_flight_now_whatever_its_timers_say(
    tmp_path: Path, sandbox_server: Any
) -> None:
    """The answer was lost and the next lookup is an hour away: `onetill lookup UUID` asks
    the store now, records the order as uploaded with its number, and sends nothing."""
    home = _home(tmp_path, sandbox_server)
    uuid = _stuck_in_flight(home, sandbox_server, reached_store=True, sent_ago_s=5)
    result = run(home, "lookup", uuid)
    assert result.exit_code == 0, result.output
    (created,) = _copies(sandbox_server, uuid)
    assert f"in the store as #{created['number']}" in result.output
    data = json.loads(run(home, "lookup", uuid, "--json").output)
    assert data["fate"] == "found" and data["state"] == "synced"


def test_lookup_of_a_young_missing_order_says_when_it_is_looked_up_again(
    tmp_path: Path, sandbox_server: Any
) -> None:
    """Not in the store, sent 5 s ago: it may still land, so it is not resent; the answer
    says when it is looked up again."""
    home = _home(tmp_path, sandbox_server)
    uuid = _stuck_in_flight(home, sandbox_server, reached_store=False, sent_ago_s=5)
    result = run(home, "lookup", uuid)
    assert result.exit_code == 0, result.output
    assert "not in the store yet" in result.output and "looked up again at" in result.output
    assert _copies(sandbox_server, uuid) == []


def test_retry_of_an_order_in_flight_looks_it_up_before_anything_is_sent(
    tmp_path: Path, sandbox_server: Any
) -> None:
    """`onetill retry` on an order whose last send may have reached the store: it is looked
    up first and found, so the store still holds it once."""
    home = _home(tmp_path, sandbox_server)
    uuid = _stuck_in_flight(home, sandbox_server, reached_store=True, sent_ago_s=600)
    result = run(home, "retry", uuid)
    assert result.exit_code == 0, result.output
    assert "looking it up" in result.output
    assert len(_copies(sandbox_server, uuid)) == 1
    with Database(home / "onetill.db") as db:
        assert get_order(db.conn, uuid).state == "synced"


def test_void_of_an_order_in_flight_needs_the_store_to_say_it_is_absent(
    tmp_path: Path, sandbox_server: Any
) -> None:
    """An order in flight that the store holds cannot be voided (it names the number); one
    the store does not hold, sent long enough ago, is voided and its stock put back."""
    home = _home(tmp_path, sandbox_server)
    there = _stuck_in_flight(home, sandbox_server, reached_store=True, sent_ago_s=600)
    refused = run(home, "void", there, "--reason", "customer left")
    (created,) = _copies(sandbox_server, there)
    assert refused.exit_code != 0 and f"#{created['number']}" in refused.output
    with Database(home / "onetill.db") as db:
        before = stock_of(db, 10)
    gone = _stuck_in_flight(home, sandbox_server, reached_store=False, sent_ago_s=600)
    done = run(home, "void", gone, "--reason", "customer left")
    assert done.exit_code == 0, done.output
    with Database(home / "onetill.db") as db:
        assert get_order(db.conn, gone).state == "voided"
        assert stock_of(db, 10) == before  # the void put its unit back
    assert _copies(sandbox_server, gone) == []


def test_drain_with_rejected_keys_exits_non_zero_says_it_once_and_names_what_waits(
    tmp_path: Path, sandbox_server: Any
) -> None:
    home = _home(tmp_path, sandbox_server)
    with Database(home / "onetill.db") as db:
        uuid = sell(db, "SIMPLE-001").uuid
    sandbox_server.control.revoke_key(sandbox_server.key)
    result = run(home, "drain", "--settle", "0")
    assert result.exit_code == 5, result.output
    assert result.output.count("rejected the API keys") == 1, result.output
    assert f"waiting  {uuid}" in result.output


def test_status_says_since_when_and_why_the_queue_is_blocked(tmp_path: Path) -> None:
    """A sale made ten minutes ago is still the oldest not in the store and no engine runs:
    `onetill status` (text and JSON) says the queue is blocked, since when, and why."""
    home = tmp_path / "till"
    home.mkdir(mode=0o700)
    save_config(home, Config(url="http://127.0.0.1:9", key="ck_x", secret="cs_x"))
    with seeded_db(home / "onetill.db") as db:
        uuid = sell(db, "SIMPLE-001", now=datetime.now(UTC) - timedelta(minutes=10)).uuid
    data = json.loads(run(home, "status", "--json").output)
    blocked = data["queue_blocked"]
    assert blocked["uuid"] == uuid and "no engine is running" in blocked["reason"]
    text = run(home, "status").output
    assert f"queue blocked  since {blocked['since']} because no engine is running" in text
