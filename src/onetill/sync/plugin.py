"""The companion plugin (``wc-onetill/v1``, docs/companion-api.md) as the till sees it.

``detect(client, db)`` asks ``GET wc-onetill/v1/status`` and records the
answer in ``sync_state``: ``store.plugin`` ("1"/"0", what ``onetill status``
and the till screen show), ``store.plugin_version`` and ``plugin.features``.
A store without the plugin answers ``404 rest_no_route``: recorded as absent,
not an error. Anything else (5xx, an unusable body) leaves the last verdict
and raises: the caller falls back to plain WooCommerce for that step.

``PLUGIN_NAMESPACE`` routes are reached with
``client.request(..., namespace=PLUGIN_NAMESPACE)``; the key authenticates
there because the namespace starts with ``wc-``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from onetill.store import Database
from onetill.store.sync_state import get_json, get_state, set_json, set_state
from onetill.woo import WooClient
from onetill.woo.errors import NoRouteError, UnreadableAnswerError

__all__ = [
    "PLUGIN_NAMESPACE",
    "PluginInfo",
    "detect",
    "known_plugin",
    "mark_absent",
]

log = logging.getLogger("onetill.sync")

PLUGIN_NAMESPACE = "wc-onetill/v1"
PRESENT = "store.plugin"
VERSION = "store.plugin_version"
FEATURES = "plugin.features"


@dataclass(frozen=True)
class PluginInfo:
    """What ``GET status`` said (``present`` False: the route does not exist)."""

    present: bool
    version: str = ""
    epoch: str = ""
    head: int = 0
    features: dict[str, bool] = field(default_factory=dict)

    def has(self, feature: str) -> bool:
        return self.present and bool(self.features.get(feature))


async def detect(client: WooClient, db: Database) -> PluginInfo:
    """Ask the store whether the plugin is active; record and return the answer."""
    try:
        response = await client.request("GET", "status", namespace=PLUGIN_NAMESPACE)
    except NoRouteError:
        mark_absent(db, "the store has no wc-onetill/v1 routes")
        return PluginInfo(present=False)
    info = parse_status(response.data)
    with db.write() as conn:
        if get_state(conn, PRESENT) != "1":
            log.info("companion plugin %s found: following its change journal", info.version)
        set_state(conn, PRESENT, "1")
        set_state(conn, VERSION, info.version)
        set_json(conn, FEATURES, info.features)
    return info


def parse_status(data: Any) -> PluginInfo:
    """``GET status``'s body, or ``UnreadableAnswerError`` naming what is wrong with it."""
    journal = data.get("journal") if isinstance(data, dict) else None
    if not isinstance(journal, dict):
        raise UnreadableAnswerError(f"the plugin's status has no journal: {str(data)[:120]!r}")
    epoch, head = journal.get("epoch"), journal.get("head")
    if not isinstance(epoch, str) or type(head) is not int:
        raise UnreadableAnswerError(
            f"the plugin's journal position is unusable: {str(journal)[:120]!r}"
        )
    raw = data.get("features") if isinstance(data.get("features"), dict) else {}
    features = {str(k): v is True for k, v in raw.items()}
    return PluginInfo(
        present=True,
        version=str(data.get("plugin_version") or ""),
        epoch=epoch,
        head=head,
        features=features,
    )


def mark_absent(db: Database, why: str) -> None:
    """Record that the plugin is not (or no longer) there; logged once per change."""
    with db.write() as conn:
        if get_state(conn, PRESENT) == "1":
            log.warning("companion plugin gone (%s): using plain WooCommerce", why)
        set_state(conn, PRESENT, "0")
        set_state(conn, VERSION, "")
        set_json(conn, FEATURES, {})


def known_plugin(db: Database) -> PluginInfo:
    """The last recorded verdict (no request): what the outbox and the audit go by."""
    with db.lock:
        present = get_state(db.conn, PRESENT) == "1"
        version = get_state(db.conn, VERSION) or ""
        features = get_json(db.conn, FEATURES, {}) or {}
    return PluginInfo(present=present, version=version, features=dict(features))
