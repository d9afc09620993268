"""Checking a WooCommerce store's keys before a till uses them.

``onetill connect`` and the till screen's connect form run the same checks,
in order, and stop at the first failure with one line saying what is wrong
and one saying what to do:

1. the URL answers like WordPress (``/wp-json/``) and offers ``wc/v3``;
2. the keys can read one page of products (and the store's clock agrees);
3. the keys can write: an empty ``POST /products/batch {}`` is harmless,
   answering ``200 []`` to a read-write key and 401 "does not have write
   permissions" to a read-only one (a read-only key is accepted, with a
   warning: it can serve a till that only reads);
4. currency, version, plugin and timezone, for the summary and the config.

The secret is never part of a message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from onetill.config import Config, load_config

__all__ = [
    "EXIT_AUTH",
    "EXIT_FAILED",
    "EXIT_NOT_WOOCOMMERCE",
    "EXIT_OTHER_STORE",
    "EXIT_UNREACHABLE",
    "WAIT_NOTICE_S",
    "ConnectFailed",
    "Found",
    "check_store",
    "connection_config",
    "resume_uploads",
    "site_address",
]

EXIT_FAILED = 1
EXIT_UNREACHABLE = 3
EXIT_NOT_WOOCOMMERCE = 4
EXIT_AUTH = 5
EXIT_OTHER_STORE = 6  # another store while sales wait (or an engine runs): nothing changed

# With no answer yet after this long, say that we are waiting (and until when).
WAIT_NOTICE_S = 1.0


class ConnectFailed(Exception):
    """A check failed: ``message`` says what, ``hint`` what to do, ``code`` the exit status."""

    def __init__(self, message: str, hint: str = "", code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code


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


def site_address(url: str) -> tuple[str, str | None]:
    """The site's address from what a person typed, and a note when it was changed."""
    site = url.strip()
    if "://" not in site:
        raise ConnectFailed(
            f"{url!r} has no scheme", "give the full address, e.g. https://shop.example.com"
        )
    if "/wp-json" in site:
        # A common slip: the API URL instead of the site's address.
        site = site[: site.index("/wp-json")]
        return site, f"using the site's address {site} (without /wp-json/...)"
    return site, None


def resume_uploads(home: Path) -> bool:
    """New keys lift a pause caused by rejected keys: the queue tries again."""
    from onetill.store import open_database
    from onetill.sync.outbox_policy import paused_reason, resume_queue

    with open_database(home) as db:
        if paused_reason(db) is None:
            return False
        resume_queue(db)
        return True


async def check_store(
    url: str,
    key: str,
    secret: str,
    ca_file: str | None,
    insecure: bool,
    auth_in_query: bool,
    *,
    wait_s: float = 20.0,
    on_wait: Callable[[str], None] | None = None,
) -> Found:
    """Run the checks; give up on a store silent for ``wait_s`` (``on_wait`` hears, after
    ``WAIT_NOTICE_S`` without an answer, what we are waiting for)."""
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
        await _first_answer(client, found, wait_s, on_wait)
        await _read_products(client, found)
        await _check_write(client, found)
        await _read_currency(client, found)
        found.clock_skew_s = client.clock_skew_s
        found.clock_corrected = client.clock_offset_s != 0
    return found


async def _first_answer(
    client: Any, found: Found, wait_s: float, on_wait: Callable[[str], None] | None
) -> None:
    """Discovery, the first request: say when it makes us wait, and give up at ``wait_s``
    (a URL that accepts connections but never answers would otherwise hold the merchant
    for minutes of retries)."""
    task = asyncio.ensure_future(_discover(client, found))
    done, _ = await asyncio.wait({task}, timeout=min(WAIT_NOTICE_S, wait_s))
    if not done:
        if on_wait is not None:
            on_wait(f"waiting for {client.url} to answer (giving up after {wait_s:g} s; "
                    "--timeout changes that)...")  # fmt: skip
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
        if found.warnings:  # e.g. the site's own address differs (OAuth signs with it)
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
    from onetill.woo.errors import AmbiguousWriteError, WooError

    try:
        # An empty batch changes nothing, so its fate never matters.
        await client.post("products/batch", json={})
    except AmbiguousWriteError as exc:
        # The same keys just read the products: a 401/403 to a write means
        # they may not write. Decided by status, never by the message, which
        # WooCommerce translates.
        if exc.status not in (401, 403):
            found.warnings.append(f"could not check write permission: {exc}")
            return
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


def connection_config(
    home: Path,
    found: Found,
    key: str,
    secret: str,
    ca_file: str | None,
    insecure: bool,
    auth_in_query: bool,
    switched: bool = False,
) -> Config:
    """The config to save (``switched``: the till just left another store)."""
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
    if found.name:
        config.extra["store_name"] = found.name
    if previous is not None:
        # The till keeps its identity across reconnects: its orders carry it.
        config.till_id = previous.till_id
        config.extra = {**previous.extra, **config.extra}
        if switched:
            config.extra.pop("webhook_url", None)  # the old store's webhooks point there
        elif previous.url == found.url:
            config.webhook_secret = previous.webhook_secret
    return config
