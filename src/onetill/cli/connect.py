"""``onetill connect URL --key CK --secret CS``: verify a store's keys and save the connection.

The checks (``onetill.connection.check_store``) are shared with the till
screen's connect form; this module prints their result. The secret is never
printed; it goes to the OS keyring or a 0600 file.

Then, before anything is saved: if the till belonged to another store (the
site's home URL differs, scheme aside), it refuses while sales wait to be
uploaded (they would go to the wrong store) or an engine runs, and
otherwise starts the new store afresh: no catalog, no cursors (the next
sync is a full one), every order kept (``store_switch.py``). Reconnecting
to the same store (new keys) keeps everything.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import NoReturn

import click

from onetill.cli.common import warn_if_shared
from onetill.cli.output import printable
from onetill.cli.params import PlainFloat, SafePath
from onetill.cli.store_switch import switch_store
from onetill.config import HomeError, home_dir, save_config
from onetill.connection import (
    EXIT_AUTH,
    EXIT_NOT_WOOCOMMERCE,
    EXIT_OTHER_STORE,
    EXIT_UNREACHABLE,
    ConnectFailed,
    Found,
    check_store,
    connection_config,
    resume_uploads,
    site_address,
)

__all__ = [
    "EXIT_AUTH",
    "EXIT_NOT_WOOCOMMERCE",
    "EXIT_OTHER_STORE",
    "EXIT_UNREACHABLE",
    "connect",
]


@click.command("connect")
@click.argument("url")
@click.option("--key", required=True, help="Consumer key (ck_...).")
@click.option("--secret", required=True, help="Consumer secret (cs_...); never printed.")
@click.option(
    "--home",
    envvar="ONETILL_HOME",
    type=SafePath(file_okay=False, path_type=Path),
    default=None,
    help="Where the database and config live (default ~/.onetill).",
)
@click.option(
    "--ca-file",
    type=SafePath(exists=True, dir_okay=False),
    default=None,
    help="PEM file with the CA that signed the store's certificate.",
)
@click.option("--insecure", is_flag=True, help="Do not verify the store's TLS certificate.")
@click.option(
    "--auth-in-query",
    is_flag=True,
    help="Send the keys as query parameters (https only), for hosts that strip Authorization.",
)
@click.option(
    "--timeout",
    type=PlainFloat(1, 600),
    default=20.0,
    show_default=True,
    help="Give up on a store that has not answered within this many seconds.",
)
def connect(
    url: str,
    key: str,
    secret: str,
    home: Path | None,
    ca_file: str | None,
    insecure: bool,
    auth_in_query: bool,
    timeout: float,
) -> None:
    """Verify a WooCommerce store's REST API keys and save the connection."""
    if ca_file and insecure:
        raise click.UsageError("--ca-file and --insecure exclude each other: pick one")
    key, secret = key.strip(), secret.strip()
    if not key or not secret:
        _fail(ConnectFailed("the consumer key and secret must not be empty"))
    try:
        site, note = site_address(url)
        if note:
            click.echo(f"note: {printable(note)}", err=True)
        found = asyncio.run(check_store(
            site, key, secret, ca_file, insecure, auth_in_query, wait_s=timeout,
            on_wait=lambda text: click.echo(printable(text), err=True),
        ))  # fmt: skip
    except ConnectFailed as failure:
        _fail(failure)
    if insecure and found.auth_mode in ("basic", "query"):
        found.warnings.append(
            "--insecure with Basic auth: the keys travel with every request to a server whose "
            "certificate is not checked, so anyone who can intercept the connection can take "
            "them; prefer --ca-file with the certificate that signed the store's"
        )
    try:
        target = home_dir(home)
    except HomeError as exc:
        _fail(ConnectFailed(str(exc), "give --home a directory you can write to"))
    warn_if_shared(target)
    try:
        switched = switch_store(target, found.home or found.url, found.url)
    except ConnectFailed as failure:
        _fail(failure)
    where = save_config(
        target,
        connection_config(
            target, found, key, secret, ca_file, insecure, auth_in_query, switched
        ),
    )
    if resume_uploads(target):
        click.echo("uploads: the paused order queue will be retried with the new keys")
    _print_summary(found, target, where)


def _fail(failure: ConnectFailed) -> NoReturn:
    click.echo(f"error: {printable(failure.message)}", err=True)
    if failure.hint:
        click.echo(f"hint: {printable(failure.hint)}", err=True)
    sys.exit(failure.code)


def _print_summary(found: Found, home: Path, where: str) -> None:
    scheme = "https, Basic auth" if found.https else "http, OAuth 1.0a signatures"
    if found.auth_mode == "query":
        scheme = "https, keys in the query string"
    rows = [
        ("store", f"{found.name or '?'} ({found.url})"),
        ("WooCommerce", f"{found.wc_version or 'version not readable with this key'} (wc/v3)"),
        ("connection", scheme),
        ("products", str(found.products) if found.products is not None else "unknown"),
        ("currency", found.currency or "unknown (settings not readable with this key)"),
        ("plugin", "wc-onetill/v1 found" if found.plugin else "not installed (optional)"),
        ("variations", "global /variations route" if found.global_variations else "per product"),
        ("timezone", f"{found.timezone} (UTC{found.gmt_offset:+g})"),
        ("clock", _clock_text(found)),
        ("keys", "read-only" if found.read_only else "read/write"),
    ]
    click.echo(f"Connected to {found.url}")
    for label, value in rows:
        click.echo(printable(f"  {label:<12} {value}"))
    for warning in found.warnings:
        click.echo(f"warning: {printable(warning)}", err=True)
    secret_place = "the OS keyring" if where == "keyring" else "secrets.json (mode 0600)"
    click.echo(f"Saved to {home / 'config.json'}; the secret is in {secret_place}.")


def _clock_text(found: Found) -> str:
    skew = found.clock_skew_s
    if skew is None:
        return "unknown (the store sent no Date header)"
    if not found.clock_corrected:
        return f"in step with the store ({round(skew):+d} s)"
    direction = "behind" if skew > 0 else "ahead of"
    return (
        f"this machine's clock is {abs(skew):.0f} s {direction} the store's: "
        "requests are signed with the store's time; fix the clock"
    )
