"""``onetill sell``, ``orders``, ``drain``, ``retry``, ``void`` and ``discrepancies``.

``sell`` goes through the same code as the till screen: a cart, a payment,
:func:`onetill.pos.sale.record_sale` (one transaction), and only then an
upload attempt when the store is reachable. A sale never waits for the
network to be recorded.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from onetill.cli.common import connected, home_option
from onetill.cli.output import printable
from onetill.cli.params import PLAIN_INT, PlainFloat, PlainInt
from onetill.config import Config, NotConnectedError, load_config
from onetill.store import Database, open_database

__all__ = ["discrepancies", "drain", "orders", "retry", "sell", "void"]

# How long `sell` waits to learn whether the store answers at all.
ONLINE_PROBE_TIMEOUT_S = 5.0


def _config(home: Path) -> Config:
    try:
        return load_config(home)
    except NotConnectedError as exc:
        raise click.ClickException(str(exc)) from None


def _client(cfg: Config, timeout: float = 30.0) -> Any:
    # The one way a saved connection becomes a client (CA file, insecure, query auth).
    from onetill.engine.jobs import build_client

    return build_client(cfg, timeout=timeout)


def _setting(cfg: Config, name: str, default: Any) -> Any:
    return cfg.extra.get(name, default)


async def _probe(cfg: Config) -> bool:
    """Whether the store answers an authenticated request right now."""
    from onetill.woo.errors import WooError

    async with _client(cfg, timeout=ONLINE_PROBE_TIMEOUT_S) as client:
        client.max_attempts = 1
        try:
            await client.get("orders", {"per_page": 1, "_fields": "id"})
        except (WooError, OSError):
            return False
    return True


async def _drain(
    db: Database, cfg: Config, *, settle: float | None = None, wait: float = 0.0
) -> Any:
    """Drain until nothing is due (waiting up to ``wait`` seconds for retry times)."""
    from onetill.sync.outbox import drain as drain_outbox
    from onetill.sync.plugin import known_plugin

    settle_s = float(settle if settle is not None else _setting(cfg, "outbox_settle_s", 30.0))
    min_age_s = float(_setting(cfg, "outbox_min_resend_age_s", 120.0))
    deadline = time.monotonic() + wait
    timeout = float(_setting(cfg, "http_timeout_s", 30.0))
    async with _client(cfg, timeout=timeout) as client:
        while True:
            report = await drain_outbox(
                client,
                db,
                batch_size=int(_setting(cfg, "outbox_batch_size", 10)),
                plugin=cfg.plugin,
                # Keyed uploads when the engine last saw the plugin (a plugin removed
                # since answers rest_no_route, and the sale goes plainly).
                idempotent=known_plugin(db).has("idempotent_orders"),
                force=True,
                settle_s=settle_s,
                min_resend_age_s=min_age_s,
            )
            # Seconds by the store's clock, never the till's (which may jump).
            pause = report.retry_in_s
            if report.paused or report.busy or pause is None:
                return report
            if time.monotonic() + pause > deadline:
                return report
            await asyncio.sleep(max(pause, 0.05))


def _payment_methods(cfg: Config) -> Any:
    from onetill.pos.tender import PaymentMethods

    raw = _setting(cfg, "payment_methods", {})
    known = set(PaymentMethods.__dataclass_fields__)
    if not isinstance(raw, dict) or not set(raw) <= known:
        raise click.ClickException(
            f"config.json: payment_methods must be an object with keys {sorted(known)}"
        )
    return PaymentMethods(**{k: str(v) for k, v in raw.items()})


def _parse_items(items: Sequence[str]) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    for raw in items:
        code, sep, qty_text = raw.rpartition(":")
        if not sep:
            code, qty_text = raw, "1"
        # Digits 0-9 only: int() would read "+2", "1_0" or Arabic-Indic digits.
        if not (len(qty_text) <= 9 and PLAIN_INT.fullmatch(qty_text)):
            raise click.BadParameter(
                f"{printable(repr(raw))}: the quantity after ':' must be a whole number "
                "written with the digits 0-9 (e.g. SKU-1:2)",
                param_hint="SKU[:QTY]",
            )
        out.append((code, int(qty_text)))
    return out


@click.command()
@home_option
@click.argument("items", nargs=-1, required=True, metavar="SKU[:QTY]...")
@click.option("--pay", type=click.Choice(["cash", "card"]), required=True, help="How it is paid.")
@click.option("--tendered", help="Cash handed over (default: the exact total).")
@click.option("--txn", default="", help="Card payment's transaction id (Stripe pi_... or ch_...).")
@click.option("--brand", default="", help="Card brand, e.g. visa.")
@click.option("--last4", default="", help="Card's last four digits.")
@click.option("--json", "as_json", is_flag=True, help="Print uuid, total, change, state as JSON.")
@click.option("--offline", is_flag=True, help="Do not contact the store (record only).")
@click.option("--test-card", default=None, metavar="NAME",
              help="Card on a simulated reader: the till presents this test card itself "
              "(success, declined, insufficient_funds, timeout, ...).")
def sell(
    home: Path | None,
    items: tuple[str, ...],
    pay: str,
    tendered: str | None,
    txn: str,
    brand: str,
    last4: str,
    as_json: bool,
    offline: bool,
    test_card: str | None,
) -> None:
    """Record a sale exactly as the till screen does, then upload it when online.

    ``--pay card`` takes the payment on the till's Stripe reader (see
    ``onetill stripe connect``); with ``--txn`` it records a card payment
    taken on another terminal instead.
    """
    from onetill.pos.cart import Cart
    from onetill.pos.sale import record_sale
    from onetill.pos.tender import Payment, parse_amount

    wanted = _parse_items(items)
    home_path = connected(home)
    cfg = _config(home_path)
    with open_database(home_path) as db:
        try:
            cart = Cart(db.conn, timezone=cfg.timezone)
            for code, qty in wanted:
                cart.add(code, qty)
            amount = parse_amount(tendered) if tendered is not None else None
        except ValueError as exc:  # CartError, TenderError, PriceError, bad store settings
            raise click.ClickException(f"{printable(exc)}; nothing was recorded") from None
        methods = _payment_methods(cfg)
        if pay == "card" and not txn:
            if offline:
                raise click.ClickException(
                    "a card payment on the reader needs the internet; take cash with --offline"
                )
            paid_uuid = _card_sale(home_path, cfg, db, cart, methods, test_card)
            online = asyncio.run(_probe(cfg))
            _upload(db, cfg, online)
            _report(db, paid_uuid, as_json, "card", _sold(cart))
            return
        if test_card:
            raise click.UsageError("--test-card goes with --pay card (and no --txn)")
        online = False if offline else asyncio.run(_probe(cfg))
        try:
            sale = record_sale(
                db,
                cart,
                Payment(pay, amount, txn, brand, last4),
                till_id=cfg.till_id,
                online=online,
                out_of_stock=_setting(cfg, "out_of_stock", "warn"),
                methods=methods,
            )
        except ValueError as exc:  # CartError, TenderError, PriceError, bad store settings
            raise click.ClickException(f"{printable(exc)}; nothing was recorded") from None
        for warning in sale.warnings:
            click.echo(f"warning: {printable(warning)}", err=True)
        _upload(db, cfg, online)
        _report(db, sale.uuid, as_json, pay, _sold(cart))


def _sold(cart: Any) -> list[dict[str, Any]]:
    """The items a sale sold, as ``sell`` prints them."""
    return [
        {"id": line.item_id, "sku": line.sku, "name": line.name, "quantity": line.quantity,
         "unit_price": str(line.unit_price)}
        for line in cart.lines
    ]  # fmt: skip


def _upload(db: Database, cfg: Config, online: bool) -> None:
    if not online:
        return
    # The sale is committed: from here on nothing may make `sell` look
    # failed, or the cashier sells again and the customer pays twice.
    try:
        report = asyncio.run(_drain(db, cfg))
    except Exception as exc:  # reported below; `onetill drain` retries
        click.echo(
            f"warning: the sale is recorded, but uploading it failed ({printable(exc)}); "
            "`onetill drain` will try again",
            err=True,
        )
    else:
        for error in report.errors:
            click.echo(f"warning: {printable(error)}", err=True)


def _report(db: Database, uuid: str, as_json: bool, pay: str, sold: list[dict[str, Any]]) -> None:
    from onetill.store.orders import get_order

    order = get_order(db.conn, uuid, with_lines=False)
    result = {
        "uuid": order.uuid,
        "total": order.total,
        "change": order.change or "0",
        "state": order.state,
        "items": sold,
    }
    if order.transaction_id:
        result.update({"transaction_id": order.transaction_id, "charge_id": order.charge_id,
                       "card_brand": order.card_brand, "card_last4": order.card_last4})
    if as_json:
        click.echo(json.dumps(result))
        return
    for item in sold:
        click.echo(printable(
            f"sold     {item['quantity']} x {item['sku'] or '#' + str(item['id'])}  "
            f"{item['name']}  @ {item['unit_price']}"
        ))  # fmt: skip
    card = " ".join(x for x in (order.card_brand, order.card_last4 and "•••• " + order.card_last4)
                    if x)  # fmt: skip
    click.echo(f"paid     {order.total} ({pay}{' ' + card if card else ''})")
    if pay == "cash":
        click.echo(f"change   {order.change}")
    click.echo(f"order    {order.uuid}  {order.state}")


def _card_sale(
    home: Path, cfg: Config, db: Database, cart: Any, methods: Any, test_card: str | None
) -> str:
    """Take the card payment on the reader; the paid sale's UUID (ClickException if not paid)."""
    from onetill.cli.stripe import card_payments, fail
    from onetill.pay import PayError, describe
    from onetill.pos.sale import prepare_sale
    from onetill.pos.tender import Payment

    try:
        prepared = prepare_sale(
            db, cart, Payment("card"), till_id=cfg.till_id, online=True,
            out_of_stock=_setting(cfg, "out_of_stock", "warn"), methods=methods,
        )  # fmt: skip
    except ValueError as exc:
        raise click.ClickException(f"{printable(exc)}; nothing was recorded") from None
    for warning in prepared.warnings:
        click.echo(f"warning: {printable(warning)}", err=True)
    shown: list[str] = []

    def show(p: Any) -> None:
        if p.reader_text and p.reader_text not in shown[-1:]:
            shown.append(p.reader_text)
            click.echo(f"reader: {printable(p.reader_text)}", err=True)

    payments = card_payments(home, db, cfg.till_id,
                             wait_s=float(_setting(cfg, "card_wait_s", 180.0)))  # fmt: skip
    payments.on_update = show
    try:
        attempt, settled = payments.begin(prepared.order, prepared.lines)
        for earlier in settled:
            note = ("was paid: its sale is now recorded" if earlier.paid
                    else f"was {earlier.state}")  # fmt: skip
            click.echo(f"note: an earlier card payment ({earlier.sale_uuid}) {note}", err=True)
        click.echo(f"card payment of {prepared.total} {prepared.order.currency}: "
                   f"attempt {attempt.id[:8]}", err=True)  # fmt: skip
        try:
            result = payments.pay(attempt.id, test_card=test_card)
        except KeyboardInterrupt:
            result = payments.cancel(attempt.id)
    except (PayError, ValueError) as exc:
        raise fail(exc) from None
    finally:
        payments.gateway.close()
    if result.paid:
        return str(result.sale_uuid)
    if result.unknown or result.state == "processing":
        raise click.ClickException(printable(f"{describe(result)}: {result.reason}"))
    raise click.ClickException(
        printable(f"card not paid: {result.reason} Nothing was recorded.")
    )


