"""``onetill status``: online or not, last sync, queue, catalog size, problems."""

from __future__ import annotations

import json
from pathlib import Path

import click

from onetill.cli.catalog import home_option
from onetill.config import home_dir
from onetill.engine.status import read_status

__all__ = ["status"]


@click.command()
@home_option
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status(home: Path | None, as_json: bool) -> None:
    """Show whether the till is online, when it last synced, and what is waiting."""
    # The running engine knows the live state; without one, the database does.
    current = read_status(home_dir(home))
    if as_json:
        click.echo(json.dumps(current, sort_keys=True))
        return
    source = "running engine" if current.get("source") == "engine" else "database"
    click.echo(f"state          {current['state']} (from the {source})")
    click.echo(f"last sync      {current.get('last_sync_at') or 'never'} (store time)")
    click.echo(
        f"catalog        {current['products']} products, {current['variations']} variations"
    )
    age = current.get("oldest_pending_age_s")
    oldest = f" (oldest {age:.0f} s)" if age is not None else ""
    click.echo(f"pending orders {current['pending_orders']}{oldest}")
    click.echo(f"failed orders  {current['failed_orders']}")
    click.echo(f"discrepancies  {current['discrepancies']}")
    version = current.get("plugin_version")
    plugin = (f"yes, version {version}" if version else "yes") if current.get("plugin") else "no"
    click.echo(f"plugin         {plugin} (OneTill companion)")
    if current.get("queue_paused"):
        click.echo(f"uploads paused {current['queue_paused']}")
    if current.get("last_error"):
        click.echo(f"last error     {current['last_error']}")
    for p in current.get("progress") or []:
        if not p.get("finished"):
            click.echo(f"pulling        {p['resource']}: {p['done']} of {p.get('total') or '?'}")
