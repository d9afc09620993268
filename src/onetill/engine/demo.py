"""``onetill demo``: a sandbox store, a synced till and the engine, in one command.

The sandbox runs as a separate process with a generated catalog (simple and
variable products, some on sale, both German tax rates) kept in
``demo-store.sqlite`` in the home directory, so a second demo finds the same
store and the till's database stays consistent with it. The home is
connected to it like any store (``onetill status --home same`` works). The
engine starts at once with the till screen (``Till: URL``, opened in a
browser when there is one); the initial sync runs inside it, its progress on
the screen and in the one-line status that stays in the terminal until
Ctrl-C stops both. The screen's demo panel (``DemoStore``) takes the sandbox
offline and back and places "online shop" orders.

Card payments work too: an emulated Stripe API (``onetill stripe-sandbox``)
runs beside the store with a simulated S710 whose "customer" taps a test
card 2 s after the reader asks for it, the home is connected to it (the
screen's Card button, or ``onetill sell ... --pay card --test-card success
--home same``), and its reader events are sent, signed, to the engine's
``/webhooks/stripe``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import sys
import threading
from pathlib import Path
from typing import Any, TextIO

from onetill.config import Config, NotConnectedError, load_config, save_config
from onetill.engine.jobs import build_client
from onetill.engine.lock import acquire_lock
from onetill.engine.logs import setup_logging
from onetill.engine.register import delivery_url_for, new_secret, register_webhooks
from onetill.engine.runtime import Engine, EngineSettings, UiFactory, install_signal_handlers

__all__ = [
    "DEMO_STORE_FILENAME",
    "DemoError",
    "DemoStore",
    "previous_demo",
    "run_demo",
    "status_line",
]

log = logging.getLogger("onetill.engine.demo")

DEMO_STORE_FILENAME = "demo-store.sqlite"


class DemoError(Exception):
    """The demo cannot run here (with what to do instead)."""


def status_line(status: dict[str, Any]) -> str:
    """``online · 0 pending · last sync 2026-11-26T15:30:06Z`` for the demo's live line."""
    if status.get("connected", True) and not status.get("initial_sync_done", True):
        shown = [
            f"{p['resource']} {p['done']}/{p['total'] if p.get('total') is not None else '?'}"
            for p in status.get("progress") or [] if not p.get("finished")
        ]
        return "syncing the catalog: " + (", ".join(shown) or "starting")
    parts = [str(status.get("state", "?"))]
    pending = status.get("pending_orders", 0)
    parts.append(f"{pending} pending")
    failed = status.get("failed_orders", 0)
    if failed:
        parts.append(f"{failed} need attention")
    parts.append(f"last sync {status.get('last_sync_at') or 'never'}")
    reason = status.get("state_reason")
    if reason:
        parts.append(str(reason))
    return " · ".join(parts)


def previous_demo(home: Path) -> Config | None:
    """The demo connection saved in ``home`` (None if none); refuses a real store's home."""
    try:
        old = load_config(home)
    except NotConnectedError:
        return None
    if not old.extra.get("demo"):
        raise DemoError(
            f"{home} is connected to the store at {old.url}; the demo would replace that "
            "connection. Run the demo with another --home (e.g. --home ~/.onetill-demo)"
        )
    return old


def _demo_config(old: Config | None, url: str) -> Config:
    from onetill.sandbox.config import DEFAULT_KEY, DEFAULT_SECRET

    config = Config(url=url, key=DEFAULT_KEY, secret=DEFAULT_SECRET,
                    timezone="America/New_York", gmt_offset=-5.0)  # fmt: skip
    if old is not None:
        config.till_id = old.till_id
        config.webhook_secret = old.webhook_secret
    config.webhook_secret = config.webhook_secret or new_secret()
    config.extra["demo"] = True
    config.extra["store_name"] = "Demo Shop (sandbox)"
    return config


def _start_stripe(home: Path) -> Any:
    """The emulated Stripe account with a simulated S710, and this home connected to it."""
    from onetill.config import StripeConfig, save_stripe
    from onetill.stripe_sandbox import DEFAULT_KEY
    from onetill.stripe_sandbox.server import StripeSandboxProcess

    # The simulated customer takes 2 s to tap: long enough to see the reader wait (and cancel).
    stripe = StripeSandboxProcess(
        ["--simulated-reader", "OneTill demo S710", "--present-delay", "2"]
    )
    stripe.start()
    location = None
    if stripe.reader_id:
        readers = stripe.control.list("readers")
        location = next((r.get("location") for r in readers if r["id"] == stripe.reader_id), None)
    save_stripe(home, StripeConfig(key=DEFAULT_KEY, api_base=str(stripe.url),
                                   location=location, reader=stripe.reader_id))  # fmt: skip
    return stripe


async def _stripe_webhooks(home: Path, engine_url: str) -> None:
    """Have the emulated Stripe send reader events to the engine."""
    import secrets

    from onetill.config import load_stripe, save_stripe
    from onetill.pay import StripeGateway, StripeSettings
    from onetill.pay.events import WATCHED_EVENTS

    cfg = load_stripe(home)
    gateway = StripeGateway(StripeSettings(key=cfg.key, api_base=cfg.api_base), budget_s=10.0)
    url = engine_url.rstrip("/") + "/webhooks/stripe"
    endpoint = await asyncio.to_thread(
        gateway.create_webhook_endpoint, url, WATCHED_EVENTS, secrets.token_hex(16)
    )
    cfg.webhook_secret, cfg.webhook_endpoint = endpoint.get("secret"), endpoint.get("id")
    save_stripe(home, cfg)
    gateway.close()


