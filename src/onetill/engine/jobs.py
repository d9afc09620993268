"""The engine's jobs against the store, and the client they share.

``SyncJobs`` adapts ``onetill.sync`` (outbox drain, initial/delta sync,
ID audit, the scan for sales the store holds twice) to the scheduler, and
answers its two questions: when is the outbox next due (by the store's
clock, never the till's), and did another process commit a sale.
``build_client`` makes the ``WooClient`` for the saved connection; given
``observe``, every response and transport failure is reported (the
connectivity monitor).
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2

from onetill.config import Config
from onetill.engine.settings import EngineSettings
from onetill.store import Database
from onetill.sync.plugin import PluginInfo
from onetill.woo import WooClient
from onetill.woo.errors import AuthError, NoRouteError, TransportError, WooError
from onetill.woo.transport import StoreTransport

__all__ = ["SyncJobs", "build_client", "tls_verify"]

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
        # The client attaches it later; the judgement needs what was sent (the
        # OAuth timestamp) to tell a skewed clock from rejected keys.
        response.request = request
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
    verify = tls_verify(config)
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


def tls_verify(config: Config) -> bool | ssl.SSLContext:
    """How the store's certificate is checked: the saved CA file, none (``--insecure``),
    or the default trust. Raises ``WooError`` when the CA file cannot be used."""
    if config.insecure:
        return False
    if not config.ca_file:
        return True
    try:
        return ssl.create_default_context(cafile=config.ca_file)
    except (OSError, ssl.SSLError) as exc:
        # Worded as WooClient words it: callers report WooError cleanly.
        raise WooError(
            f"cannot use {config.ca_file!r} as a CA file: {exc}",
            hint="pass a PEM file holding the certificate that signed the store's",
        ) from None


class SyncJobs:
    """The scheduler's jobs, done by ``onetill.sync`` against one client and database."""

    def __init__(
        self,
        client: WooClient,
        db: Database,
        config: Config,
        settings: EngineSettings,
        *,
        on_progress: Callable[[Any], None] | None = None,
    ) -> None:
        self.client = client
        self.on_progress = on_progress  # each Progress event of an initial sync
        self.db = db
        self.config = config
        self.settings = settings
        self._busy_retry = False
        self._paused = False
        self._data_version: int | None = None
        # When the last drain said to come back (our monotonic clock), if it said.
        self._again_at: float | None = None
        self._scanned_at: float | None = None  # monotonic: the last scan for copies
        self._plugin: PluginInfo | None = None  # asked once per run, then hourly

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
        from onetill.sync.plugin import known_plugin

        plugin = self._plugin if self._plugin is not None else known_plugin(self.db)

        # While the keys are rejected, each wake-up (the recheck timer, a sale,
        # a reconnect) tries the head order once: one request, never a loop,
        # and the queue resumes by itself when the merchant fixes the keys.
        report = await drain(
            self.client, self.db, batch_size=self.settings.drain_batch_size,
            plugin=self.config.plugin or plugin.has("orders_by_uuid"),
            idempotent=plugin.has("idempotent_orders"), settle_s=self.settings.drain_settle_s,
            min_resend_age_s=self._min_resend_age_s, force=self._paused,
        )
        wait = report.retry_in_s
        self._again_at = None if wait is None else time.monotonic() + wait
        # Another process (`onetill drain`, `onetill sell`) holds the drain
        # lock: try again shortly rather than at the next sale.
        self._busy_retry = report.busy
        # Keys rejected: the queue is paused until they are fixed; look again
        # now and then (a sale or a reconnect wakes the drainer anyway).
        self._paused = report.paused is not None
        if report.synced or report.failed or report.paused:
            log.info("outbox: %s", report.as_dict())

    async def scan_for_copies(self) -> None:
        """Look for sales the store holds twice, every ``duplicate_scan_interval_s``."""
        from onetill.sync.duplicates import scan_for_copies

        interval = self.settings.duplicate_scan_interval_s
        if self._scanned_at is not None and time.monotonic() - self._scanned_at < interval:
            return
        self._scanned_at = time.monotonic()
        flagged = await scan_for_copies(self.client, self.db)
        if flagged:
            log.error("the store holds %d sale(s) twice: %s", len(flagged), ", ".join(flagged))

    async def delta(self) -> None:
        """The poll: the plugin's change journal when the store has it, else plain polling."""
        from onetill.sync.catalog import needs_initial_sync

        if self._plugin is None:  # once per run; the audit asks again every hour
            await self._detect_plugin()
        plugin = self._plugin
        if plugin is not None and plugin.has("changes") and await self._journal_poll():
            return
        if needs_initial_sync(self.db):
            log.info("no complete catalog yet: running the initial sync")
            await self._initial_sync(full=False)
        else:
            from onetill.sync.catalog import delta_sync
            from onetill.sync.delta import SETBACK_REREAD_S

            # The overlap covers the boundary second and a slow save (poll_window);
            # a store clock set back is noticed by the poll and read again from
            # further back than one interval, whatever --interval is.
            await delta_sync(
                self.client, self.db, global_variations=self.config.global_variations,
                barcode_meta_key=self._meta_key,
                setback_reread_s=max(SETBACK_REREAD_S, 2 * self.settings.delta_interval_s),
            )
            await self.scan_for_copies()

    async def _initial_sync(self, *, full: bool) -> Any:
        from onetill.sync.catalog import initial_sync

        return await initial_sync(
            self.client, self.db, self.on_progress, full=full,
            global_variations=self.config.global_variations, barcode_meta_key=self._meta_key,
        )  # fmt: skip

    async def _journal_poll(self) -> bool:
        """One journal poll; False when this step falls back to plain polling
        (the plugin gone or answering badly: said in the log)."""
        from onetill.sync.catalog import needs_initial_sync
        from onetill.sync.journal import journal_sync
        from onetill.sync.plugin import mark_absent

        async def full_sync() -> Any:
            # A complete catalog is pulled again whole (the journal cannot say what
            # changed before its head); an unfinished pull resumes.
            return await self._initial_sync(full=not needs_initial_sync(self.db))

        try:
            await journal_sync(
                self.client, self.db, full_sync=full_sync,
                global_variations=self.config.global_variations, barcode_meta_key=self._meta_key,
            )  # fmt: skip
            return True
        except NoRouteError:
            mark_absent(self.db, "its routes answer rest_no_route")
            self._plugin = PluginInfo(present=False)
        except (TransportError, AuthError):
            raise  # offline or keys refused: plain polling would fail the same way
        except WooError as exc:
            log.warning("the plugin's change journal failed (%s): polling plainly this time", exc)
        return False

    async def _detect_plugin(self) -> None:
        """Ask the store for the plugin (one request); a failure keeps the last verdict."""
        from onetill.sync.plugin import detect, known_plugin

        try:
            self._plugin = await detect(self.client, self.db)
        except (TransportError, AuthError):
            raise
        except WooError as exc:
            self._plugin = known_plugin(self.db)
            log.warning(
                "could not ask the store for the companion plugin (%s); going by the last "
                "answer: %s", exc, "present" if self._plugin.present else "absent",
            )  # fmt: skip

    @property
    def plugin(self) -> PluginInfo | None:
        """The companion plugin as last seen (None: not asked yet in this run)."""
        return self._plugin

    async def audit(self) -> None:
        from onetill.sync.catalog import audit_ids

        await self._detect_plugin()
        plugin = self._plugin
        if plugin is not None and plugin.has("ids"):
            try:
                await audit_ids(
                    self.client, self.db, global_variations=self.config.global_variations,
                    barcode_meta_key=self._meta_key, plugin=True,
                )  # fmt: skip
                return
            except (TransportError, AuthError):
                raise
            except WooError as exc:
                log.warning("the plugin's id index failed (%s): auditing with plain listings", exc)
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
        the lookup time of an order whose fate is unknown (``in_flight``). Measured with
        the store's clock (``WooClient.server_now``), so a step of the till's clock
        neither wakes the drainer in a loop nor puts it to sleep for hours."""
        from onetill.store.outbox import next_due_times
        from onetill.sync.outbox_policy import LONGEST_WAIT_S

        with self.db.lock:
            times = next_due_times(self.db.conn)
        if not times:
            return None
        if self._paused:
            return PAUSED_RECHECK_S
        if self._busy_retry:
            return BUSY_RETRY_S
        if self._again_at is not None:
            wait = self._again_at - time.monotonic()
        else:
            now = self.client.server_now() or datetime.now(UTC)
            # A time beyond anything the outbox schedules is due now.
            s = self.settings
            longest = max(LONGEST_WAIT_S, self._min_resend_age_s,
                          s.drain_settle_s + s.request_timeout_s)  # fmt: skip
            far = now + timedelta(seconds=longest + 60)
            wait = min((0.0 if t > far else (t - now).total_seconds()) for t in times)
        # Capped so that a row whose time went wrong is still retried each minute.
        return min(max(0.0, wait), 60.0)

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
