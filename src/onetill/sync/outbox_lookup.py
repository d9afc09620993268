"""Finding an uploaded sale in WooCommerce by its UUID, before any resend.

WooCommerce has no idempotency and no filter by meta on ``GET /orders``
(``search`` covers ids, item names and addresses only). Without the
companion plugin the till therefore lists the orders created since the
earliest moment the sale could have reached the store (``after`` is strict
and compares ``date_created``; with ``dates_are_gmt=true`` the value is
sent as naive UTC) and scans their ``meta_data`` for the UUID. Orders in
the trash are not in the default listing, so a miss is checked once more
with ``status=trash``, and the whole scan is repeated (offset paging can
skip an order while the merchant trashes another) before the sale counts
as "not there".

With the plugin (``wc-onetill/v1``), ``GET orders/by-uuid?uuids=a,b``
answers directly; the scan is the fallback when that route is missing.

A caller that passes ``duplicates`` learns of UUIDs carried by more than one
store order, as ``uuid -> [(id, number)]`` (a duplicate that should never
exist, but would otherwise go unseen: nothing is ever cancelled
automatically). The scan then reads one
page (100 orders) past the page where the last wanted UUID turned up, since
a second copy is newer than the first; a copy further on goes unnoticed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from onetill.sync.outbox_payload import META_UUID, meta_value
from onetill.woo import WooClient, format_gmt_cursor
from onetill.woo.errors import NoRouteError, UnreadableAnswerError

__all__ = ["LOOKUP_FIELDS", "PLUGIN_NAMESPACE", "lookup_many"]

LOOKUP_FIELDS = ("id", "number", "status", "meta_data")
PLUGIN_NAMESPACE = "wc-onetill/v1"
# Looking for duplicates, pages read past the one that completed the search:
# a second copy comes from a resend minutes after the first, so it is near
# it in date order; reading the whole window could mean days of orders.
DUPLICATE_PAGES = 1


async def lookup_many(
    client: WooClient,
    uuids: Iterable[str],
    earliest: datetime,
    *,
    plugin: bool = False,
    duplicates: dict[str, list[tuple[int, str]]] | None = None,
) -> dict[str, dict[str, Any]]:
    """The store's orders carrying these UUIDs, as ``uuid -> {id, number, status, ...}``.

    ``earliest`` (aware) is the store-clock time before which none of them
    can have been created; callers subtract their safety margin first.
    A UUID absent from the result is not in the store; one found several
    times maps to its oldest copy, and, if ``duplicates`` is given, the
    store ids and numbers of all its copies are added there
    (``uuid -> [(id, number)]``).
    """
    wanted = set(uuids)
    if not wanted:
        return {}
    seen: dict[str, dict[int, str]] = {}
    if plugin:
        try:
            found = await _plugin_lookup(client, wanted, seen)
        except NoRouteError:
            pass  # plugin gone or older: the scan below always works
        else:
            _note_duplicates(seen, duplicates)
            return found
    whole = duplicates is not None
    found = await _scan_with_trash(client, wanted, earliest, seen, whole=whole)
    missing = wanted - found.keys()
    if missing:
        # WooCommerce pages by offset: an order the merchant trashes (or
        # restores) while we page shifts the rest one place, and one order
        # can slip between two pages. A miss leads to a resend, so it is
        # believed only when a second full scan agrees.
        found.update(await _scan_with_trash(client, missing, earliest, seen, whole=whole))
    _note_duplicates(seen, duplicates)
    return found


def _note_duplicates(
    seen: dict[str, dict[int, str]], duplicates: dict[str, list[tuple[int, str]]] | None
) -> None:
    if duplicates is None:
        return
    for uuid, copies in seen.items():
        if len(copies) > 1:
            duplicates[uuid] = sorted(copies.items())


def _see(seen: dict[str, dict[int, str]], uuid: str, order: dict[str, Any]) -> None:
    if isinstance(order.get("id"), int):
        seen.setdefault(uuid, {})[order["id"]] = str(order.get("number") or order["id"])


async def _scan_with_trash(
    client: WooClient,
    wanted: set[str],
    earliest: datetime,
    seen: dict[str, dict[int, str]],
    *,
    whole: bool,
) -> dict[str, dict[str, Any]]:
    found = await _scan(client, wanted, earliest, seen, status=None, whole=whole)
    missing = wanted - found.keys()
    if missing:
        found.update(await _scan(client, missing, earliest, seen, status="trash", whole=whole))
    return found


async def _plugin_lookup(
    client: WooClient, wanted: set[str], seen: dict[str, dict[int, str]]
) -> dict[str, dict[str, Any]]:
    response = await client.request(
        "GET", "orders/by-uuid", {"uuids": ",".join(sorted(wanted))}, namespace=PLUGIN_NAMESPACE
    )
    if not isinstance(response.data, list):
        # "Not found" leads to a resend: only a well-formed answer may say it.
        raise UnreadableAnswerError(
            f"the plugin's order lookup answered {str(response.data)[:120]!r}, not a list"
        )
    out: dict[str, dict[str, Any]] = {}
    for item in response.data:
        if isinstance(item, dict) and item.get("uuid") in wanted:
            uuid = str(item["uuid"])
            _see(seen, uuid, item)
            out.setdefault(uuid, item)
    return out


async def _scan(
    client: WooClient,
    wanted: set[str],
    earliest: datetime,
    seen: dict[str, dict[int, str]],
    *,
    status: str | None,
    whole: bool,
) -> dict[str, dict[str, Any]]:
    # `after` is strict (>) at one-second resolution: step back one more second.
    params: dict[str, Any] = {
        "after": format_gmt_cursor(earliest - timedelta(seconds=1)),
        "dates_are_gmt": "true",
        "orderby": "date",
        "order": "asc",
    }
    if status is not None:
        params["status"] = status
    out: dict[str, dict[str, Any]] = {}
    extra = 0  # pages read after the last wanted UUID turned up
    pages = client.paginate("orders", params, per_page=100, fields=LOOKUP_FIELDS)
    try:
        async for page in pages:
            for order in page.items:
                if not isinstance(order, dict):
                    continue
                uuid = meta_value(order, META_UUID)
                if uuid not in wanted:
                    continue
                _see(seen, str(uuid), order)
                out.setdefault(str(uuid), order)  # oldest first (`orderby=date`)
            if len(out) == len(wanted):
                if not whole or extra >= DUPLICATE_PAGES:
                    break
                extra += 1
    finally:
        closer = getattr(pages, "aclose", None)
        if closer is not None:
            await closer()
    return out
