"""``onetill status``: online or not, last sync, queue, catalog size, problems."""

from __future__ import annotations

import json
from pathlib import Path

import click

from onetill.cli.common import connected, home_option
from onetill.cli.output import printable
from onetill.engine.status import read_status

__all__ = ["status"]


@click.command()
@home_option
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status(home: Path | None, as_json: bool) -> None:
    """Show whether the till is online, when it last synced, and what is waiting."""
    # The running engine knows the live state; without one, the database does.
    current = read_status(connected(home))
    if as_json:
        click.echo(json.dumps(current, sort_keys=True))
        return
    if current.get("source") == "engine":
        reason = f": {current['state_reason']}" if current.get("state_reason") else ""
        click.echo(f"state          {current['state']}{reason} (running engine)")
    else:
        # Nobody is talking to the store: say what is known, and since when.
        contact = current.get("last_contact_at")
        recorded = current.get("recorded_state")
        seen = f"{contact} (store time; the store was {recorded})" if contact else "never"
        click.echo("state          engine not running")
        click.echo(f"last contact   {seen}")
    click.echo(f"last sync      {current.get('last_sync_at') or 'never'} (store time)")
    click.echo(
        f"catalog        {current['products']} products, {current['variations']} variations"
    )
    age = current.get("oldest_pending_age_s")
    oldest = ""
    if age is not None:
        oldest = f" (oldest {age:.0f} s)" if age >= 0 else (
            f" (oldest dated {-age:.0f} s ahead of this till's clock: the clock was changed)"
        )
    click.echo(f"pending orders {current['pending_orders']}{oldest}")
    blocked = current.get("queue_blocked")
    if blocked:
        click.echo(f"queue blocked  since {blocked['since']} because {blocked['reason']}")
        click.echo(f"               oldest order {blocked['uuid']} (`onetill lookup` it)")
    click.echo(f"failed orders  {current['failed_orders']}")
    click.echo(f"discrepancies  {current['discrepancies']}")
    if current.get("duplicates"):
        click.echo(
            f"duplicates     {current['duplicates']} sale(s) the store holds twice or after a "
            "void (`onetill orders --failed`)"
        )
    version = current.get("plugin_version")
    plugin = (f"yes, version {version}" if version else "yes") if current.get("plugin") else "no"
    click.echo(f"plugin         {printable(plugin)} (OneTill companion)")
    if current.get("queue_paused"):
        click.echo(f"uploads paused {printable(current['queue_paused'])}")
    if current.get("last_error"):
        click.echo(f"last error     {printable(current['last_error'])}")
    if current.get("catalog_problems"):
        click.echo(
            f"needs a look   {current['catalog_problems']} item(s) the store sent could not be "
            "taken and are not sold; fix them in WooCommerce (`onetill discrepancies`)"
        )
        for item in current.get("problem_items") or []:
            click.echo(f"               {printable(item)}")
    for p in current.get("progress") or []:
        if not p.get("finished"):
            click.echo(f"pulling        {p['resource']}: {p['done']} of {p.get('total') or '?'}")
