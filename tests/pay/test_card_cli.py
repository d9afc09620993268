"""The card commands end to end, as separate processes: connect, readers, sell, refund,
the engine receiving Stripe's webhooks, and the secret key in no output or log line."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from onetill.config import Config, save_config
from onetill.sandbox.config import DEFAULT_KEY, DEFAULT_SECRET
from onetill.sandbox.control import SandboxControl
from onetill.sandbox.server import SandboxProcess
from onetill.store.db import Database
from onetill.stripe_sandbox.server import StripeSandboxProcess
from support import RECORDED_STORE
from till_support import order_uuid, seeded_db

pytestmark = pytest.mark.slow

KEY = "sk_test_cli_secret_never_printed_9a8b7c6d5e4f"


@pytest.fixture
def env() -> dict[str, str]:
    # STRIPE_LOG=debug: the library logs every request and answer to stderr.
    return {**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
            "STRIPE_LOG": "debug"}  # fmt: skip


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[tuple[SandboxProcess, StripeSandboxProcess]]:
    store = SandboxProcess(["--store", str(RECORDED_STORE), "--state", str(tmp_path / "s.db")])
    stripe = StripeSandboxProcess(["--key", KEY, "--simulated-reader", "Counter S710"])
    store.start()
    try:
        stripe.start()
        try:
            yield store, stripe
        finally:
            stripe.stop()
    finally:
        store.stop()


def test_card_commands_end_to_end_without_leaking_the_key(
    tmp_path: Path, processes: tuple[SandboxProcess, StripeSandboxProcess], env: dict[str, str]
) -> None:
    store, stripe = processes
    assert store.url and stripe.url and stripe.reader_id
    home = tmp_path / "till"
    home.mkdir(mode=0o700)
    save_config(home, Config(url=store.url, key=DEFAULT_KEY, secret=DEFAULT_SECRET,
                             till_id="till-cli", timezone="America/New_York"))  # fmt: skip
    seeded_db(home / "onetill.db").close()
    seen: list[str] = []

    def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([sys.executable, "-m", "onetill", *args, "--home", str(home)],
                              capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
        seen.extend([done.stdout, done.stderr])
        assert (done.returncode == 0) == ok, (args, done.stdout, done.stderr)
        return done

    connected = run("stripe", "connect", "--key", KEY, "--api-base", stripe.url)
    assert "sk_test_...4f" not in connected.stdout and "test mode" in connected.stdout
    run("stripe", "connect", "--key", KEY[:-3] + "xyz", "--api-base", stripe.url, ok=False)
    listed = json.loads(run("readers", "--json").stdout)
    assert [(r["id"], r["status"]) for r in listed] == [(stripe.reader_id, "online")]
    run("readers", "use", stripe.reader_id)
    registered = run("readers", "register", "puppies-plug-could", "--label", "Front till")
    assert "stripe_s710" in registered.stdout
    run("readers", "register", "not a code", "--label", "x", ok=False)
    simulated = run("readers", "simulate")
    assert "simulated_stripe_s710" in simulated.stdout and "in use" not in simulated.stdout

    engine = subprocess.Popen(
        [sys.executable, "-m", "onetill", "run", "--home", str(home), "--port", "0",
         "--log-json", "--interval", "3600"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    try:
        assert engine.stdout is not None
        line = ""
        url = None
        while url is None:
            got = engine.stdout.readline()
            assert got, line
            line += got
            url = re.search(r"^OneTill engine: (http://\S+)", got)
        run("stripe", "webhook", url.group(1))
        paid = json.loads(run("sell", "SIMPLE-031", "--pay", "card", "--test-card", "success",
                              "--json").stdout)  # fmt: skip
        declined = run("sell", "SIMPLE-032", "--pay", "card", "--test-card", "declined", ok=False)
        forged = httpx2.post(url.group(1) + "webhooks/stripe", content=b'{"id": "evt_x"}',
                             headers={"Stripe-Signature": "t=1,v1=00"})  # fmt: skip
        refunded = json.loads(run("refund", paid["uuid"], "--json").stdout)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            db = Database(home / "onetill.db")
            events = db.conn.execute("SELECT type FROM stripe_events").fetchall()
            db.close()
            if any(e[0] == "terminal.reader.action_succeeded" for e in events):
                break
            time.sleep(0.1)
    finally:
        engine.send_signal(signal.SIGTERM)
        out, _ = engine.communicate(timeout=30)
        seen.append(line + out)
    assert paid["state"] == "synced" and paid["transaction_id"].startswith("pi_")
    assert (paid["card_brand"], paid["card_last4"]) == ("visa", "4242")
    assert "declined" in declined.stderr and "Nothing was recorded" in declined.stderr
    assert forged.status_code == 400
    assert {e[0] for e in events} >= {"terminal.reader.action_succeeded",
                                      "terminal.reader.action_failed"}  # fmt: skip
    assert refunded["state"] == "synced" and refunded["stripe_refund_id"].startswith("re_")
    [order] = [o for o in SandboxControl(store.url).orders() if order_uuid(o) == paid["uuid"]]
    meta = {m["key"]: m["value"] for m in order["meta_data"]}
    assert order["transaction_id"] == paid["transaction_id"] == meta["_stripe_intent_id"]
    assert meta["_stripe_charge_id"] == paid["charge_id"]
    assert order["status"] == "refunded"
    db = Database(home / "onetill.db")
    try:
        assert db.conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0] == 1
    finally:
        db.close()
    everything = "\n".join(seen)
    assert "Stripe API response" in everything  # the library's debug log was on
    assert KEY not in everything and KEY[8:] not in everything
    for path in home.iterdir():
        if path.suffix in (".log", ".json") and path.name not in ("stripe-secrets.json",):
            assert KEY not in path.read_text(errors="replace"), path
