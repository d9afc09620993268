"""``onetill lookup``, and what ``drain``, ``retry`` and ``void`` do with the outbox.

A merchant always has a way out of a stuck order:

* ``onetill lookup UUID`` asks the store now, whatever the order's timers
  say: found -> recorded as uploaded; not there -> says when it is sent
  again; a second copy in the store -> flagged, both numbers named.
* ``onetill retry UUID`` makes a failed, pending or in-flight order due now
  (an order in flight is looked up first, never blindly resent).
* ``onetill void UUID`` voids a failed order; one in flight only after a
  lookup shows the store does not have it and its upload can no longer land.

``drain`` exits with ``EXIT_KEYS_REJECTED`` when the store refused the keys,
says each message once, and names every order that still waits.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import click

from onetill.cli.common import connected, home_option
from onetill.cli.output import printable
from onetill.config import Config, NotConnectedError, load_config
from onetill.store import Database, open_database

__all__ = [
    "EXIT_KEYS_REJECTED",
    "lookup",
    "print_drain_report",
    "retry_now",
    "void_now",
]

# As `onetill connect` says when the keys are refused.
EXIT_KEYS_REJECTED = 5


def _config(home: Path) -> Config:
    try:
        return load_config(home)
    except NotConnectedError as exc:
        raise click.ClickException(printable(exc)) from None


def _min_age(cfg: Config) -> float:
    return float(cfg.extra.get("outbox_min_resend_age_s", 120.0))


def _when(at: Any) -> str:
    return "now" if at is None else f"{at:%Y-%m-%d %H:%M:%S} UTC (store time)"


def print_drain_report(report: Any, as_json: bool) -> int:
    """Print what a drain did; return the exit code (non-zero when the keys were refused)."""
    code = EXIT_KEYS_REJECTED if report.paused else 0
    if as_json:
        click.echo(json.dumps(report.as_dict()))
        return code
    if report.busy:
        click.echo("another drain is running for this till; try again in a moment")
        return 0
    click.echo(
        f"uploaded {len(report.synced)}, with differences {len(report.discrepancies)}, "
        f"failed {len(report.failed)}, to retry {len(report.retry_later)}, "
        f"looked up {report.looked_up} ({len(report.found_by_lookup)} found)"
    )
    said: set[str] = set()
    if report.paused:
        click.echo(printable(report.paused), err=True)
        said.add(report.paused)
    for error in report.errors:
        if error not in said and not any(error in s for s in said):
            click.echo(f"warning: {printable(error)}", err=True)
            said.add(error)
    for w in report.waiting:
        what = "in flight, looked up" if w.state == "in_flight" else "pending, sent"
        line = f"waiting  {w.uuid}  {what} {_when(w.due_at)}"
        if w.last_error and not any(w.last_error in s for s in said):
            line += f": {printable(w.last_error)}"
        click.echo(line)
    return code


def retry_now(db: Database, uuid: str) -> Any:
    """Make the order due now; returns its record (raises ClickException when it cannot)."""
    from onetill.store.orders import OrderStateError
    from onetill.store.outbox import retry_order

    try:
        with db.write() as conn:
            rec = retry_order(conn, uuid)
    except (KeyError, OrderStateError) as exc:
        raise click.ClickException(printable(str(exc).strip("'\""))) from None
    if rec.state == "in_flight":
        click.echo(f"order {rec.uuid}: its last upload may have reached the store; looking it up")
    else:
        click.echo(f"order {rec.uuid} queued again")
    return rec


async def _lookup(db: Database, cfg: Config, uuids: list[str], then: Any = None) -> Any:
    from onetill.engine.jobs import build_client
    from onetill.sync.outbox_resolve import lookup_orders

    timeout = float(cfg.extra.get("http_timeout_s", 30.0))
    async with build_client(cfg, timeout=timeout) as client:
        return await lookup_orders(
            client, db, uuids, plugin=cfg.plugin, min_resend_age_s=_min_age(cfg), then=then
        )


def _resolved(home: Path, uuid: str, then: Any = None) -> tuple[Any, Any, Any]:
    """Look one order up now: (record before, resolver or None when busy, record after)."""
    from onetill.store.orders import get_order

    cfg = _config(home)
    with open_database(home) as db:
        try:
            before = get_order(db.conn, uuid, with_lines=False)
        except KeyError as exc:
            raise click.ClickException(printable(str(exc).strip("'\""))) from None
        resolver = asyncio.run(_lookup(db, cfg, [before.uuid], then))
        after = get_order(db.conn, before.uuid, with_lines=False)
    return before, resolver, after


def _busy() -> click.ClickException:
    return click.ClickException(
        "the engine is uploading orders right now; try again in a moment"
    )


@click.command()
@home_option
@click.argument("uuid")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def lookup(home: Path | None, uuid: str, as_json: bool) -> None:
    """Look an order up in the store now, whatever its timers say."""
    from onetill.sync.outbox_resolve import Fate

    before, resolver, after = _resolved(connected(home), uuid)
    if resolver is None:
        raise _busy()
    fate = resolver.fates.get(before.uuid, Fate.UNKNOWN)
    due = resolver.due.get(before.uuid)
    if as_json:
        click.echo(json.dumps({
            "uuid": after.uuid, "fate": fate, "state_before": before.state,
            "state": after.state, "number": after.remote_number, "copies": after.copies,
            "due_at": None if due is None else due.isoformat(),
            "errors": resolver.ctx.report.errors,
        }))  # fmt: skip
        return
    if fate == Fate.UNKNOWN:
        errors = "; ".join(resolver.ctx.report.errors) or "the store did not answer"
        raise click.ClickException(printable(f"could not look order {after.uuid} up: {errors}"))
    if fate == Fate.FOUND:
        click.echo(f"order {after.uuid} is in the store as #{after.remote_number} ({after.state})")
    elif fate == Fate.TOO_YOUNG:
        click.echo(
            f"order {after.uuid} is not in the store yet; its upload may still land, so it is "
            f"looked up again at {_when(due)} before it is sent again"
        )
    elif before.state == "in_flight":
        click.echo(f"order {after.uuid} is not in the store; it is sent again now")
    else:
        click.echo(f"order {after.uuid} is not in the store ({after.state})")
    if after.copies:
        click.echo(printable(
            f"attention: {after.discrepancy or 'the store holds this sale more than once'}"
        ))


def void_now(home: Path, uuid: str, reason: str) -> Any:
    """Void the order; one in flight is looked up first and voided only if provably absent."""
    from onetill.store.orders import OrderStateError, get_order
    from onetill.store.outbox import void_order
    from onetill.sync.outbox_resolve import Fate

    def void(db: Database, absent: bool) -> Any:
        try:
            with db.write() as conn:
                return void_order(conn, rec.uuid, reason, absent_from_store=absent)
        except (KeyError, OrderStateError) as exc:
            raise click.ClickException(printable(str(exc).strip("'\""))) from None

    with open_database(home) as db:
        try:
            rec = get_order(db.conn, uuid, with_lines=False)
        except KeyError as exc:
            raise click.ClickException(printable(str(exc).strip("'\""))) from None
        if rec.state != "in_flight":
            return void(db, False)
    voided: list[Any] = []

    def void_if_absent(resolver: Any) -> None:
        # Under the drain lock: nothing can resend it between the lookup and the void.
        if resolver.fates.get(rec.uuid) == Fate.ABSENT:
            voided.append(void(resolver.ctx.db, True))

    _, resolver, after = _resolved(home, rec.uuid, void_if_absent)
    if resolver is None:
        raise _busy()
    if voided:
        return voided[0]
    fate = resolver.fates.get(rec.uuid, Fate.UNKNOWN)
    if fate == Fate.FOUND:
        raise click.ClickException(
            f"order {rec.uuid} is in WooCommerce as #{after.remote_number}; "
            "refund or cancel it there"
        )
    if fate == Fate.TOO_YOUNG:
        raise click.ClickException(
            f"order {rec.uuid} is not in the store yet, but its upload may still land; "
            f"try again after {_when(resolver.due.get(rec.uuid))}"
        )
    errors = "; ".join(resolver.ctx.report.errors) or "the store did not answer"
    raise click.ClickException(
        f"order {rec.uuid} may have reached the store and it cannot be checked now "
        f"({errors}); try again when the store answers"
    )