@click.command()
@home_option
@click.option("--pending", "which", flag_value="pending", help="Orders not yet in the store.")
@click.option("--failed", "which", flag_value="failed", help="Orders that need attention.")
@click.option("--all", "which", flag_value="all", default=True, help="Every order (default).")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def orders(home: Path | None, which: str, as_json: bool) -> None:
    """List the till's orders and their sync state."""
    from onetill.store.orders import list_orders

    states = {
        "pending": ["pending_sync", "in_flight"],
        "failed": ["failed", "synced_with_discrepancy"],
        "all": None,
    }[which]
    with open_database(connected(home)) as db:
        rows = [o.as_dict() for o in list_orders(db.conn, states)]
    if as_json:
        click.echo(json.dumps(rows))
        return
    if not rows:
        click.echo("no orders")
    for r in rows:
        ref = f"#{r['number']}" if r["number"] else "-"
        why = r["last_error"] or r["discrepancy"]
        err = f"  {why}" if why else ""
        click.echo(printable(
            f"{r['uuid']}  {r['state']:<23} {ref:<8} {r['total']:>10}  {r['created_at']}"
            f"  attempts {r['attempts']}{err}"
        ))  # fmt: skip


@click.command()
@home_option
@click.option("--settle", type=PlainFloat(0, 3600), default=None,
              help="Seconds before an unknown outcome is looked up.")
