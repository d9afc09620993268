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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from onetill.cli.catalog import home_option
from onetill.config import Config, NotConnectedError, home_dir, load_config
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
                force=True,
                settle_s=settle_s,
                min_resend_age_s=min_age_s,
            )
            nxt = report.next_attempt_at
            if report.paused or report.busy or nxt is None:
                return report
            pause = (nxt - datetime.now(UTC)).total_seconds()
            if time.monotonic() + max(pause, 0) > deadline:
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
        try:
            qty = int(qty_text)
        except ValueError:
            raise click.BadParameter(
                f"{raw!r}: the quantity after ':' must be a whole number (e.g. SKU-1:2)"
            ) from None
        out.append((code, qty))
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
) -> None:
    """Record a sale exactly as the till screen does, then upload it when online."""
    from onetill.pos.cart import Cart
    from onetill.pos.sale import record_sale
    from onetill.pos.tender import Payment, parse_amount
    from onetill.store.orders import get_order

    home_path = home_dir(home)
    cfg = _config(home_path)
    wanted = _parse_items(items)
    with open_database(home_path) as db:
        try:
            cart = Cart(db.conn, timezone=cfg.timezone)
            for code, qty in wanted:
                cart.add(code, qty)
            amount = parse_amount(tendered) if tendered is not None else None
        except ValueError as exc:  # CartError, TenderError, PriceError, bad store settings
            raise click.ClickException(f"{exc}; nothing was recorded") from None
        online = False if offline else asyncio.run(_probe(cfg))
        methods = _payment_methods(cfg)
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
            raise click.ClickException(f"{exc}; nothing was recorded") from None
        for warning in sale.warnings:
            click.echo(f"warning: {warning}", err=True)
        if online:
            # The sale is committed: from here on nothing may make `sell` look
            # failed, or the cashier sells again and the customer pays twice.
            try:
                report = asyncio.run(_drain(db, cfg))
            except Exception as exc:  # reported below; `onetill drain` retries
                click.echo(
                    f"warning: the sale is recorded, but uploading it failed ({exc}); "
                    "`onetill drain` will try again",
                    err=True,
                )
            else:
                for error in report.errors:
                    click.echo(f"warning: {error}", err=True)
        state = get_order(db.conn, sale.uuid, with_lines=False).state
    result = {
        "uuid": sale.uuid,
        "total": str(sale.total),
        "change": str(sale.change),
        "state": state,
    }
    if as_json:
        click.echo(json.dumps(result))
    else:
        click.echo(f"paid     {sale.total} ({pay})")
        if pay == "cash":
            click.echo(f"change   {sale.change}")
        click.echo(f"order    {sale.uuid}  {state}")


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
    with open_database(home_dir(home)) as db:
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
        click.echo(
            f"{r['uuid']}  {r['state']:<23} {ref:<8} {r['total']:>10}  {r['created_at']}"
            f"  attempts {r['attempts']}{err}"
        )


@click.command()
@home_option
@click.option(
    "--settle", type=float, default=None, help="Seconds before an unknown outcome is looked up."
)
@click.option("--wait", type=float, default=0.0, help="Also retry what is due within S seconds.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def drain(home: Path | None, settle: float | None, wait: float, as_json: bool) -> None:
    """Upload pending orders now (FIFO; looks up any order whose fate is unknown)."""
    home_path = home_dir(home)
    cfg = _config(home_path)
    with open_database(home_path) as db:
        report = asyncio.run(_drain(db, cfg, settle=settle, wait=wait))
    if as_json:
        click.echo(json.dumps(report.as_dict()))
        return
    if report.busy:
        click.echo("another drain is running for this till; try again in a moment")
        return
    click.echo(
        f"uploaded {len(report.synced)}, with differences {len(report.discrepancies)}, "
        f"failed {len(report.failed)}, to retry {len(report.retry_later)}, "
        f"looked up {report.looked_up} ({len(report.found_by_lookup)} found)"
    )
    if report.paused:
        click.echo(report.paused)
    for error in report.errors:
        click.echo(f"warning: {error}")


@click.command()
@home_option
@click.argument("uuid")
def retry(home: Path | None, uuid: str) -> None:
    """Put a failed order back in the queue and try to upload it now."""
    from onetill.store.orders import OrderStateError, retry_order

    home_path = home_dir(home)
    cfg = _config(home_path)
    with open_database(home_path) as db:
        try:
            with db.write() as conn:
                rec = retry_order(conn, uuid, datetime.now(UTC))
        except (KeyError, OrderStateError) as exc:
            raise click.ClickException(str(exc).strip("'\"")) from None
        click.echo(f"order {rec.uuid} queued again")
        report = asyncio.run(_drain(db, cfg))
        if rec.uuid in report.synced:
            click.echo(f"order {rec.uuid} uploaded")
        elif report.paused:
            click.echo(report.paused)


@click.command()
@home_option
@click.argument("uuid")
@click.option("--reason", required=True, help="Why it is voided (kept with the order).")
def void(home: Path | None, uuid: str, reason: str) -> None:
    """Void a failed order: never uploaded, kept forever, local stock restored."""
    from onetill.store.orders import OrderStateError, void_order

    with open_database(home_dir(home)) as db:
        try:
            with db.write() as conn:
                rec = void_order(conn, uuid, reason)
        except (KeyError, OrderStateError) as exc:
            raise click.ClickException(str(exc).strip("'\"")) from None
    click.echo(f"order {rec.uuid} voided: {reason}")


@click.command()
@home_option
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.option("--limit", type=int, default=200, help="At most this many, newest first.")
def discrepancies(home: Path | None, as_json: bool, limit: int) -> None:
    """Values the store overrode, and why."""
    import msgspec

    from onetill.store.discrepancies import list_discrepancies

    with open_database(home_dir(home)) as db:
        rows = list_discrepancies(db.conn, limit=limit)
    if as_json:
        click.echo(msgspec.json.encode(rows).decode())
        return
    if not rows:
        click.echo("no discrepancies")
    for d in rows:
        click.echo(
            f"{d.at}  {d.object_type} {d.object_id} {d.field}: "
            f"local {d.local_value}, store {d.store_value} ({d.cause})"
        )
