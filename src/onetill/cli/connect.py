"""``onetill connect URL --key CK --secret CS``: verify a store's keys and save the connection.

What it checks, in order, and stops at the first failure with one line
saying what is wrong and one saying what to do:

1. the URL answers like WordPress (``/wp-json/``) and offers ``wc/v3``;
2. the keys can read one page of products (and the store's clock agrees);
3. the keys can write: an empty ``POST /products/batch {}`` is harmless,
   answering ``200 []`` to a read-write key and 401 "does not have write
   permissions" to a read-only one (a read-only key is accepted, with a
   warning: it can serve a till that only reads);
4. currency, version, plugin and timezone, for the summary and the config.

Then, before anything is saved: if the till belonged to another store (the
site's home URL differs, scheme aside), it refuses while sales wait to be
uploaded (they would go to the wrong store) or an engine runs, and
otherwise starts the new store afresh: no catalog, no cursors (the next
sync is a full one), every order kept. Reconnecting to the same store
(new keys) keeps everything.

The secret is never printed; it goes to the OS keyring or a 0600 file.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import click

from onetill.cli.common import warn_if_shared
from onetill.cli.connect_errors import (
    EXIT_AUTH,
    EXIT_NOT_WOOCOMMERCE,
    EXIT_OTHER_STORE,
    EXIT_UNREACHABLE,
    ConnectFailed,
)
from onetill.cli.output import printable
from onetill.cli.params import PlainFloat, SafePath
from onetill.cli.store_switch import switch_store
from onetill.config import Config, HomeError, home_dir, load_config, save_config

__all__ = [
    "EXIT_AUTH",
    "EXIT_NOT_WOOCOMMERCE",
    "EXIT_OTHER_STORE",
    "EXIT_UNREACHABLE",
    "connect",
]

# With no answer yet after this long, say that we are waiting (and until when).
WAIT_NOTICE_S = 1.0


@dataclass
class Found:
    """What the checks found, for the summary and the saved config."""

    name: str = ""
    url: str = ""
    home: str | None = None  # the site's own home URL, from /wp-json/
    https: bool = False
    auth_mode: str = ""
    wc_version: str | None = None
    currency: str | None = None
    products: int | None = None
    plugin: bool = False
    global_variations: bool = False
    timezone: str = "UTC"
    gmt_offset: float = 0.0
    clock_skew_s: float | None = None
    clock_corrected: bool = False
    read_only: bool = False
    warnings: list[str] = field(default_factory=list)


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
    if "://" not in url:
        _fail(
            ConnectFailed(
                f"{url!r} has no scheme",
                "give the full address, e.g. https://shop.example.com",
            )
        )
    key, secret = key.strip(), secret.strip()
    if not key or not secret:
        _fail(ConnectFailed("the consumer key and secret must not be empty"))
    site = url.strip()
    if "/wp-json" in site:
        # A common slip: the API URL instead of the site's address.
        site = site[: site.index("/wp-json")]
        click.echo(f"note: using the site's address {site} (without /wp-json/...)", err=True)
    try:
        found = asyncio.run(
            _check(site, key, secret, ca_file, insecure, auth_in_query, wait_s=timeout)
        )
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
        target, _config(target, found, key, secret, ca_file, insecure, auth_in_query, switched)
    )
    _resume_uploads(target)
    _print_summary(found, target, where)


def _resume_uploads(home: Path) -> None:
    """New keys lift a pause caused by rejected keys: the queue tries again."""
    from onetill.store import open_database
    from onetill.sync.outbox_policy import paused_reason, resume_queue

    with open_database(home) as db:
        if paused_reason(db) is not None:
            resume_queue(db)
            click.echo("uploads: the paused order queue will be retried with the new keys")


def _fail(failure: ConnectFailed) -> NoReturn:
    click.echo(f"error: {printable(failure.message)}", err=True)
    if failure.hint:
        click.echo(f"hint: {printable(failure.hint)}", err=True)
    sys.exit(failure.code)


async def _check(
    url: str,
    key: str,
    secret: str,
    ca_file: str | None,
    insecure: bool,
    auth_in_query: bool,
    *,
    wait_s: float = 20.0,
) -> Found:
    from onetill.woo import WooClient
    from onetill.woo.errors import InsecureTransportError, WooError

    verify: bool | str = ca_file if ca_file else not insecure
    try:
        # Two attempts per request at most: a merchant is waiting at the screen.
        client = WooClient(url, key, secret, verify=verify, auth_in_query=auth_in_query,
                           timeout=wait_s, max_attempts=2)  # fmt: skip
    except InsecureTransportError as exc:
        raise ConnectFailed(
            "refusing to send the consumer secret in clear over plain http",
            exc.hint or "use the https:// URL",
        ) from None
    except WooError as exc:
        raise ConnectFailed(exc.message, exc.hint) from None
    async with client:
        found = Found(url=client.url, https=client.https, auth_mode=client.auth_mode)
        await _first_answer(client, found, wait_s)
        await _read_products(client, found)
        await _check_write(client, found)
        await _read_currency(client, found)
        found.clock_skew_s = client.clock_skew_s
        found.clock_corrected = client.clock_offset_s != 0
    return found


async def _first_answer(client: Any, found: Found, wait_s: float) -> None:
    """Discovery, the first request: say when it makes us wait, and give up at ``wait_s``
    (a URL that accepts connections but never answers would otherwise hold the merchant
    for minutes of retries)."""
    task = asyncio.ensure_future(_discover(client, found))
    done, _ = await asyncio.wait({task}, timeout=min(WAIT_NOTICE_S, wait_s))
    if not done:
        click.echo(f"waiting for {printable(client.url)} to answer (giving up after "
                   f"{wait_s:g} s; --timeout changes that)...", err=True)  # fmt: skip
        done, _ = await asyncio.wait({task}, timeout=max(0.0, wait_s - WAIT_NOTICE_S))
    if not done:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        raise ConnectFailed(
            f"{client.url} did not answer within {wait_s:g} s",
            "check the address and that the site loads in a browser; for a slow site, "
            "give it longer with --timeout 60",
            EXIT_UNREACHABLE,
        )
    task.result()


def _transport_failure(exc: Any) -> ConnectFailed:
    """Unreachable host, refused connection, timeout or untrusted certificate."""
    return ConnectFailed(exc.message, exc.hint, EXIT_UNREACHABLE)


def _unavailable(exc: Any) -> ConnectFailed | None:
    """A site that keeps failing or refusing (5xx, 429) after retries: not a key problem."""
    status = getattr(exc, "status", 0)
    if not (status >= 500 or status == 429):
        return None
    shown = getattr(exc, "text", "") or getattr(exc, "message", "")
    return ConnectFailed(
        f"the site answered HTTP {status} (failing, overloaded or in maintenance): {shown}",
        "check that the site loads in a browser, then try again in a few minutes",
        EXIT_UNREACHABLE,
    )


async def _discover(client: Any, found: Found) -> None:
    from onetill.woo.errors import TransportError, WooError

    try:
        discovery = await client.discover()
    except TransportError as exc:
        raise _transport_failure(exc) from None
    except WooError as exc:
        failure = _unavailable(exc) or ConnectFailed(
            f"reading what the store offers failed: {exc.message}", exc.hint
        )
        raise failure from None
    if not discovery.wordpress:
        raise ConnectFailed(
            f"{client.url} does not look like WordPress",
            discovery.problem,
            EXIT_NOT_WOOCOMMERCE,
        )
    if not discovery.wc_v3:
        raise ConnectFailed(
            f"WooCommerce's REST API (wc/v3) was not found at {client.url}",
            "check that WooCommerce is installed and active, that permalinks are not 'Plain', "
            "and that the URL is the site's address",
            EXIT_NOT_WOOCOMMERCE,
        )
    found.name = discovery.name
    found.home = discovery.home
    found.plugin = discovery.plugin
    found.global_variations = discovery.global_variations
    found.timezone = discovery.timezone
    found.gmt_offset = discovery.gmt_offset
    found.wc_version = discovery.wc_version
    if discovery.home and discovery.home.rstrip("/") != client.url.rstrip("/"):
        # OAuth is signed over the site's home URL: a different host, port or
        # scheme than the one given makes every signature fail.
        found.warnings.append(
            f"the site's own address is {discovery.home}, not {client.url}; "
            f"if the keys are refused, connect with {discovery.home}"
        )


async def _read_products(client: Any, found: Found) -> None:
    from onetill.woo.errors import AuthError, NotJSONError, TransportError, WooError
    from onetill.woo.models import Product, decode_list

    try:
        response = await client.get("products", {"per_page": 10})
    except TransportError as exc:
        raise _transport_failure(exc) from None
    except AuthError as exc:
        hint = exc.hint
        if found.warnings and "signature" in exc.message.lower():
            hint = f"{hint}; note: {found.warnings[0]}"
        raise ConnectFailed(f"the store refused the keys: {exc.message}", hint, EXIT_AUTH) from None
    except NotJSONError as exc:
        failure = _unavailable(exc) or ConnectFailed(
            f"the REST API is blocked or hidden: {exc.message}", exc.hint, EXIT_NOT_WOOCOMMERCE
        )
        raise failure from None
    except WooError as exc:
        failure = _unavailable(exc) or ConnectFailed(
            f"reading products failed: {exc.message}", exc.hint
        )
        raise failure from None
    try:
        decode_list(Product, response.data, what="GET products page 1")
    except WooError as exc:
        found.warnings.append(f"a product did not decode: {exc}")
    total = response.headers.get("x-wp-total")
    found.products = int(total) if total and total.isdigit() else len(response.data or [])


async def _check_write(client: Any, found: Found) -> None:
    from onetill.woo.errors import ReadOnlyKeyError, WooError

    try:
        # An empty batch changes nothing; a read-only key is refused with 401.
        await client.post("products/batch", json={})
    except ReadOnlyKeyError:
        found.read_only = True
        found.warnings.append(
            "this key is READ-ONLY: the till can read the catalog but cannot upload sales; "
            "give the key Read/Write permission in WooCommerce > Settings > Advanced > REST API"
        )
    except WooError as exc:
        found.warnings.append(f"could not check write permission: {exc}")


async def _read_currency(client: Any, found: Found) -> None:
    from onetill.woo.errors import WooError

    try:
        response = await client.get("settings/general")
    except WooError:
        return  # settings need manage_woocommerce; the summary says "unknown"
    for item in response.data if isinstance(response.data, list) else []:
        if isinstance(item, dict) and item.get("id") == "woocommerce_currency":
            found.currency = str(item.get("value") or "") or None


def _config(
    home: Path,
    found: Found,
    key: str,
    secret: str,
    ca_file: str | None,
    insecure: bool,
    auth_in_query: bool,
    switched: bool = False,
) -> Config:
    previous: Config | None
    try:
        previous = load_config(home)
    except Exception:  # nothing saved yet, or unreadable: start afresh
        previous = None
    config = Config(
        url=found.url,
        key=key,
        secret=secret,
        read_only=found.read_only,
        ca_file=str(Path(ca_file).resolve()) if ca_file else None,
        insecure=insecure,
        auth_in_query=auth_in_query,
        timezone=found.timezone,
        gmt_offset=found.gmt_offset,
        plugin=found.plugin,
        global_variations=found.global_variations,
        wc_version=found.wc_version,
    )
    if previous is not None:
        # The till keeps its identity across reconnects: its orders carry it.
        config.till_id = previous.till_id
        config.extra = dict(previous.extra)
        if switched:
            config.extra.pop("webhook_url", None)  # the old store's webhooks point there
        elif previous.url == found.url:
            config.webhook_secret = previous.webhook_secret
    return config


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
