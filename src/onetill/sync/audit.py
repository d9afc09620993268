"""The ID audit: what force deletes took away, and what the till lacks.

WooCommerce facts: ``DELETE ?force=true`` leaves no trace (no listing, no
webhook), so polling cannot see it; listing every id with ``_fields=id``
costs about 11 KB per 100 products. Trashed products are listed separately
(``status=trash``): trash is not deletion. Pages shift when items are
deleted during the listing, so an id missing from the listing is asked for
again by ``include=`` before the till forgets it. A listed id that is not
a positive integer (a broken plugin) is named in the discrepancy log and
``catalog_problems``, and makes the audit delete nothing this time: the
listing cannot say which item it stands for.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

import msgspec

from onetill.store import Database
from onetill.store import settings as store_settings
from onetill.store.catalog import all_item_ids, apply_items, delete_items
from onetill.store.catalog_problems import clear_id_problems, note_problem
from onetill.store.catalog_rows import MAX_ID
from onetill.store.sync_state import set_state
from onetill.sync.delta import SyncReport, earliest, guarded, pages_of, record_success
from onetill.woo import Page, WooClient, format_gmt_cursor
from onetill.woo.errors import NoRouteError, UnreadableAnswerError
from onetill.woo.store_clock import StoreClock

__all__ = ["AUDIT_AT", "AUDIT_CAUSE", "audit_ids"]

log = logging.getLogger("onetill.sync")

AUDIT_AT = "audit.last_at"
AUDIT_CAUSE = "audit: not in the store any more (force-deleted)"
AUDIT_LISTING = "audit: id listing"


def _id(obj: object, unreadable: list[str]) -> int | None:
    """The id of one listed item, or None (kept in ``unreadable``, shown cut short)."""
    value = obj.get("id") if isinstance(obj, dict) else obj
    if type(value) is int and 0 < value <= MAX_ID:
        return value
    text = repr(value)
    unreadable.append(text if len(text) <= 43 else text[:40] + "...")
    return None


def _ids(pages: list[Page], unreadable: list[str]) -> set[int]:
    return {i for p in pages for o in p.items if (i := _id(o, unreadable)) is not None}
IDS_PER_PAGE = 5000


async def audit_ids(
    client: WooClient,
    db: Database,
    *,
    global_variations: bool = True,
    barcode_meta_key: str | None = None,
    refresh_settings: bool = True,
    plugin: bool = False,
) -> SyncReport:
    """Remove what the store no longer has (force deletes), fetch what the till lacks.

    ``plugin``: list ids with the companion plugin's ``ids?after_id=`` (5,000 a
    request, every status, keyset paging) instead of ``products``/``variations``.

    Lists every id with ``_fields=id`` (about 11 KB per 100 products), then in
    one transaction deletes and logs local rows missing from the store. Rows
    changed after the audit began are spared: they may be newer than the
    listing. Also refreshes tax rates, classes, categories and settings.
    """
    report = SyncReport(kind="audit")
    async with guarded(db):
        unreadable: list[str] = []
        if plugin:
            live, products, variations, began = await _plugin_listing(client)
        else:
            live, products, variations, began, global_variations = await _plain_listing(
                client, global_variations, unreadable
            )
        with db.lock:
            local_products = all_item_ids(db.conn, variations=False)
            local_variations = all_item_ids(db.conn, variations=True)
        missing_products = sorted(live - local_products)
        missing_variations = sorted(set(variations) - local_variations)
        await _fetch_missing(client, db, missing_products, missing_variations, variations,
                             global_variations, barcode_meta_key, report)  # fmt: skip
        gone = (local_products - products) | (local_variations - set(variations))
        with db.write() as conn:
            clear_id_problems(conn, unreadable)
            for value in unreadable:
                note_problem(conn, "product", value, "id", value,
                             "must be a positive integer", AUDIT_LISTING)  # fmt: skip
        if unreadable:
            log.warning("the store listed %d item(s) without a usable id: the audit removes "
                        "nothing this time", len(unreadable))  # fmt: skip
            gone = set()
        if gone and not plugin:
            # Pages shift when something is deleted while we list: an item can slip
            # between two pages unseen. Ask for the missing ones by id before deleting.
            # (The plugin's keyset listing, by id, cannot lose an item that way.)
            gone -= await _still_there(client, db, gone, global_variations)
        with db.write() as conn:
            if gone and began is not None:
                # Spare rows modified after the listing began: they may be new.
                limit = format_gmt_cursor(began)
                gone = {
                    r[0]
                    for r in conn.execute(
                        "SELECT id FROM products WHERE id IN (SELECT value FROM json_each(?))"
                        " AND date_modified_gmt <= ?",
                        (msgspec.json.encode(sorted(gone)).decode(), limit),
                    )
                }
            removed = delete_items(conn, sorted(gone), AUDIT_CAUSE)
            for iid in removed:
                log.warning("removed item %s: the store no longer has it (force-deleted)", iid)
            report.removed = len(removed)
            if began is not None:
                set_state(conn, AUDIT_AT, format_gmt_cursor(began))
        if refresh_settings:
            await _refresh_settings(client, db)
        with db.write() as conn:
            record_success(conn)
    return report


async def _still_there(
    client: WooClient, db: Database, ids: set[int], global_variations: bool
) -> set[int]:
    """Which of ``ids`` the store does have after all (asked for by comma include lists)."""
    with db.lock:
        rows = db.conn.execute(
            "SELECT id, type, parent_id FROM products WHERE id IN (SELECT value FROM json_each(?))",
            (msgspec.json.encode(sorted(ids)).decode(),),
        ).fetchall()
    products = sorted(r[0] for r in rows if r[1] != "variation")
    by_parent: dict[int, list[int]] = {}
    for r in rows:
        if r[1] == "variation":
            by_parent.setdefault(r[2] if not global_variations else 0, []).append(r[0])
    asks: list[tuple[str, list[int], dict[str, str]]] = []
    for start in range(0, len(products), 100):
        chunk = products[start : start + 100]
        asks += [("products", chunk, {}), ("products", chunk, {"status": "trash"})]
    for parent, vids in sorted(by_parent.items()):
        path = "variations" if parent == 0 else f"products/{parent}/variations"
        asks += [(path, vids[s : s + 100], {}) for s in range(0, len(vids), 100)]
    found: set[int] = set()
    for path, chunk, extra in asks:
        params = {"include": ",".join(map(str, chunk)), "_fields": "id", "per_page": 100, **extra}
        response = await client.get(path, params)
        if isinstance(response.data, list):
            found.update(o["id"] for o in response.data
                         if isinstance(o, dict) and type(o.get("id")) is int)  # fmt: skip
    return found & ids


async def _fetch_missing(
    client: WooClient,
    db: Database,
    products: list[int],
    variations: list[int],
    parent_of: dict[int, int],
    global_variations: bool,
    meta_key: str | None,
    report: SyncReport,
) -> None:
    """Fetch, whole, the items the store has and the till lacks (by comma ``include`` lists)."""
    jobs: list[tuple[str, list[int], str, int | None]] = [
        ("products", products[start : start + 100], "product", None)
        for start in range(0, len(products), 100)
    ]
    if global_variations:
        for start in range(0, len(variations), 100):
            jobs.append(("variations", variations[start : start + 100], "variation", None))
    else:
        by_parent: dict[int, list[int]] = {}
        for vid in variations:
            by_parent.setdefault(parent_of[vid], []).append(vid)
        for pid, vids in sorted(by_parent.items()):
            jobs += [
                (f"products/{pid}/variations", vids[start : start + 100], "variation", pid)
                for start in range(0, len(vids), 100)
            ]
    clock = StoreClock()
    for path, ids, kind, parent in jobs:
        include = ",".join(map(str, ids))
        response = await client.get(path, {"include": include, "per_page": 100})
        items = response.data if isinstance(response.data, list) else []
        clock.observe(response.server_time)
        with db.write() as conn:
            result = apply_items(
                conn, items, kind=kind, cause="audit: missing on the till",
                barcode_meta_key=meta_key, parent_id=parent, trusted_until=clock.trusted_until(),
            )  # fmt: skip
        report.applied += result.applied
        report.skipped += len(result.skipped)


async def _refresh_settings(client: WooClient, db: Database) -> None:
    """Tax rates, classes, categories and settings: small lists, replaced whole."""
    rates, classes, cats, general, tax = await asyncio.gather(
        pages_of(client, "taxes", {}),
        client.get("taxes/classes"),
        pages_of(client, "products/categories", {}),
        client.get("settings/general"),
        client.get("settings/tax"),
    )
    with db.write() as conn:
        store_settings.replace_tax_rates(conn, [o for p in rates for o in p.items])
        store_settings.replace_tax_classes(
            conn, classes.data if isinstance(classes.data, list) else []
        )
        store_settings.replace_categories(conn, [o for p in cats for o in p.items])
        for group, resp in (("general", general), ("tax", tax)):
            items = resp.data if isinstance(resp.data, list) else []
            store_settings.replace_settings(conn, group, items)


async def _plain_listing(
    client: WooClient, global_variations: bool, unreadable: list[str]
) -> tuple[set[int], set[int], dict[int, int], datetime | None, bool]:
    """(live product ids, every product id, variation id -> parent, when the listing
    began, whether the global variations route exists) from wc/v3 listings. Items
    listed without a usable id go to ``unreadable``."""
    by_id = {"orderby": "id", "order": "asc"}
    listed, trashed = await asyncio.gather(
        pages_of(client, "products", by_id, fields=["id", "type"]),
        pages_of(client, "products", {**by_id, "status": "trash"}, fields=["id", "type"]),
    )
    began = earliest([p.server_time for p in listed[:1] + trashed[:1]])
    live = _ids(listed, unreadable)
    products = live | _ids(trashed, unreadable)
    variable = sorted(
        o["id"]
        for p in listed
        for o in p.items
        if isinstance(o, dict) and o.get("type") == "variable" and o.get("id") in live
    )
    variations: dict[int, int] = {}  # id -> parent
    if global_variations:
        try:
            pages = await pages_of(client, "variations", by_id, fields=["id", "parent_id"])
            for page in pages:
                for o in page.items:
                    if _id(o, unreadable) is not None:
                        parent = o.get("parent_id", 0)
                        variations[o["id"]] = parent if type(parent) is int else 0
        except NoRouteError:
            global_variations = False
    if not global_variations:
        for parent in variable:
            for page in await pages_of(client, f"products/{parent}/variations", {}, fields=["id"]):
                variations.update(
                    (o["id"], parent) for o in page.items if _id(o, unreadable) is not None
                )
    return live, products, variations, began, global_variations


async def _plugin_listing(
    client: WooClient,
) -> tuple[set[int], set[int], dict[int, int], datetime | None]:
    """The same from the companion plugin's ``ids`` (keyset paging with ``after_id``)."""
    from onetill.sync.plugin import PLUGIN_NAMESPACE

    began: datetime | None = None
    found: dict[str, list[dict[str, Any]]] = {"product": [], "variation": []}
    for kind, items in found.items():
        after = 0
        while True:
            response = await client.request(
                "GET", "ids", {"type": kind, "after_id": after, "per_page": IDS_PER_PAGE},
                namespace=PLUGIN_NAMESPACE,
            )  # fmt: skip
            if began is None:
                began = response.server_time
            body = response.data
            page = body.get("items") if isinstance(body, dict) else None
            if not isinstance(page, list):
                raise UnreadableAnswerError(f"the plugin's id index answered {str(body)[:120]!r}")
            items += [o for o in page if isinstance(o, dict) and type(o.get("id")) is int]
            nxt = body.get("next_after_id")
            if type(nxt) is not int or nxt <= after:
                break
            after = nxt
    products = {o["id"] for o in found["product"]}
    live = {o["id"] for o in found["product"] if o.get("status") != "trash"}
    variations = {o["id"]: int(o.get("parent_id") or 0) for o in found["variation"]}
    return live, products, variations, began
