"""``onetill run``, ``onetill webhooks register|status`` and ``onetill demo``."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import click

from onetill.cli.common import connected, home_option, usable_home
from onetill.cli.output import printable
from onetill.cli.params import PlainFloat, PlainInt
from onetill.config import NotConnectedError, load_config, save_config

__all__ = ["demo", "run", "webhooks"]


def _intervals(func: Any) -> Any:
    """Options shared by ``run`` and ``demo``: how often things happen."""
    day = 86400.0
    options = [
        click.option("--interval", type=PlainFloat(0.5, day), default=30.0,
                     show_default=True, help="Seconds between catalog delta syncs."),
        click.option("--audit-interval", type=PlainFloat(1, 7 * day), default=3600.0,
                     show_default=True, help="Seconds between audits for force-deleted products."),
        click.option("--log-json", is_flag=True, help="Log JSON lines instead of human lines."),
        click.option("--log-level", type=click.Choice(["debug", "info", "warning"]),
                     default="info", show_default=True, help="How much to log."),
        # For tests and unusual networks; the defaults suit a shop.
        click.option("--probe-interval", type=PlainFloat(0.05, 3600), default=5.0, hidden=True),
        click.option("--probe-max", type=PlainFloat(0.05, day), default=60.0, hidden=True),
        # Silence before a TCP/TLS handshake checks the store (no request, no PHP).
        click.option("--idle-probe", type=PlainFloat(0.05, 3600), default=5.0, hidden=True),
        click.option("--drain-settle", type=PlainFloat(0, 3600), default=30.0, hidden=True),
        click.option("--grace", type=PlainFloat(0, 3600), default=10.0, hidden=True),
        # An order whose upload was cut is looked up only after this plus the settle time.
        click.option("--request-timeout", type=PlainFloat(0.5, 600), default=30.0, hidden=True),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _settings(home: Path, host: str, port: int, kw: dict[str, Any]) -> Any:
    from onetill.engine.runtime import EngineSettings

    return EngineSettings(
        home=home, host=host, port=port,
        delta_interval_s=kw["interval"], audit_interval_s=kw["audit_interval"],
        probe_min_s=kw["probe_interval"], probe_max_s=max(kw["probe_max"], kw["probe_interval"]),
        idle_probe_s=kw["idle_probe"], drain_settle_s=kw["drain_settle"], grace_s=kw["grace"],
        request_timeout_s=kw["request_timeout"],
    )  # fmt: skip


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _announce(url: str, host: str, token: str | None) -> None:
    import socket

    click.echo(f"OneTill engine: {url}")
    click.echo(f"Till: {url}")
    if token is not None:
        port = url.rstrip("/").rsplit(":", 1)[1]
        click.echo(f"Other devices on the network: http://{socket.gethostname()}:{port}/")
        click.echo(f"Access token: {token}  (typed once on each device; --new-token makes another)")


@click.command()
@home_option
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but loopback asks devices for an access token.")
@click.option("--port", type=PlainInt(0, 65535), default=8000, show_default=True,
              help="Port to listen on (0: any free port).")
@click.option("--new-token", is_flag=True,
              help="Make a new access token for other devices (signs every device out).")
@_intervals
def run(home: Path | None, host: str, port: int, new_token: bool, **kw: Any) -> None:
    """Run the engine and the till screen: sync, outbox, webhooks, status, until Ctrl-C.

    With no store connected yet, the till screen shows a form to connect one."""
    from onetill.config import stripe_configured, ui_token
    from onetill.engine.lock import LockHeldError
    from onetill.engine.runtime import run_engine
    from onetill.web import TerminalCard, till_ui
    from onetill.woo.errors import WooError

    where = usable_home(home)  # the till screen connects a store on first run
    settings = _settings(where, host, port, kw)
    token = None if _is_loopback(host) else ui_token(where, rotate=new_token)
    # With a Stripe reader set up (`onetill stripe connect`), Card takes the payment on it.
    card = TerminalCard(where) if stripe_configured(where) else None
    try:
        run_engine(settings, log_json=kw["log_json"], log_level=kw["log_level"],
                   ui=till_ui(card=card, token=token),
                   ready=lambda url: _announce(url, host, token))
    except (LockHeldError, NotConnectedError, WooError) as exc:
        raise click.ClickException(printable(exc)) from None
    except OSError as exc:
        raise click.ClickException(printable(exc)) from None


@click.group()
def webhooks() -> None:
    """Register the store's webhooks for this till, or show them."""


def _client(home: Path) -> Any:
    from onetill.engine.jobs import build_client
    from onetill.woo.errors import WooError

    try:
        config = load_config(home)
        return config, build_client(config)
    except (NotConnectedError, WooError) as exc:
        raise click.ClickException(printable(exc)) from None