def _start_store(home: Path, products: int, variable: int) -> Any:
    from onetill.sandbox.server import SandboxProcess

    args = ["--products", str(products), "--variable", str(variable), "--seed", "7",
            "--state", str(home / DEMO_STORE_FILENAME)]  # fmt: skip
    store = SandboxProcess(args)
    store.start()
    return store


class DemoStore:
    """The demo panel's handle on the sandbox store process (``web.backend.DemoControls``)."""

    def __init__(self, process: Any, engine: Engine) -> None:
        self._process = process
        self._engine = engine
        self._rng = random.Random()

    @property
    def store_online(self) -> bool:
        return bool(self._process.running)

    async def set_store_online(self, online: bool) -> None:
        # Same port and state file: the till sees the very same store come back.
        if online and not self._process.running:
            await asyncio.to_thread(self._process.start)
        elif not online and self._process.running:
            await asyncio.to_thread(self._process.stop)
        if self._engine.hub is not None:
            self._engine.hub.changed()

    async def place_online_order(self) -> dict[str, Any]:
        """Sell 1-3 units of an in-stock product in the online shop."""
        from onetill.sandbox.control import SandboxControl

        db = self._engine.db
        assert db is not None
        with db.lock:
            rows = db.conn.execute(
                "SELECT id, name FROM products WHERE type = 'simple' AND sellable = 1"
                " AND manage_stock = '1' AND stock_quantity >= 3 ORDER BY id LIMIT 200"
            ).fetchall()
        if not rows:
            raise DemoError("no product with stock left to sell online")
        item_id, name = rows[self._rng.randrange(len(rows))]
        quantity = self._rng.randint(1, 3)
        control = SandboxControl(str(self._process.url))
        await control.aplace_online_order([{"product_id": int(item_id), "quantity": quantity}])
        stock = (await control.astock(int(item_id))).get(int(item_id))
        return {"id": int(item_id), "name": str(name), "quantity": quantity, "stock": stock}


def run_demo(
    settings: EngineSettings,
    *,
    products: int = 300,
    variable: int = 40,
    log_json: bool = False,
    out: TextIO | None = None,
    ui: UiFactory | None = None,
    open_browser: bool = False,
) -> None:
    """Run the whole demo in the foreground until SIGINT/SIGTERM."""
    out = out or sys.stdout
    home = settings.home
    # Quiet by default: the live status line is the demo's output.
    setup_logging(json_lines=log_json, level=logging.INFO if log_json else logging.WARNING)
    with acquire_lock(home):
        old = previous_demo(home)
        store = _start_store(home, products, variable)
        stripe = None
        try:
            stripe = _start_stripe(home)
            config = _demo_config(old, str(store.url))
            save_config(home, config)
            print(f"Sandbox store: {store.url} (a generated catalog; not a real shop)", file=out)
            print(f"Stripe sandbox: {stripe.url} (simulated S710 {stripe.reader_id})", file=out)
            asyncio.run(_main(settings, config, out, store, ui, open_browser))
        except KeyboardInterrupt:
            pass
        finally:
            if stripe is not None:
                stripe.stop()
            store.stop()
            print("\nStopped the engine and the sandbox store.", file=out)


def _open_browser(url: str) -> None:
    """Open ``url`` in a graphical browser, if this machine has a display (never a
    text browser in the terminal the demo is printing to)."""
    import webbrowser

    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        return
    threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()


async def _main(
    settings: EngineSettings, config: Config, out: TextIO, store: Any, ui: UiFactory | None,
    open_browser: bool,
) -> None:
    engine = Engine(settings, config=config, ui=ui)
    engine.demo = DemoStore(store, engine)
    install_signal_handlers(engine)
    task = asyncio.create_task(engine.run(), name="onetill-engine")
    waiter = asyncio.create_task(engine.started.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    if task.done():
        task.result()
        return
    assert engine.url is not None
    print(f"OneTill engine: {engine.url}  (Ctrl-C to stop)", file=out, flush=True)
    if ui is not None:
        print(f"Till: {engine.url}", file=out, flush=True)
        if open_browser:
            _open_browser(engine.url)
    # The sandbox delivers to loopback (a real WordPress would not, see docs/webhooks.md).
    try:
        async with build_client(config) as client:
            assert config.webhook_secret is not None
            await register_webhooks(
                client, config.till_id, delivery_url_for(engine.url), config.webhook_secret
            )
    except Exception as exc:  # the demo still works by polling
        log.warning("could not register the demo webhooks: %s", exc)
    try:
        await _stripe_webhooks(settings.home, engine.url)
    except Exception as exc:  # card payments still work by polling the reader
        log.warning("could not register the demo's Stripe webhook: %s", exc)
    tty = out.isatty()
    last = ""
    while not task.done():
        with contextlib.suppress(Exception):
            line = status_line(engine.status())
            if tty:
                out.write("\r\x1b[K" + line)
                out.flush()
            elif line != last:
                print(line, file=out, flush=True)
            last = line
        await asyncio.wait({task}, timeout=1.0)
    task.result()
