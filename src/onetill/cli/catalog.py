"""``onetill sync``, ``onetill product`` and ``onetill search``."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import click
import msgspec

from onetill.cli.common import connected, home_option
from onetill.cli.output import printable
from onetill.cli.params import PlainInt
from onetill.config import Config, NotConnectedError, load_config
from onetill.store import Database, open_database
from onetill.store.catalog import CatalogItem, lookup
from onetill.store.catalog import search as search_items
from onetill.store.sync_state import get_state, set_state

__all__ = ["PRODUCT_FIELDS", "home_option", "product", "search", "sync"]

PRODUCT_FIELDS = (
    "id",
    "parent_id",
    "sku",
    "name",
    "status",
    "price",
    "regular_price",
    "sale_price",
    "stock_quantity",
    "manage_stock",
    "sellable",
)

def _config(home: Path) -> Config:
    try:
        return load_config(home)
    except NotConnectedError as exc:
        raise click.ClickException(str(exc)) from None


async def _run_sync(db: Database, cfg: Config, *, full: bool, audit: bool) -> list[Any]:
    from onetill.engine.jobs import build_client
    from onetill.sync.catalog import audit_ids, delta_sync, initial_sync, needs_initial_sync
    from onetill.sync.progress import progress_bar

    meta_key = cfg.extra.get("barcode_meta_key") or None
    reports: list[Any] = []
    async with build_client(cfg) as client:
        if full or needs_initial_sync(db):
            with progress_bar() as show:
                reports.append(
                    await initial_sync(
                        client,
                        db,
                        show,
                        global_variations=cfg.global_variations,
                        barcode_meta_key=meta_key,
                        full=full,
                    )
                )
        else:
            reports.append(
                await delta_sync(
                    client, db, global_variations=cfg.global_variations, barcode_meta_key=meta_key
                )
            )
        if audit:
            reports.append(
                await audit_ids(
                    client, db, global_variations=cfg.global_variations, barcode_meta_key=meta_key
                )
            )
    return reports


@click.command()
@home_option
@click.option("--full", is_flag=True, help="Pull the whole catalog again (resumable).")
@click.option("--audit", is_flag=True, help="Also remove products the store deleted for good.")
@click.option("--json", "as_json", is_flag=True, help="Print what was done as JSON.")
def sync(home: Path | None, full: bool, audit: bool, as_json: bool) -> None:
    """Pull the catalog: the initial sync (resumable) the first time, then the changes."""
    from onetill.woo.errors import WooError

    where = connected(home)
    cfg = _config(where)
    with open_database(where) as db:
        with db.write() as conn:
            # The engine's own detection (plugin.features), once made, is more recent
            # than what `onetill connect` saw.
            if get_state(conn, "plugin.features") is None:
                set_state(conn, "store.plugin", "1" if cfg.plugin else "0")
        try:
            reports = asyncio.run(_run_sync(db, cfg, full=full, audit=audit))
        except WooError as exc:
            raise click.ClickException(
                f"sync failed: {printable(exc)}. The catalog stored so far is kept; "
                "run `onetill sync` again to resume."
            ) from None
    if as_json:
        click.echo(json.dumps([msgspec.to_builtins(r) for r in reports]))
        return
    for r in reports:
        line = f"{r.kind} sync: {r.applied} items stored"
        if r.skipped:
            line += f", {r.skipped} malformed items skipped (see the log)"
        if r.removed:
            line += f", {r.removed} removed (deleted in the store)"
        click.echo(line)
    if any(r.skipped for r in reports):
        click.echo("items the store sent that could not be taken are not sold until fixed in "
                   "WooCommerce: see `onetill status` and `onetill discrepancies`")


def _record(item: CatalogItem) -> dict[str, Any]:
    data: dict[str, Any] = msgspec.to_builtins(item)
    return {k: data[k] for k in PRODUCT_FIELDS}


def _print_record(rec: dict[str, Any]) -> None:
    width = max(len(k) for k in rec)
    for key, value in rec.items():
        shown = "" if value is None else value
        if isinstance(value, bool):
            shown = "yes" if value else "no"
        click.echo(f"{key:<{width}}  {printable(shown)}")


@click.command()
@home_option
@click.argument("code")
@click.option("--json", "as_json", is_flag=True, help="Print the record as JSON.")
def product(home: Path | None, code: str, as_json: bool) -> None:
    """Show the local record of a product by barcode, SKU or id (in that order)."""
    with open_database(connected(home)) as db, db.lock:
        item = lookup(db.conn, code)
    if item is None:
        raise click.ClickException(
            f"no product {printable(repr(code))} in the local catalog (give a barcode, a SKU "
            "or an id; run `onetill sync` if it was added recently)"
        )
    rec = _record(item)
    if as_json:
        click.echo(json.dumps(rec))
    else:
        _print_record(rec)


@click.command()
@home_option
@click.argument("text")
@click.option("--limit", type=PlainInt(1, 1000), default=20, show_default=True,
              help="At most this many results.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def search(home: Path | None, text: str, limit: int, as_json: bool) -> None:
    """Search sellable products and variations by name or SKU."""
    with open_database(connected(home)) as db, db.lock:
        found = search_items(db.conn, text, limit=limit)
    records = [_record(i) for i in found]
    if as_json:
        click.echo(json.dumps(records))
        return
    if not records:
        click.echo(f"nothing sellable matches {printable(repr(text))}")
    for rec in records:
        stock = "" if rec["stock_quantity"] is None else f"  stock {rec['stock_quantity']}"
        click.echo(printable(
            f"{rec['id']:>7}  {rec['sku']:<16} {rec['price'] or '':>10}  {rec['name']}{stock}"
        ))  # fmt: skip
