"""``onetill refund UUID [--amount A] [--item SKU[:QTY]]...``: give money back for a sale.

A card sale paid on the till's reader is refunded through Stripe first
(idempotency key stored before the call); then the refund is recorded in
WooCommerce (``api_refund: false``, returned items restocked) through the
outbox, now if the store answers, later if not. A cash sale skips Stripe:
hand the cash back. Both parts are on disk before either is attempted.
"""

from __future__ import annotations

import asyncio
import json
import uuid as _uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from onetill.cli.common import connected, home_option

__all__ = ["refund"]


@click.command()
@home_option
@click.argument("uuid")
@click.option("--amount",
              help="Refund this much (default: what is left; with --item: their value).")
@click.option("--item", "items", multiple=True, metavar="SKU[:QTY]",
              help="Items brought back (restocked). Repeat for several.")
@click.option("--reason", default="", help="Why (kept on the refund in WooCommerce).")
@click.option("--json", "as_json", is_flag=True, help="Print the refund as JSON.")
def refund(
    home: Path | None, uuid: str, amount: str | None, items: tuple[str, ...], reason: str,
    as_json: bool,
) -> None:
    """Refund a sale: the card through Stripe (if paid on the reader), then WooCommerce."""
    from onetill.cli.sales import _config, _drain, _parse_items, _probe
    from onetill.pos.refund import RefundError, plan_refund
    from onetill.pos.tender import TenderError, parse_amount
    from onetill.store import open_database
    from onetill.store.orders import get_order
    from onetill.store.refunds import get_refund, insert_refund, refunds_of

    where = connected(home)
    cfg = _config(where)
    with open_database(where) as db:
        try:
            with db.lock:
                order = get_order(db.conn, uuid)
        except KeyError as exc:
            raise click.ClickException(str(exc).strip("'\"")) from None
        stripe_paid = order.transaction_id.startswith("pi_") and bool(order.charge_id)
        pending = [r for r in refunds_of(db.conn, order.uuid) if r.state == "stripe_pending"]
        if pending:
            # An earlier refund whose Stripe answer was lost: finish it (same key), never twice.
            click.echo(f"finishing an earlier refund of {pending[0].amount} first", err=True)
            record = _stripe(where, db, pending[0], order)
        else:
            try:
                wanted = parse_amount(amount) if amount is not None else None
                plan = plan_refund(db.conn, order, amount=wanted, items=_parse_items(items))
            except (RefundError, TenderError) as exc:
                raise click.ClickException(f"{exc}; nothing was refunded") from None
            refund_id = str(_uuid.uuid4())
            with db.write() as conn:
                record = insert_refund(
                    conn, uuid=refund_id, order_uuid=order.uuid,
                    state="stripe_pending" if stripe_paid else "pending_sync",
                    amount=plan.amount, reason=reason, lines=plan.lines,
                    stripe_key=f"onetill-refund-{refund_id}" if stripe_paid else None,
                    now=datetime.now(UTC),
                )  # fmt: skip
            if stripe_paid:
                record = _stripe(where, db, record, order)
        if record.state == "failed":
            raise click.ClickException(f"{record.last_error}; nothing was refunded")
        if asyncio.run(_probe(cfg)):
            try:
                asyncio.run(_drain(db, cfg))
            except Exception as exc:  # the refund is recorded; the outbox retries
                click.echo(f"warning: recording the refund in WooCommerce failed ({exc}); "
                           "`onetill drain` will try again", err=True)  # fmt: skip
        with db.lock:
            record = get_refund(db.conn, record.uuid)
    if as_json:
        click.echo(json.dumps(record.as_dict()))
        return
    how = f"to the card (Stripe {record.stripe_refund_id})" if stripe_paid else "in cash"
    if not stripe_paid and order.payment_method != cfg.extra.get("payment_methods", {}).get(
        "cash_id", "onetill_cash"
    ):  # fmt: skip
        how = "(paid on another terminal: refund the card there)"
    click.echo(f"refunded {Decimal(record.amount)} {how}")
    store_state = {"synced": f"recorded in WooCommerce (refund #{record.remote_id})",
                   "failed": f"WooCommerce refused it: {record.last_error}"}.get(
        record.state, "to be recorded in WooCommerce (`onetill drain` retries)")  # fmt: skip
    click.echo(f"refund   {record.uuid}  {store_state}")


def _stripe(where: Path, db: Any, record: Any, order: Any) -> Any:
    from onetill.cli.stripe import _gateway, fail
    from onetill.pay import StripeError, StripeUnreachableError
    from onetill.pay.refunds import stripe_refund

    gateway = _gateway(where)
    try:
        return stripe_refund(gateway, db, record, order.transaction_id, order.currency)
    except StripeUnreachableError:
        raise click.ClickException(
            "the card refund is not done yet: Stripe can't be reached. Run the same "
            "`onetill refund` again when online: it finishes this refund, never a second one"
        ) from None
    except StripeError as exc:
        raise fail(exc) from None
    finally:
        gateway.close()