@click.option("--wait", type=PlainFloat(0, 3600), default=0.0,
              help="Also retry what is due within S seconds.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def drain(home: Path | None, settle: float | None, wait: float, as_json: bool) -> None:
    """Upload pending orders now (FIFO; looks up any order whose fate is unknown)."""
    from onetill.cli.queue import print_drain_report

    home_path = connected(home)
    cfg = _config(home_path)
    with open_database(home_path) as db:
        report = asyncio.run(_drain(db, cfg, settle=settle, wait=wait))
    code = print_drain_report(report, as_json)
    if code:
        raise click.exceptions.Exit(code)


@click.command()
@home_option
@click.argument("uuid")
def retry(home: Path | None, uuid: str) -> None:
    """Try a failed, pending or in-flight order now (one in flight is looked up first)."""
    from onetill.cli.queue import retry_now

    home_path = connected(home)
    cfg = _config(home_path)
    with open_database(home_path) as db:
        rec = retry_now(db, uuid)
        report = asyncio.run(_drain(db, cfg))
        if rec.uuid in report.synced:
            click.echo(f"order {rec.uuid} uploaded")
        elif report.paused:
            click.echo(printable(report.paused))


@click.command()
@home_option
@click.argument("uuid")
@click.option("--reason", required=True, help="Why it is voided (kept with the order).")
def void(home: Path | None, uuid: str, reason: str) -> None:
    """Void an order that never reached the store: kept forever, local stock restored."""
    from onetill.cli.queue import void_now

    rec = void_now(connected(home), uuid, reason)
    click.echo(printable(f"order {rec.uuid} voided: {reason}"))


@click.command()
@home_option
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.option("--limit", type=PlainInt(1, 100_000), default=200,
              help="At most this many, newest first.")
def discrepancies(home: Path | None, as_json: bool, limit: int) -> None:
    """Values the store overrode, and why."""
    import msgspec

    from onetill.store.discrepancies import list_discrepancies

    with open_database(connected(home)) as db:
        rows = list_discrepancies(db.conn, limit=limit)
    if as_json:
        click.echo(msgspec.json.encode(rows).decode())
        return
    if not rows:
        click.echo("no discrepancies")
    for d in rows:
        click.echo(printable(
            f"{d.at}  {d.object_type} {d.object_id} {d.field}: "
            f"local {d.local_value}, store {d.store_value} ({d.cause})"
        ))  # fmt: skip
