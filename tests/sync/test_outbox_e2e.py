"""End to end: the sandbox store and the till as separate processes.

Offline sales queue and drain on reconnect; ``kill -9`` of a draining till
at random moments, restarted again and again, leaves exactly one store
order per sale.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from onetill.config import Config, save_config
from onetill.sandbox.config import DEFAULT_KEY, DEFAULT_SECRET
from onetill.sandbox.control import SandboxControl
from onetill.sandbox.server import SandboxProcess
from onetill.store.orders import list_orders
from support import RECORDED_STORE
from till_support import order_uuid, seeded_db, sell

pytestmark = pytest.mark.slow


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Secrets go to the 0600 file, never to a developer's real keyring."""
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    return {**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SandboxProcess]:
    proc = SandboxProcess(
        ["--store", str(RECORDED_STORE), "--state", str(tmp_path / "store-state.db")]
    )
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


def _home(tmp_path: Path, url: str, **extra: object) -> Path:
    home = tmp_path / "till"
    home.mkdir(mode=0o700)
    save_config(
        home,
        Config(url=url, key=DEFAULT_KEY, secret=DEFAULT_SECRET, till_id="till-e2e",
               timezone="America/New_York", extra=dict(extra)),
    )  # fmt: skip
    seeded_db(home / "onetill.db").close()
    return home


def _onetill(home: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "onetill", *args, "--home", str(home)],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip


def _uuids_in_store(url: str) -> Counter[str]:
    return Counter(order_uuid(o) for o in SandboxControl(url).orders() if order_uuid(o))


def test_offline_sales_queue_and_drain_on_reconnect(
    tmp_path: Path, store: SandboxProcess, env: dict[str, str]
) -> None:
    """Store down: cash sales are recorded, card refused; store back: one drain uploads all."""
    assert store.url is not None
    url = store.url
    home = _home(tmp_path, url)
    store.stop()  # the store goes offline
    made = []
    for item in ("SIMPLE-001:2", "VAR-20-L", "SIMPLE-003:3"):
        done = _onetill(home, env, "sell", item, "--pay", "cash", "--tendered", "500", "--json")
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
        assert set(result) == {"uuid", "total", "change", "state", "items"}
        assert result["state"] == "pending_sync"
        made.append(result["uuid"])
    card = _onetill(home, env, "sell", "SIMPLE-002", "--pay", "card", "--txn", "pi_3Q0abcdEFGH1")
    assert card.returncode != 0 and "reachable" in card.stderr
    pending = _onetill(home, env, "orders", "--pending", "--json")
    assert [o["uuid"] for o in json.loads(pending.stdout)] == made  # card sale not recorded

    store.start()  # same port, same persisted store
    drained = _onetill(home, env, "drain", "--settle", "0", "--json")
    assert drained.returncode == 0, drained.stderr
    assert json.loads(drained.stdout)["synced"] == 3
    assert _uuids_in_store(url) == Counter(dict.fromkeys(made, 1))
    listed = json.loads(_onetill(home, env, "orders", "--all", "--json").stdout)
    assert [o["state"] for o in listed] == ["synced"] * 3
    assert all(o["remote_id"] and o["number"] for o in listed)


def test_kill_9_during_drain_never_loses_or_duplicates(tmp_path: Path, env: dict[str, str]) -> None:
    """100 queued sales, the draining till killed with SIGKILL 20 times: exactly 100 orders."""
    # 150 ms per request, one order per request: a drain of 100 takes ~16 s,
    # so nearly every kill lands while a request is out.
    with SandboxProcess(["--store", str(RECORDED_STORE), "--latency", "150"]) as store:
        assert store.url is not None
        # A short client timeout: after a crash, an order's lookup waits until its
        # request could have timed out (timeout + settle), on every restart.
        # A short minimum resend age too: a lookup comes 1.8 s after a send at the
        # earliest, so a missing order is resent at once, as before the rule.
        home = _home(
            tmp_path, store.url, outbox_batch_size=1, http_timeout_s=1.5,
            outbox_min_resend_age_s=1.5,
        )  # fmt: skip
        control = SandboxControl(store.url)
        before = control.stock(10, 11, 405)
        from onetill.store.db import Database

        with Database(home / "onetill.db") as db:
            uuids = [
                sell(db, ("SIMPLE-001", "SIMPLE-002", "VAR-20-L")[i % 3]).uuid for i in range(100)
            ]
        rng = random.Random(20261126)
        killed_mid_flight = abandoned = 0
        for _ in range(20):
            proc = subprocess.Popen(
                [sys.executable, "-m", "onetill", "drain", "--settle", "0.3", "--wait", "5",
                 "--home", str(home)],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            time.sleep(rng.uniform(0.4, 1.6))
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                killed_mid_flight += 1
            proc.wait(10)
            with Database(home / "onetill.db") as db:
                abandoned += len(list_orders(db.conn, ["in_flight"]))
        final = _onetill(home, env, "drain", "--settle", "0.3", "--wait", "10", "--json")
        assert final.returncode == 0, final.stderr
        in_store = _uuids_in_store(store.url)
        assert in_store == Counter(dict.fromkeys(uuids, 1))
        with Database(home / "onetill.db") as db:
            assert {o.state for o in list_orders(db.conn)} == {"synced"}
        after = control.stock(10, 11, 405)
        sold = Counter({10: 34, 11: 33, 405: 33})
        assert {k: before[k] - after[k] for k in sold} == dict(sold)  # type: ignore[operator]
        assert killed_mid_flight >= 10  # the kills really interrupted drains ...
        assert abandoned >= 1  # ... some with requests out whose fate had to be looked up