@webhooks.command("register")
@home_option
@click.argument("public_url")
@click.option("--rotate-secret", is_flag=True, help="Generate a new webhook secret.")
def register(home: Path | None, public_url: str, rotate_secret: bool) -> None:
    """Create or update the webhooks that send changes to PUBLIC_URL (this engine,
    as the store can reach it). Safe to run again: it never makes duplicates."""
    from onetill.engine.register import (
        delivery_url_for,
        new_secret,
        register_webhooks,
        url_warnings,
    )
    from onetill.woo.errors import WooError

    where = connected(home)
    config, client = _client(where)
    try:
        url = delivery_url_for(public_url)
    except ValueError as exc:
        raise click.BadParameter(printable(exc), param_hint="PUBLIC_URL") from None
    for warning in url_warnings(url):
        click.echo(f"warning: {printable(warning)}", err=True)
    if rotate_secret or not config.webhook_secret:
        config.webhook_secret = new_secret()
    # The engine answers webhooks only for the hosts it is reached by (DNS rebinding).
    config.extra["webhook_url"] = url
    # Saved first: a running engine picks the secret up before the first delivery.
    save_config(where, config)

    async def go() -> Any:
        async with client:
            return await register_webhooks(client, config.till_id, url, config.webhook_secret)

    try:
        actions = asyncio.run(go())
    except WooError as exc:
        raise click.ClickException(f"could not register the webhooks: {printable(exc)}") from None
    for a in actions:
        click.echo(printable(f"{a.action:<18} #{a.webhook_id:<6} {a.topic:<18} {a.status}"))
    click.echo(printable(f"deliveries go to {url}"))


@webhooks.command("status")
@home_option
@click.option("--json", "as_json", is_flag=True, help="Print the webhooks as JSON.")
def webhook_status(home: Path | None, as_json: bool) -> None:
    """Show this till's webhooks on the store and whether they are active."""
    from onetill.engine.register import TOPICS, list_ours
    from onetill.woo.errors import WooError

    config, client = _client(connected(home))

    async def go() -> list[dict[str, Any]]:
        async with client:
            return await list_ours(client, config.till_id)

    try:
        hooks = asyncio.run(go())
    except WooError as exc:
        raise click.ClickException(f"could not list the webhooks: {printable(exc)}") from None
    rows = [
        {k: h.get(k) for k in ("id", "topic", "status", "delivery_url", "date_modified_gmt")}
        for h in hooks
    ]
    if as_json:
        click.echo(json.dumps(rows))
        return
    if not rows:
        click.echo("no webhooks for this till: run `onetill webhooks register PUBLIC_URL`")
        return
    for r in rows:
        click.echo(printable(
            f"#{r['id']:<6} {r['topic']:<18} {r['status']:<9} {r['delivery_url']}"
        ))  # fmt: skip
    missing = sorted(set(TOPICS) - {str(r["topic"]) for r in rows})
    inactive = [r for r in rows if r["status"] != "active"]
    if missing:
        click.echo(f"missing topics: {', '.join(missing)} (run `onetill webhooks register`)")
    if inactive:
        click.echo(
            f"{len(inactive)} webhook(s) not active: WooCommerce disables a webhook after "
            "more than 5 failed deliveries; `onetill webhooks register` re-enables them"
        )


@click.command()
@home_option
@click.option("--port", type=PlainInt(0, 65535), default=0, show_default=True,
              help="Port of the engine (0: any free port).")
@click.option("--products", type=PlainInt(1, 100_000), default=300, show_default=True,
              help="Simple products in the generated store.")
@click.option("--variable", type=PlainInt(0, 10_000), default=40, show_default=True,
              help="Variable products (2-6 variations each).")
@click.option("--no-browser", is_flag=True, help="Do not open the till screen in a browser.")
@_intervals
def demo(
    home: Path | None, port: int, products: int, variable: int, no_browser: bool, **kw: Any
) -> None:
    """A sandbox store with a generated catalog, synced, and the till screen running on it."""
    from onetill.engine.demo import DemoError, run_demo
    from onetill.engine.lock import LockHeldError
    from onetill.web import TerminalCard, till_ui

    where = usable_home(home)
    settings = _settings(where, "127.0.0.1", port, kw)
    # The demo's simulated S710 and its "customer", who presents a test card (Visa by
    # default; the demo panel picks another).
    card = TerminalCard(where, test_card="success")
    try:
        run_demo(settings, products=products, variable=variable, log_json=kw["log_json"],
                 ui=till_ui(card=card), open_browser=not no_browser)
    except (DemoError, LockHeldError, OSError) as exc:
        raise click.ClickException(printable(exc)) from None
