"""``onetill stripe connect|webhook``, ``onetill readers ...`` and ``onetill payments ...``.

The Stripe secret key is stored like the WooCommerce secret (keyring or a
0600 file) and is never printed: commands show it as ``sk_test_...1234``.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import click

from onetill.cli.common import home_option, usable_home
from onetill.config import NotConnectedError, StripeConfig, load_stripe, save_stripe

__all__ = ["payments", "readers", "stripe_group"]


def stripe_settings(home: Path) -> Any:
    """The saved setup as ``pay.StripeSettings`` (ClickException when there is none)."""
    from onetill.pay import StripeSettings

    try:
        cfg = load_stripe(home)
    except NotConnectedError as exc:
        raise click.ClickException(str(exc)) from None
    return StripeSettings(
        key=cfg.key, api_base=cfg.api_base, location=cfg.location, reader=cfg.reader,
        webhook_secret=cfg.webhook_secret,
    )  # fmt: skip


def _gateway(home: Path) -> Any:
    from onetill.pay import StripeGateway

    return StripeGateway(stripe_settings(home), budget_s=15.0)


def fail(exc: Exception) -> click.ClickException:
    return click.ClickException(getattr(exc, "message", None) or str(exc))


@click.group("stripe")
def stripe_group() -> None:
    """Card payments through Stripe Terminal: connect the account."""


@stripe_group.command("connect")
@home_option
@click.option("--key", required=True, help="Stripe secret key (sk_live_... or sk_test_...).")
@click.option("--location", help="Terminal location (tml_...) of this shop.")
@click.option("--api-base", default=None, help="Another API address (the emulator's).")
def connect(home: Path | None, key: str, location: str | None, api_base: str | None) -> None:
    """Verify the key with Stripe and save it for this till."""
    from onetill.pay import DEFAULT_API_BASE, StripeError, StripeGateway, StripeSettings

    where = usable_home(home)
    if not key.startswith(("sk_", "rk_")):
        raise click.BadParameter("a Stripe secret key starts with sk_ (or rk_ for a restricted "
                                 "key); copy it from the Stripe dashboard", param_hint="--key")
    base = (api_base or DEFAULT_API_BASE).rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise click.BadParameter("an API address starts with https://", param_hint="--api-base")
    gateway = StripeGateway(StripeSettings(key=key, api_base=base), budget_s=15.0)
    try:
        locations = gateway.list_locations()
    except StripeError as exc:
        raise fail(exc) from None
    ids = [str(x["id"]) for x in locations]
    if location and location not in ids:
        raise click.ClickException(f"location {location} is not in this Stripe account "
                                   f"(known: {', '.join(ids) or 'none'})")  # fmt: skip
    old: StripeConfig | None
    try:
        old = load_stripe(where)
    except NotConnectedError:
        old = None
    cfg = StripeConfig(key=key, api_base=base, location=location or (ids[0] if len(ids) == 1
                       else None))  # fmt: skip
    if old is not None and old.key == key and old.api_base == base:
        cfg.reader, cfg.webhook_secret = old.reader, old.webhook_secret
        cfg.webhook_endpoint = old.webhook_endpoint
    stored = save_stripe(where, cfg)
    mode = "test mode" if "_test_" in key else "LIVE mode"
    click.echo(f"connected to Stripe ({mode}, key {cfg.key_hint}, stored in the {stored})")
    click.echo(f"location: {cfg.location or 'none chosen (pass --location tml_...)'}")
    click.echo("next: `onetill readers` to list readers, `onetill readers use tmr_...`")


@stripe_group.command("webhook")
@home_option
@click.argument("public_url")
def webhook(home: Path | None, public_url: str) -> None:
    """Have Stripe send reader events to PUBLIC_URL (this engine, as Stripe reaches it)."""
    from onetill.pay import StripeError
    from onetill.pay.events import WATCHED_EVENTS

    where = usable_home(home)
    cfg = load_stripe(where)
    url = public_url.rstrip("/") + "/webhooks/stripe"
    try:
        ep = _gateway(where).create_webhook_endpoint(url, WATCHED_EVENTS, secrets.token_hex(16))
    except StripeError as exc:
        raise fail(exc) from None
    cfg.webhook_secret, cfg.webhook_endpoint = ep.get("secret"), ep.get("id")
    save_stripe(where, cfg)
    click.echo(f"Stripe sends reader events to {url} ({ep.get('id')})")


@click.group(invoke_without_command=True)
@home_option
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
def readers(ctx: click.Context, home: Path | None, as_json: bool) -> None:
    """List the account's card readers (or register, simulate, choose one)."""
    if ctx.invoked_subcommand is not None:
        return
    from onetill.pay import StripeError

    where = usable_home(home)
    settings = stripe_settings(where)
    try:
        found = _gateway(where).list_readers(settings.location)
    except StripeError as exc:
        raise fail(exc) from None
    rows = [
        {"id": r["id"], "label": r.get("label"), "device_type": r.get("device_type"),
         "status": r.get("status"), "location": r.get("location"),
         "in_use": r["id"] == settings.reader}
        for r in found
    ]  # fmt: skip
    if as_json:
        click.echo(json.dumps(rows))
        return
    if not rows:
        click.echo("no readers: `onetill readers register CODE --label L` (or `readers simulate`)")
    for r in rows:
        mark = "*" if r["in_use"] else " "
        click.echo(f"{mark} {r['id']}  {r['status']:<8} {r['device_type']:<24} {r['label']}")


