"""Helpers for the engine tests: recorded deliveries, signing, a catalog row."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2

from onetill.config import Config, save_config
from onetill.engine.webhooks import sign
from onetill.store import Database
from onetill.store.catalog import apply_items
from support import load_fixture


def delivery(name: str) -> tuple[dict[str, str], bytes, str | None]:
    """A recorded delivery: (headers lower-cased, raw body, the secret that signed it)."""
    fx = load_fixture(name)
    headers = {k.lower(): v for k, v in fx["request"]["headers"].items()}
    return headers, fx["request"]["body"].encode("utf-8"), fx.get("secret")


def signed(
    body: dict[str, Any] | bytes, secret: str, topic: str, delivery_id: str
) -> tuple[dict[str, str], bytes]:
    """Headers and body of a delivery signed the way WooCommerce signs it."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {
        "content-type": "application/json",
        "x-wc-webhook-topic": topic,
        "x-wc-webhook-resource": topic.split(".")[0],
        "x-wc-webhook-event": topic.split(".")[1],
        "x-wc-webhook-signature": sign(raw, secret),
        "x-wc-webhook-id": "7",
        "x-wc-webhook-delivery-id": delivery_id,
    }
    return headers, raw


def seed_product(db: Database, data: dict[str, Any]) -> None:
    with db.write() as conn:
        apply_items(conn, [data], kind="product", cause="test seed")


def product_row(db: Database, item_id: int) -> dict[str, Any] | None:
    row = db.conn.execute(
        "SELECT id, name, price, stock_quantity, status, sellable, date_modified_gmt"
        " FROM products WHERE id = ?", (item_id,),
    ).fetchone()
    return dict(row) if row is not None else None


def new_db(tmp_path: Path) -> Database:
    return Database(tmp_path / "onetill.db")


async def eventually(condition: Callable[[], bool], within: float = 2.0) -> None:
    """Wait until ``condition()`` holds, failing the test after ``within`` seconds."""
    for _ in range(int(within / 0.01) + 1):
        if condition():
            return
        await asyncio.sleep(0.01)
    assert condition(), "condition not reached in time"


# --- real processes ----------------------------------------------------------

FAST = [  # intervals that make an end-to-end test take seconds, not minutes
    "--probe-interval", "0.2", "--probe-max", "1", "--idle-probe", "0.5",
    "--drain-settle", "1", "--grace", "5",
]


def connect_home(home: Path, url: str) -> Config:
    """Connect ``home`` to a sandbox store (its well-known test keys) as `onetill connect` would."""
    from onetill.sandbox.config import DEFAULT_KEY, DEFAULT_SECRET

    config = Config(url=url, key=DEFAULT_KEY, secret=DEFAULT_SECRET, timezone="America/New_York")
    save_config(home, config)
    return config


class EngineProcess:
    """``python -m onetill run`` as a child process, with its output kept for failures."""

    def __init__(self, home: Path, *args: str) -> None:
        self.home = home
        self.args = list(args)
        self.url = ""
        self.proc: subprocess.Popen[str] | None = None
        self.lines: list[str] = []
        self._reader: threading.Thread | None = None

    def start(self, timeout: float = 60.0) -> str:
        command = [sys.executable, "-m", "onetill", "run", "--home", str(self.home),
                   "--port", "0", *self.args]
        proc = self.proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
        )
        started = threading.Event()

        def read() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                self.lines.append(line)
                if line.startswith("OneTill engine: "):
                    self.url = line.split(": ", 1)[1].strip()
                    started.set()
            started.set()

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()
        started.wait(timeout)
        if not self.url:
            self.stop()
            raise AssertionError(f"the engine did not start:\n{self.output}")
        return self.url

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def status(self) -> dict[str, Any]:
        response = httpx2.get(self.url + "api/status", timeout=5, trust_env=False)
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    def wait_status(self, condition: Callable[[dict[str, Any]], bool], within: float) -> float:
        """Seconds until ``condition(status)`` held; fails the test after ``within``."""
        start = time.monotonic()
        last: dict[str, Any] = {}
        while time.monotonic() - start < within:
            try:
                last = self.status()
            except httpx2.HTTPError:
                last = {}
            if last and condition(last):
                return time.monotonic() - start
            time.sleep(0.1)
        raise AssertionError(f"status never matched in {within} s; last {last}\n{self.output}")

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 30.0) -> int:
        assert self.proc is not None
        code = self.proc.wait(timeout)
        if self._reader is not None:
            self._reader.join(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return code

    def stop(self) -> int | None:
        """SIGTERM and wait (SIGKILL if it hangs); safe to call twice."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                return self.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.wait(10)
