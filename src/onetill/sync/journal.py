"""Delta sync from the companion plugin's change journal (docs/companion-api.md).

With the plugin an idle poll is one request, ``GET changes?after=SEQ&epoch=E``,
answering ``"changes": []``. The journal sees what polling cannot: force
deletes (``op: delete``), stock changes of online orders, tax-rate and
setting changes. A row says *what* changed; the till reads the objects:

* product upserts: ``GET products?include=...`` (WooCommerce's default
  ``status=any`` leaves trash out, and a trashed product's row is an upsert
  too), then the ids not returned with ``status=trash``; ids found nowhere
  are left alone (their ``delete`` row follows in the journal);
* variation upserts: ``GET variations?include=...`` (per parent on stores
  without the global route);
* deletes: the local rows are removed (logged as discrepancies);
* ``tax_rate`` or ``setting`` rows: tax rates, classes, categories and the
  settings groups are read again whole (five small requests).

The position ``(epoch, seq)`` is stored in ``sync_state`` with the applied
rows, in one transaction. ``410 onetill_journal_rebaseline`` (a new epoch,
pruned rows, a restored database) and the first use both mean: note the
journal's ``head``, sync the whole catalog, then follow from that ``head``
(what changes during the sync is in both; applying it twice is harmless).
The pending position is stored before the full sync, so a sync cut short and
resumed still follows from the first ``head``.

While it follows the journal the poll also moves ``catalog.cursor`` (the
``Date`` of the answer minus its duration, and only when no row was held back
behind a gap), so a fall-back to polling (the plugin removed) resumes from
there with the usual overlap.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from onetill.store import Database
from onetill.store.catalog import apply_items, delete_items
from onetill.store.sync_state import get_json, get_state, set_json, set_state
from onetill.sync.delta import CURSOR, LAST_SYNC_AT, SyncReport, guarded, record_success
from onetill.sync.plugin import PLUGIN_NAMESPACE, detect
from onetill.sync.poll_window import snapshot_cursor
from onetill.woo import WooClient, format_gmt_cursor
from onetill.woo.errors import NoRouteError, UnreadableAnswerError, WooAPIError

__all__ = ["JOURNAL", "PENDING", "JournalPosition", "journal_sync", "position"]

log = logging.getLogger("onetill.sync")

JOURNAL = "plugin.journal"  # {"epoch", "seq"}: the last row applied
PENDING = "plugin.journal_pending"  # {"epoch", "seq"}: to follow once the full sync is done
LIMIT = 1000
MAX_PAGES = 50  # per poll; the rest is read by the next poll
JOURNAL_CAUSE = "journal (companion plugin)"
DELETE_CAUSE = "journal: deleted in the store"


@dataclass(frozen=True)
class JournalPosition:
    epoch: str
    seq: int


def position(db: Database, key: str = JOURNAL) -> JournalPosition | None:
    with db.lock:
        raw = get_json(db.conn, key)
    if not isinstance(raw, dict):
        return None
    epoch, seq = raw.get("epoch"), raw.get("seq")
    if not isinstance(epoch, str) or type(seq) is not int:
        return None
    return JournalPosition(epoch, seq)


@dataclass
class _Rows:
    products: set[int] = field(default_factory=set)
    variations: dict[int, int] = field(default_factory=dict)  # id -> parent
    deleted: set[int] = field(default_factory=set)
    settings: bool = False

    def add(self, row: Any) -> None:
        if not isinstance(row, dict) or type(row.get("id")) is not int:
            raise UnreadableAnswerError(f"a journal row without an integer id: {str(row)[:120]!r}")
        kind, iid, op = row.get("type"), row["id"], row.get("op")
        if kind in ("tax_rate", "setting"):
            self.settings = True
            return
        if kind not in ("product", "variation"):
            return  # a later plugin version's type: ignored, as the contract asks
        if op == "delete":
            self.deleted.add(iid)
            self.products.discard(iid)
            self.variations.pop(iid, None)
            return
        self.deleted.discard(iid)
        if kind == "product":
            self.products.add(iid)
        else:
            parent = row.get("parent_id")
            self.variations[iid] = parent if type(parent) is int else 0


async def journal_sync(
    client: WooClient,
    db: Database,
    *,
    full_sync: Any,
    global_variations: bool = True,
    barcode_meta_key: str | None = None,
) -> SyncReport:
    """One poll of the journal (or the full sync that re-baselines it).

    ``full_sync()`` is awaited for a re-baseline: the caller's initial sync
    (``full=True`` when a catalog is already there). Raises ``NoRouteError``
    when the plugin is gone (the caller falls back to polling).
    """
    at = position(db)
    if at is None:
        return await _rebaseline(client, db, full_sync, None)
    report = SyncReport(kind="journal")
    rows = _Rows()
    seq = at.seq
    firsts: list[tuple[Any, float | None]] = []
    held_back = False
    async with guarded(db):
        for _ in range(MAX_PAGES):
            began = time.monotonic()
            try:
                response = await client.request(
                    "GET", "changes", {"after": seq, "epoch": at.epoch, "limit": LIMIT},
                    namespace=PLUGIN_NAMESPACE,
                )  # fmt: skip
            except WooAPIError as exc:
                if exc.status == 410 and exc.code == "onetill_journal_rebaseline":
                    data = exc.data if isinstance(exc.data, dict) else {}
                    log.warning(
                        "the change journal asks for a re-baseline (%s): syncing everything once",
                        data.get("reason", "?"),
                    )
                    return await _rebaseline(client, db, full_sync, data)
                raise
            report.requests += 1
            if not firsts:
                firsts.append((response.server_time, time.monotonic() - began))
            body = response.data
            changes = body.get("changes") if isinstance(body, dict) else None
            nxt = body.get("next") if isinstance(body, dict) else None
            if not isinstance(changes, list) or type(nxt) is not int or nxt < seq:
                raise UnreadableAnswerError(f"the journal answered {str(body)[:120]!r}")
            for row in changes:
                rows.add(row)
            seq = nxt
            head = body.get("head")
            held_back = type(head) is int and head > seq
            if body.get("more") is not True:
                break
        else:
            held_back = True
        report.requests += await _apply(client, db, rows, report, global_variations,
                                        barcode_meta_key)  # fmt: skip
        if rows.settings:
            from onetill.sync.audit import _refresh_settings

            await _refresh_settings(client, db)
            report.requests += 5
        snapshot = snapshot_cursor(firsts)
        with db.write() as conn:
            set_json(conn, JOURNAL, {"epoch": at.epoch, "seq": seq})
            if snapshot is not None:
                stamp = format_gmt_cursor(snapshot)
                set_state(conn, LAST_SYNC_AT, stamp)
                old = get_state(conn, CURSOR)
                if not held_back and (old is None or stamp > old):
                    set_state(conn, CURSOR, stamp)
                    report.cursor = stamp
            record_success(conn)
    return report


async def _rebaseline(
    client: WooClient, db: Database, full_sync: Any, data: dict[str, Any] | None
) -> SyncReport:
    pending = position(db, PENDING)
    if data is not None and isinstance(data.get("epoch"), str) and type(data.get("head")) is int:
        pending = JournalPosition(data["epoch"], data["head"])
    elif pending is None or data is not None:
        info = await detect(client, db)
        if not info.present:
            raise NoRouteError(
                "the companion plugin is not active", status=404, code="rest_no_route"
            )
        pending = JournalPosition(info.epoch, info.head)
    with db.write() as conn:
        set_json(conn, PENDING, {"epoch": pending.epoch, "seq": pending.seq})
        conn.execute("DELETE FROM sync_state WHERE key = ?", (JOURNAL,))
    report: SyncReport = await full_sync()
    with db.write() as conn:
        set_json(conn, JOURNAL, {"epoch": pending.epoch, "seq": pending.seq})
        conn.execute("DELETE FROM sync_state WHERE key = ?", (PENDING,))
    log.info("following the change journal from %s (epoch %s)", pending.seq, pending.epoch)
    return report


async def _apply(
    client: WooClient,
    db: Database,
    rows: _Rows,
    report: SyncReport,
    global_variations: bool,
    meta_key: str | None,
) -> int:
    """Read and store what the rows name; returns the requests made."""
    requests = 0
    products = sorted(rows.products)
    found: set[int] = set()
    for status in (None, "trash"):
        wanted = [i for i in products if i not in found]
        for start in range(0, len(wanted), 100):
            chunk = wanted[start : start + 100]
            params: dict[str, Any] = {"include": _comma(chunk), "per_page": 100}
            if status:
                params["status"] = status
            items = await _list(client, "products", params)
            requests += 1
            found |= _store(db, items, "product", None, meta_key, report)
    if rows.variations and global_variations:
        try:
            requests += await _variations(client, db, rows.variations, True, meta_key, report)
        except NoRouteError:  # no global /variations (before WooCommerce 10.3)
            requests += 1
            global_variations = False
    if rows.variations and not global_variations:
        requests += await _variations(client, db, rows.variations, False, meta_key, report)
    if rows.deleted:
        with db.write() as conn:
            removed = delete_items(conn, sorted(rows.deleted), DELETE_CAUSE)
        for iid in removed:
            log.warning("removed item %s: permanently deleted in the store (journal)", iid)
        report.removed += len(removed)
    return requests


async def _variations(
    client: WooClient,
    db: Database,
    variations: dict[int, int],
    global_route: bool,
    meta_key: str | None,
    report: SyncReport,
) -> int:
    """Read and store these variations (id -> parent); returns the requests made."""
    by_parent: dict[int, list[int]] = {}
    for vid, parent in sorted(variations.items()):
        by_parent.setdefault(0 if global_route else parent, []).append(vid)
    requests = 0
    for parent, vids in sorted(by_parent.items()):
        path = "variations" if parent == 0 else f"products/{parent}/variations"
        for start in range(0, len(vids), 100):
            params = {"include": _comma(vids[start : start + 100]), "per_page": 100}
            items = await _list(client, path, params)
            requests += 1
            _store(db, items, "variation", parent or None, meta_key, report)
    return requests


async def _list(client: WooClient, path: str, params: dict[str, Any]) -> list[Any]:
    response = await client.get(path, params)
    return response.data if isinstance(response.data, list) else []


def _store(
    db: Database,
    items: list[Any],
    kind: str,
    parent: int | None,
    meta_key: str | None,
    report: SyncReport,
) -> set[int]:
    with db.write() as conn:
        result = apply_items(
            conn, items, kind=kind, cause=JOURNAL_CAUSE, barcode_meta_key=meta_key,
            parent_id=parent,
        )  # fmt: skip
    report.applied += result.applied
    report.skipped += len(result.skipped)
    return {o["id"] for o in items if isinstance(o, dict) and type(o.get("id")) is int}


def _comma(ids: list[int]) -> str:
    return ",".join(map(str, ids))