@readers.command("use")
@home_option
@click.argument("reader_id")
def use(home: Path | None, reader_id: str) -> None:
    """Take card payments on this reader."""
    from onetill.pay import StripeError

    where = usable_home(home)
    try:
        reader = _gateway(where).call(lambda c: c.v1.terminal.readers.retrieve(reader_id))
    except StripeError as exc:
        raise fail(exc) from None
    cfg = load_stripe(where)
    cfg.reader = str(reader["id"])
    save_stripe(where, cfg)
    click.echo(f"card payments go to {reader['id']} ({reader.get('label')}, "
               f"{reader.get('status')})")  # fmt: skip


def _location(where: Path, gateway: Any, test_only: bool) -> str:
    cfg = load_stripe(where)
    if cfg.location:
        return cfg.location
    found = gateway.list_locations()
    if found:
        return str(found[0]["id"])
    if not test_only:
        raise click.ClickException("the account has no Terminal location: create one in the "
                                   "Stripe dashboard, then `onetill stripe connect --location`")
    loc = gateway.create_location(
        {"display_name": "OneTill test shop", "address": {"line1": "1 Test Street",
         "city": "Berlin", "postal_code": "10115", "country": "DE"}}, secrets.token_hex(16))
    return str(loc["id"])  # fmt: skip


@readers.command("register")
@home_option
@click.argument("code")
@click.option("--label", required=True, help="A name for the reader, e.g. 'Front till'.")
def register(home: Path | None, code: str, label: str) -> None:
    """Register a reader with the code it shows (Settings > Generate pairing code)."""
    from onetill.pay import StripeError

    where = usable_home(home)
    gateway = _gateway(where)
    try:
        loc = _location(where, gateway, test_only=False)
        reader = gateway.register_reader(
            {"registration_code": code, "label": label, "location": loc}, secrets.token_hex(16)
        )
    except StripeError as exc:
        raise fail(exc) from None
    click.echo(f"registered {reader['id']} ({reader.get('device_type')}) at {loc}")
    click.echo(f"use it: onetill readers use {reader['id']}")


