"""The engine's jobs against the store, and the client they share.

``SyncJobs`` adapts ``onetill.sync`` (outbox drain, initial/delta sync,
ID audit) to the scheduler, and answers its two questions: when is the
outbox next due, and did another process commit a sale. ``build_client``
makes the ``WooClient`` for the saved connection; given ``observe``, every
response and transport failure is reported (the connectivity monitor).
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx2

from onetill.config import Config
from onetill.store import Database
from onetill.woo import WooClient
from onetill.woo.errors import WooError
from onetill.woo.transport import StoreTransport

if TYPE_CHECKING:
    from onetill.engine.runtime import EngineSettings

__all__ = ["SyncJobs", "build_client"]

log = logging.getLogger("onetill.engine")

BUSY_RETRY_S = 1.0
PAUSED_RECHECK_S = 60.0


class _ObservingTransport(httpx2.AsyncBaseTransport):
    """Passes requests through and tells the monitor how each one went."""

    def __init__(self, inner: httpx2.AsyncBaseTransport, observe: Callable[[object], Any]) -> None:
        self._inner = inner
        self._observe = observe

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        try:
            response = await self._inner.handle_async_request(request)
        except httpx2.TransportError as exc:
            self._tell(exc)
            raise
        self._tell(response)
        return response

    def _tell(self, result: object) -> None:
        # Watching must never break the request being watched.
        try:
            self._observe(result)
        except Exception:
            log.exception("connectivity observer failed")

    async def aclose(self) -> None:
        await self._inner.aclose()


def build_client(
    config: Config,
    *,
    observe: Callable[[object], Any] | None = None,
    transport: httpx2.AsyncBaseTransport | None = None,
    timeout: float = 30.0,
    max_attempts: int = 4,
) -> WooClient:
    """A ``WooClient`` for the saved connection, optionally observed.

    Raises ``WooError`` when the configured CA file cannot be used."""
    verify: bool | ssl.SSLContext = True
    if config.insecure:
        verify = False
    elif config.ca_file:
        try:
            verify = ssl.create_default_context(cafile=config.ca_file)
        except (OSError, ssl.SSLError) as exc:
            # Worded as WooClient words it: callers report WooError cleanly.
            raise WooError(
                f"cannot use {config.ca_file!r} as a CA file: {exc}",
                hint="pass a PEM file holding the certificate that signed the store's",
            ) from None
    inner = transport or StoreTransport(verify)
    wrapped = _ObservingTransport(inner, observe) if observe is not None else inner
    return WooClient(
        config.url,
        config.key,
        config.secret,
        transport=wrapped,
        timeout=timeout,
        verify=verify,
        auth_in_query=config.auth_in_query,
        max_attempts=max_attempts,
    )


class SyncJobs:
    """The scheduler's jobs, done by ``onetill.sync`` against one client and database."""

    def __init__(
        self, client: WooClient, db: Database, config: Config, settings: EngineSettings
    ) -> None:
        self.client = client
        self.db = db
        self.config = config
        self.settings = settings
        self.last_drain: Any = None
        self._busy_retry = False
        self._paused = False
        self._data_version: int | None = None

    @property
    def _meta_key(self) -> str | None:
        value = self.config.extra.get("barcode_meta_key")
        return str(value) if value else None

    @property
    def _min_resend_age_s(self) -> float:
        # The till's config (`outbox_min_resend_age_s`, shared with `onetill
        # drain`) wins over the engine's default.
        value = self.config.extra.get("outbox_min_resend_age_s")
        return float(value) if value is not None else self.settings.drain_min_resend_age_s

    async def drain(self) -> None:
        from onetill.sync.outbox import drain

        # While the keys are rejected, each wake-up (the recheck timer, a sale,
        # a reconnect) tries the head order once: one request, never a loop,
        # and the queue resumes by itself when the merchant fixes the keys.
        report = await drain(
            self.client, self.db, batch_size=self.settings.drain_batch_size,
            plugin=self.config.plugin, settle_s=self.settings.drain_settle_s,
            min_resend_age_s=self._min_resend_age_s, force=self._paused,
        )
        self.last_drain = report
        # Another process (`onetill drain`, `onetill sell`) holds the drain
        # lock: try again shortly rather than at the next sale.
        self._busy_retry = report.busy
        # Keys rejected: the queue is paused until they are fixed; look again
        # now and then (a sale or a reconnect wakes the drainer anyway).
        self._paused = report.paused is not None
        if report.synced or report.failed or report.paused:
            log.info("outbox: %s", report.as_dict())

    async def delta(self) -> None:
        from onetill.sync.catalog import delta_sync, initial_sync, needs_initial_sync
        from onetill.sync.delta import DEFAULT_OVERLAP_S

        if needs_initial_sync(self.db):
            log.info("no complete catalog yet: running the initial sync")
            await initial_sync(
                self.client, self.db, global_variations=self.config.global_variations,
                barcode_meta_key=self._meta_key,
            )
        else:
            # The cursor is the server's Date of the last poll, so it follows a
            # clock set back; what changed between the jump and the poll after
            # it is re-read only if the overlap spans a whole interval.
            await delta_sync(
                self.client, self.db, global_variations=self.config.global_variations,
                barcode_meta_key=self._meta_key,
                overlap_s=max(DEFAULT_OVERLAP_S, 2 * self.settings.delta_interval_s),
            )

    async def audit(self) -> None:
        from onetill.sync.catalog import audit_ids

        await audit_ids(
            self.client, self.db, global_variations=self.config.global_variations,
            barcode_meta_key=self._meta_key,
        )

    def audit_due_in(self, interval_s: float) -> float:
        """Seconds until the ID audit is due: ``interval_s`` after the last one, by the
        store's clock (``audit.last_at`` against the catalog cursor, both server times)."""
        from onetill.store.sync_state import get_state
        from onetill.sync.audit import AUDIT_AT
        from onetill.sync.delta import CURSOR
        from onetill.woo import parse_gmt

        with self.db.lock:
            last, now = get_state(self.db.conn, AUDIT_AT), get_state(self.db.conn, CURSOR)
        if last is None or now is None:
            return interval_s  # never audited: the initial sync has just read everything
        try:
            elapsed = (parse_gmt(now) - parse_gmt(last)).total_seconds()
        except ValueError:
            return interval_s
        return min(interval_s, max(0.0, interval_s - elapsed))

    def next_retry_in(self) -> float | None:
        """Seconds until the outbox has something due: the FIFO head's retry time, or
        the lookup time of an order whose fate is unknown (``in_flight``)."""
        with self.db.lock:
            head = self.db.conn.execute(
                "SELECT x.next_attempt_at FROM orders o JOIN outbox x ON x.order_uuid = o.uuid"
                " WHERE o.state = 'pending_sync' ORDER BY o.seq LIMIT 1"
            ).fetchone()
            flying = self.db.conn.execute(
                "SELECT MIN(next_attempt_at) FROM outbox WHERE status = 'in_flight'"
            ).fetchone()
        times = [r[0] for r in (head, flying) if r is not None and r[0] is not None]
        if not times:
            return None
        if self._paused:
            return PAUSED_RECHECK_S
        if self._busy_retry:
            return BUSY_RETRY_S
        now = datetime.now(UTC)
        waits: list[float] = []
        for text in times:
            try:
                due = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
            except ValueError:
                return 0.0
            if due.tzinfo is None:
                due = due.replace(tzinfo=UTC)
            waits.append((due - now).total_seconds())
        # Capped so that a row whose time went wrong is still retried each minute.
        return min(max(0.0, min(waits)), 60.0)

    def outbox_changed(self) -> bool:
        # data_version changes when another connection (another process:
        # `onetill sell`, a second till screen) commits. Cheap: no I/O.
        with self.db.lock:
            version = int(self.db.conn.execute("PRAGMA data_version").fetchone()[0])
        changed = self._data_version is not None and version != self._data_version
        self._data_version = version
        if not changed:
            return False
        due = self.next_retry_in()
        return due is not None and due == 0.0
