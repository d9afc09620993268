"""``onetill demo``: a sandbox store, a synced till and the engine, in one command.

The sandbox runs as a separate process with a generated catalog (simple and
variable products, some on sale, both German tax rates) kept in
``demo-store.sqlite`` in the home directory, so a second demo finds the same
store and the till's database stays consistent with it. The home is
connected to it like any store (``onetill status --home same`` works), the
initial sync shows a progress bar, then the engine runs and a one-line
status stays on screen until Ctrl-C stops both.

Card payments work too: an emulated Stripe API (``onetill stripe-sandbox``)
runs beside the store with a simulated S710, the home is connected to it
(``onetill sell ... --pay card --test-card success --home same``), and its
reader events are sent, signed, to the engine's ``/webhooks/stripe``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from pathlib import Path
from typing import Any, TextIO

from onetill.config import Config, NotConnectedError, load_config, save_config
from onetill.engine.jobs import build_client
from onetill.engine.lock import acquire_lock
from onetill.engine.logs import setup_logging
from onetill.engine.register import delivery_url_for, new_secret, register_webhooks
from onetill.engine.runtime import Engine, EngineSettings, install_signal_handlers
from onetill.store import open_database

__all__ = ["DEMO_STORE_FILENAME", "DemoError", "previous_demo", "run_demo", "status_line"]

log = logging.getLogger("onetill.engine.demo")

DEMO_STORE_FILENAME = "demo-store.sqlite"


class DemoError(Exception):
    """The demo cannot run here (with what to do instead)."""


def status_line(status: dict[str, Any]) -> str:
    """``online · 0 pending · last sync 2026-11-26T15:30:06Z`` for the demo's live line."""
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
    return config


def _start_stripe(home: Path) -> Any:
    """The emulated Stripe account with a simulated S710, and this home connected to it."""
    from onetill.config import StripeConfig, save_stripe
    from onetill.stripe_sandbox import DEFAULT_KEY
    from onetill.stripe_sandbox.server import StripeSandboxProcess

    stripe = StripeSandboxProcess(["--simulated-reader", "OneTill demo S710"])
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


def run_demo(
    settings: EngineSettings,
    *,
    products: int = 300,
    variable: int = 40,
    log_json: bool = False,
    out: TextIO | None = None,
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
            asyncio.run(_main(settings, config, out))
        except KeyboardInterrupt:
            pass
        finally:
            if stripe is not None:
                stripe.stop()
            store.stop()
            print("\nStopped the engine and the sandbox store.", file=out)


async def _initial_sync(config: Config, home: Path, out: TextIO) -> None:
    from rich.console import Console

    from onetill.sync.catalog import initial_sync, needs_initial_sync
    from onetill.sync.progress import progress_bar

    with open_database(home) as db:
        if not needs_initial_sync(db):
            return
        async with build_client(config) as client:
            with progress_bar(Console(file=out)) as show:
                await initial_sync(client, db, show, global_variations=config.global_variations)


async def _main(settings: EngineSettings, config: Config, out: TextIO) -> None:
    print("Initial sync:", file=out)
    await _initial_sync(config, settings.home, out)
    engine = Engine(settings, config=config)
    install_signal_handlers(engine)
    task = asyncio.create_task(engine.run(), name="onetill-engine")
    waiter = asyncio.create_task(engine.started.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    if task.done():
        task.result()
        return
    assert engine.url is not None
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
    print(f"OneTill engine: {engine.url}  (Ctrl-C to stop)", file=out, flush=True)
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
