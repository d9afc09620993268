"""kill -9 of the till at every step of a card payment, with real processes.

The WooCommerce sandbox, the emulated Stripe API and ``onetill sell ...
--pay card`` each run as their own process. The till is killed (SIGKILL)
while the PaymentIntent is being created, while the reader holds it,
while the card is being charged, after the charge before the sale is
committed, and while the order is uploaded: some kills are aimed (a slow
answer holds the till at that step), others fall at random moments. The
next sale on the till settles what the dead one left. At the end: every
succeeded PaymentIntent has exactly one sale and one WooCommerce order
(with ``transaction_id`` and ``_stripe_intent_id``), no sale lacks a
succeeded intent, and no intent was charged twice.

``ONETILL_CARD_KILLS`` raises the number of kills (default 22).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from onetill.config import Config, StripeConfig, save_config, save_stripe
from onetill.sandbox.config import DEFAULT_KEY, DEFAULT_SECRET
from onetill.sandbox.control import SandboxControl
from onetill.sandbox.server import SandboxProcess
from onetill.store.db import Database
from onetill.stripe_sandbox import DEFAULT_KEY as STRIPE_KEY
from onetill.stripe_sandbox.server import StripeSandboxProcess
from support import RECORDED_STORE
from till_support import seeded_db

pytestmark = pytest.mark.slow

KILLS = int(os.environ.get("ONETILL_CARD_KILLS", "22"))
CARTS = [["SIMPLE-031"], ["SIMPLE-032"], ["SIMPLE-031:2"], ["SIMPLE-033"]]
META_INTENT = "_stripe_intent_id"


@pytest.fixture
def env() -> dict[str, str]:
    return {**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SandboxProcess]:
    proc = SandboxProcess(["--store", str(RECORDED_STORE), "--state", str(tmp_path / "s.db")])
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def stripe_api() -> Iterator[StripeSandboxProcess]:
    proc = StripeSandboxProcess(
        ["--simulated-reader", "Kill S710", "--latency", "15", "--reader-timeout", "4"]
    )
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


def _till(tmp_path: Path, store: str, stripe: StripeSandboxProcess) -> Path:
    home = tmp_path / "till"
    home.mkdir(mode=0o700)
    save_config(home, Config(url=store, key=DEFAULT_KEY, secret=DEFAULT_SECRET,
                             till_id="till-kill", timezone="America/New_York",
                             extra={"outbox_min_resend_age_s": 0, "outbox_settle_s": 0,
                                    "http_timeout_s": 2}))
    save_stripe(home, StripeConfig(key=STRIPE_KEY, api_base=str(stripe.url),
                                   reader=stripe.reader_id))  # fmt: skip
    seeded_db(home / "onetill.db").close()
    return home


def _command(home: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "onetill", *args, "--home", str(home)]


def _wait_until(check: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.01)
    return False


def _stat(stripe: StripeSandboxProcess, op: str) -> int:
    return int(stripe.control.stats()["by_operation"].get(op, 0))


def _orders(home: Path) -> int:
    db = Database(home / "onetill.db")
    try:
        return int(db.conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0])
    finally:
        db.close()


# step -> (Stripe fault holding the till there, operation whose arrival means "there")
AIMED = {
    "creating the intent": ("POST /v1/payment_intents:commit_slow=8", "create_payment_intent"),
    "handing it to the reader": (
        "POST /v1/terminal/readers/*/process_payment_intent:commit_slow=8",
        "process_payment_intent",
    ),
    "charging the card": (
        "POST /v1/test_helpers/terminal/readers/*/present_payment_method:commit_slow=8",
        "present_payment_method",
    ),
    # The card is charged 2 s after it is presented: the till dies while polling.
    "waiting on the reader": ("", "retrieve_reader"),
    # Paid and recorded; the store holds the upload's answer.
    "uploading the order": ("", ""),
}


def test_kill_9_at_every_step_leaves_one_sale_and_one_order_per_charged_intent(
    tmp_path: Path,
    store: SandboxProcess,
    stripe_api: StripeSandboxProcess,
    env: dict[str, str],
) -> None:
    assert store.url is not None
    home = _till(tmp_path, store.url, stripe_api)
    rng = random.Random(14)
    steps: Counter[str] = Counter()
    aimed = list(AIMED)
    i = 0
    while sum(steps.values()) < KILLS and i < 3 * KILLS:
        i += 1
        cart = rng.choice(CARTS)
        cmd = _command(home, "sell", *cart, "--pay", "card", "--test-card", "success")
        step = aimed[i % len(aimed)] if i <= 2 * len(aimed) or i % 3 == 0 else "random"
        before = 0
        if step != "random":
            spec, op = AIMED[step]
            if spec:
                stripe_api.control.add_faults(spec)
            if step == "waiting on the reader":
                stripe_api.control.configure(present_delay_s=2.0)
            if step == "uploading the order":
                SandboxControl(store.url).add_faults("POST /orders*:slow=8")
                before = _orders(home)
            else:
                before = _stat(stripe_api, op)
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if step == "random":
            time.sleep(rng.uniform(0.4, 1.3))
        else:
            def arrived(step: str = step, op: str = op, before: int = before,
                        proc: Any = proc) -> bool:
                if proc.poll() is not None:
                    return True
                if step == "uploading the order":
                    return _orders(home) > before
                return _stat(stripe_api, op) > before

            assert _wait_until(arrived), step
            time.sleep(0.3 if step == "uploading the order" else 0.05)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            steps[step] += 1
        proc.wait(30)
        stripe_api.control.clear_faults()
        stripe_api.control.configure(present_delay_s=0.0)
        SandboxControl(store.url).clear_faults()
    # The last customer pays once more; then recovery and the outbox finish the rest.
    done = subprocess.run(_command(home, "sell", "SIMPLE-034", "--pay", "card", "--test-card",
                                   "success"), env=env, capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    recover = subprocess.run(_command(home, "payments", "recover"), env=env,
                             capture_output=True, text=True, timeout=120)  # fmt: skip
    assert recover.returncode == 0, recover.stderr
    drain = subprocess.run(_command(home, "drain", "--settle", "0", "--wait", "20"), env=env,
                           capture_output=True, text=True, timeout=120)  # fmt: skip
    assert drain.returncode == 0, drain.stderr
    assert sum(steps.values()) >= KILLS, steps
    assert len([s for s in steps if s != "random"]) == len(AIMED), steps

    intents = stripe_api.control.list("payment_intents")
    charges = stripe_api.control.list("charges")
    succeeded = {i["id"] for i in intents if i["status"] == "succeeded"}
    paid_charges = Counter(c["payment_intent"] for c in charges if c["status"] == "succeeded")
    assert all(n == 1 for n in paid_charges.values()), "an intent was charged twice"
    assert set(paid_charges) == succeeded

    db = Database(home / "onetill.db")
    try:
        rows = db.conn.execute(
            "SELECT uuid, transaction_id, state FROM orders WHERE payment_method = 'onetill_card'"
        ).fetchall()
        open_left = db.conn.execute(
            "SELECT COUNT(*) FROM card_payments WHERE state = 'processing'").fetchone()[0]
    finally:
        db.close()
    sales = Counter(str(r["transaction_id"]) for r in rows)
    assert set(sales) == succeeded, "a sale without a succeeded intent, or a paid intent lost"
    assert all(n == 1 for n in sales.values()), "an intent recorded as two sales"
    assert all(r["state"] == "synced" for r in rows), [tuple(r) for r in rows]
    assert open_left == 0

    store_orders = SandboxControl(store.url).orders()
    by_intent: Counter[str] = Counter(str(o.get("transaction_id")) for o in store_orders)
    assert {k for k in by_intent if k.startswith("pi_")} == succeeded
    assert all(by_intent[pi] == 1 for pi in succeeded), "an intent has two store orders"
    for order in store_orders:
        meta: dict[str, Any] = {m["key"]: m["value"] for m in order["meta_data"]}
        assert meta[META_INTENT] == order["transaction_id"]
    assert len(succeeded) >= 5