@readers.command("simulate")
@home_option
@click.option("--label", default="OneTill simulated S710", show_default=True)
def simulate(home: Path | None, label: str) -> None:
    """Create a simulated reader (test mode) and use it if none is chosen yet."""
    from onetill.pay import StripeAPIError, StripeError

    where = usable_home(home)
    settings = stripe_settings(where)
    if not settings.test_mode:
        raise click.ClickException("simulated readers exist in test mode only (sk_test_ key)")
    gateway = _gateway(where)
    try:
        loc = _location(where, gateway, test_only=True)
        try:
            reader = gateway.register_reader({"registration_code": "simulated-s710", "label": label,
                                              "location": loc}, secrets.token_hex(16))  # fmt: skip
        except StripeAPIError as exc:  # an account without simulated S710s: an S700 will do
            if exc.param_error() != "registration_code":
                raise
            reader = gateway.register_reader({"registration_code": "simulated-s700", "label": label,
                                              "location": loc}, secrets.token_hex(16))  # fmt: skip
    except StripeError as exc:
        raise fail(exc) from None
    cfg = load_stripe(where)
    if not cfg.reader:
        cfg.reader = str(reader["id"])
        save_stripe(where, cfg)
    click.echo(f"simulated reader {reader['id']} ({reader.get('device_type')})"
               + (" is in use" if cfg.reader == reader["id"] else ""))  # fmt: skip


@click.group(invoke_without_command=True)
@home_option
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
def payments(ctx: click.Context, home: Path | None, as_json: bool) -> None:
    """Card payment attempts (resume, cancel, recover those a crash left open)."""
    if ctx.invoked_subcommand is not None:
        return
    from onetill.store import open_database
    from onetill.store.card_payments import list_payments

    with open_database(usable_home(home)) as db:
        rows = [p.as_dict() for p in list_payments(db.conn)]
    if as_json:
        click.echo(json.dumps(rows))
        return
    if not rows:
        click.echo("no card payments")
    for r in rows:
        amount = f"{r['amount']} {r['currency']}"
        note = r["failure_reason"] or r["reader_text"] or ""
        click.echo(f"{r['id'][:8]}  {r['state']:<10} {amount:>12}  sale {r['sale_uuid'][:8]}  "
                   f"{r['intent_id'] or '-'}  {note}")  # fmt: skip


def card_payments(home: Path, db: Any, till_id: str, **kw: Any) -> Any:
    from onetill.engine.status import engine_url
    from onetill.pay import connect_payments

    settings = stripe_settings(home)
    # Stripe's webhooks reach the engine, which stores them where this process looks.
    webhooks = bool(settings.webhook_secret) and engine_url(home) is not None
    return connect_payments(db, settings, till_id=till_id, webhooks=webhooks, **kw)


@payments.command("recover")
@home_option
def recover(home: Path | None) -> None:
    """Ask Stripe about every open attempt: record what was paid, show what is in progress."""
    from onetill.cli.sales import _config
    from onetill.pay import describe
    from onetill.store import open_database

    where = usable_home(home)
    cfg = _config(where)
    with open_database(where) as db:
        results = card_payments(where, db, cfg.till_id).recover()
    if not results:
        click.echo("no open card payments")
    for r in results:
        click.echo(f"{r.payment_id[:8]}  sale {r.sale_uuid[:8]}  {describe(r)}")


@payments.command("resume")
@home_option
@click.argument("payment_id")
@click.option("--test-card", help="On a simulated reader, present this test card.")
def resume(home: Path | None, payment_id: str, test_card: str | None) -> None:
    """Carry on with a payment in progress (the reader may be waiting for the card)."""
    from onetill.cli.sales import _config
    from onetill.pay import PayError, describe
    from onetill.store import open_database

    where = usable_home(home)
    cfg = _config(where)
    with open_database(where) as db:
        try:
            result = card_payments(where, db, cfg.till_id).pay(payment_id, test_card=test_card)
        except (PayError, KeyError, ValueError) as exc:
            raise fail(exc) from None
    click.echo(describe(result))
    if not result.paid:
        raise SystemExit(1)


@payments.command("cancel")
@home_option
@click.argument("payment_id")
def cancel(home: Path | None, payment_id: str) -> None:
    """Cancel a payment for good (the reader and the PaymentIntent), unless it was paid."""
    from onetill.cli.sales import _config
    from onetill.pay import PayError, describe
    from onetill.store import open_database

    where = usable_home(home)
    cfg = _config(where)
    with open_database(where) as db:
        try:
            result = card_payments(where, db, cfg.till_id).abandon(payment_id)
        except (PayError, KeyError) as exc:
            raise fail(exc) from None
    click.echo(describe(result) if result.paid else f"{result.state}: {result.reason}")
