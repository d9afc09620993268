"""The engine process: one asyncio loop running uvicorn and the sync tasks.

``Engine.run()`` serves the app, runs the scheduler and the connectivity
monitor, and on ``request_stop()`` (SIGTERM/SIGINT in ``run_engine``) shuts
down in this order: stop taking new work; give a job already running
``grace_s`` to finish (a request abandoned after that leaves its order
``in_flight``, which the next start resolves by looking the UUID up before
any resend); stop the server; close the client and the database.

Every HTTP exchange with the store passes through the observing transport
of ``jobs.build_client``, so connectivity is judged from the real requests
of every job.

A user interface (the till screen, ``onetill.web``) is plugged in as a
``ui`` factory that wraps the engine's ASGI app; the engine never imports
it. With a ``ui``, the engine also runs before any store is connected: it
serves the screen (whose connect form calls ``use_config``) and starts the
sync machinery once a connection exists. ``use_config`` on a running
engine swaps in new keys (a queue paused by rejected keys resumes).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import signal
import socket
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2
import uvicorn

from onetill.config import Config, NotConnectedError, load_config
from onetill.engine.app import StatusHub, check_hosts, create_engine_app
from onetill.engine.connectivity import ConnectivityMonitor
from onetill.engine.hosts import HostPolicy, host_of
from onetill.engine.jobs import SyncJobs, build_client, tls_verify
from onetill.engine.reach import handshake_probe
from onetill.engine.scheduler import Scheduler
from onetill.engine.settings import EngineSettings
from onetill.engine.status import clear_engine_info, database_status, write_engine_info
from onetill.engine.webhooks import WebhookReceiver
from onetill.store import Database, open_database
from onetill.woo import WooClient

__all__ = ["Engine", "EngineSettings", "UiFactory", "run_engine"]

log = logging.getLogger("onetill.engine")


# Wraps the engine's app (status, stream, webhooks) in a user interface.
UiFactory = Callable[["Engine", Any], Any]


class _HandlerSlot:
    """The webhook handler, once a store is connected (deliveries before that
    are refused by the receiver for want of a secret)."""

    def __init__(self) -> None:
        self.handler: Any = None

    async def product_changed(self, topic: str, data: dict[str, Any]) -> str:
        return str(await self.handler.product_changed(topic, data))

    async def product_deleted(self, product_id: int) -> str:
        return str(await self.handler.product_deleted(product_id))

    async def order_changed(self, topic: str, data: dict[str, Any]) -> str:
        return str(await self.handler.order_changed(topic, data))


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the engine owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class Engine:
    """One running engine for one home directory (the lock is the caller's job)."""

    def __init__(
        self,
        settings: EngineSettings,
        *,
        config: Config | None = None,
        transport: httpx2.AsyncBaseTransport | None = None,
        on_secret: Callable[[str | None], None] | None = None,
        ui: UiFactory | None = None,
    ) -> None:
        self.settings = settings
        self.home = settings.home
        if config is None:
            try:
                config = load_config(self.home)
            except NotConnectedError:
                if ui is None:
                    raise
                config = None  # first run: the till screen's connect form
        self.config: Config | None = config
        self._transport = transport
        self._on_secret = on_secret
        self._ui = ui
        self.url: str | None = None
        self.db: Database | None = None
        self.monitor: ConnectivityMonitor | None = None
        self.scheduler: Scheduler | None = None
        self.jobs: SyncJobs | None = None
        self.hub: StatusHub | None = None
        self.client: WooClient | None = None
        self._probe_client: WooClient | None = None
        self._handler = _HandlerSlot()
        self._app: Any = None
        self.demo: Any = None  # the demo's store controls (onetill demo only)
        self._stop = asyncio.Event()
        self._connected = asyncio.Event()
        self._secret_cache: tuple[float, str | None] = (
            -1.0, config.webhook_secret if config else None,
        )
        self._names_cache: tuple[float, frozenset[str]] = (-1.0, frozenset())
        self.started = asyncio.Event()

    # -- control ---------------------------------------------------------------

    def request_stop(self) -> None:
        """Stop taking new work and shut down (idempotent; safe from a signal handler)."""
        if not self._stop.is_set():
            log.info("stopping: finishing the job in progress, taking no new work")
        self._stop.set()

    def notify_sale(self) -> None:
        """A sale was committed in this process: upload it now."""
        if self.scheduler is not None:
            self.scheduler.wake_drain()
        if self.hub is not None:
            self.hub.changed()

    @property
    def connected(self) -> bool:
        return self.config is not None

    @property
    def online(self) -> bool:
        """Whether the store answers right now (card payments need it)."""
        return self.monitor is not None and self.monitor.online

    @property
    def clock_skew_s(self) -> float:
        """Store clock minus this machine's, from the last answer (0 when unknown)."""
        skew = self.client.clock_skew_s if self.client is not None else None
        return float(skew or 0.0)

    async def use_config(self, config: Config) -> None:
        """Use a connection saved by the till screen: the first one (start syncing)
        or new keys for the same store (swap the clients, resume the queue)."""
        if self._on_secret is not None:
            self._on_secret(config.secret)
            self._on_secret(config.webhook_secret)
        if self.config is None or self.scheduler is None:
            self.config = config
            self._connected.set()
            return
        old = (self.client, self._probe_client)
        self.config = config
        self._make_clients()
        assert self.jobs is not None and self.monitor is not None and self.client is not None
        self.jobs.client = self._handler.handler.client = self.client
        self.jobs.config = config
        async with self.scheduler.job_lock:  # no job holds the old client any more
            for client in old:
                if client is not None:
                    await client.aclose()
        await self.monitor.probe_once()
        self.scheduler.wake_drain()
        if self.hub is not None:
            self.hub.changed()

    # -- status ----------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """The status model from the database, with the live connectivity on top.

        A store that answers while a job fails on every run (an initial sync
        that never completes) is ``degraded`` with the job's error, not online.
        """
        assert self.db is not None
        client = self.jobs.client if self.jobs is not None else None
        data = database_status(
            self.db,
            store_now=client.server_now() if client is not None else None,
            poll_interval_s=self.settings.delta_interval_s,
            engine_running=True,
        )
        data["connected"] = self.config is not None
        if self.monitor is None:
            data["state"] = "offline"
            data["state_reason"] = (
                "no store connected yet" if self.config is None else "starting"
            )
            data["state_since"] = None
        else:
            state, reason = str(self.monitor.state), self.monitor.reason
            failing = self.scheduler.stats.failing if self.scheduler else {}
            if state == "online" and failing:
                state = "degraded"
                reason = "; ".join(
                    f"{job} fails: {error}" for job, error in sorted(failing.items())
                )
            data["state"] = state
            data["state_reason"] = reason
            data["state_since"] = datetime.fromtimestamp(self.monitor.since, UTC).isoformat()
        data["store_clock_skew_s"] = client.clock_skew_s if client is not None else None
        data["engine"] = {
            "url": self.url,
            "running": True,  # this answer comes from the running engine
            "job": self.scheduler.busy if self.scheduler else None,
        }
        return data

    def _webhook_secret(self) -> str | None:
        # `onetill webhooks register` may rotate the secret while we run:
        # reload it when config.json changes.
        path = self.home / "config.json"
        try:
            mtime = path.stat().st_mtime
        except OSError:
            return self._secret_cache[1]
        if mtime != self._secret_cache[0]:
            try:
                secret = load_config(self.home).webhook_secret
            except NotConnectedError:
                secret = None
            except Exception:
                log.exception("could not reload the webhook secret")
                secret = self._secret_cache[1]
            self._secret_cache = (mtime, secret)
            if self._on_secret is not None:
                self._on_secret(secret)
        return self._secret_cache[1]

    def _host_names(self) -> frozenset[str]:
        """Names besides its addresses the engine answers to: its webhooks' public host
        and ``allowed_hosts`` in the config (re-read when config.json changes)."""
        path = self.home / "config.json"
        try:
            mtime = path.stat().st_mtime
        except OSError:
            return self._names_cache[1]
        if mtime != self._names_cache[0]:
            try:
                extra = load_config(self.home).extra
            except Exception:
                log.exception("could not reload the allowed host names")
                extra = self.config.extra if self.config else {}
            names = {host_of(str(n)) for n in extra.get("allowed_hosts") or []}
            webhook = extra.get("webhook_url")
            if isinstance(webhook, str) and "://" in webhook:
                names.add(host_of(webhook.split("://", 1)[1].split("/", 1)[0].rpartition("@")[2]))
            self._names_cache = (mtime, frozenset(n for n in names if n))
        return self._names_cache[1]

    # -- the process -----------------------------------------------------------

    async def run(self, ready: Callable[[str], None] | None = None) -> None:
        """Serve until ``request_stop()``; ``ready(url)`` is called once listening."""
        s = self.settings
        # Bind first: a port in use is reported before anything is opened.
        sock = _bind(s.host, s.port)
        self.db = db = open_database(self.home)
        hub = self.hub = StatusHub(self.status, refresh_s=s.status_refresh_s)
        self._webhook_secret()
        receiver = WebhookReceiver(
            db, self._webhook_secret, self._handler,
            on_applied=lambda _topic: hub.changed(),
            on_deferred=lambda _topic: self.scheduler.wake_delta() if self.scheduler else None,
        )
        app = create_engine_app(receiver, hub, self._stripe_receiver(db))
        if self._ui is not None:
            app = self._ui(self, app)
        self._app = app
        # The Host check guards everything served, the till screen included.
        hosts = HostPolicy(s.host, self._host_names)
        served = check_hosts(app, hosts.allows)
        port = sock.getsockname()[1]
        self.url = f"http://{_url_host(s.host)}:{port}/"
        server = _Server(
            uvicorn.Config(
                served, log_config=None, lifespan="off", timeout_graceful_shutdown=2,
                access_log=False,
                # A backstop for floods of connections: beyond this, 503 at once.
                limit_concurrency=256,
            )
        )
        server_task = asyncio.create_task(server.serve(sockets=[sock]), name="onetill-http")
        tasks: list[asyncio.Task[None]] = []
        try:
            for _ in range(1500):  # uvicorn has no "started" event; 30 s at most
                if server.started or server_task.done():
                    break
                await asyncio.sleep(0.02)
            if server_task.done():
                server_task.result()  # raises what stopped it
                raise RuntimeError("the HTTP server stopped during start-up")
            write_engine_info(self.home, self.url)
            where = self.config.url if self.config else "none connected yet"
            log.info("engine listening on %s (store %s)", self.url, where)
            if self.config and self.config.insecure and self.config.url.startswith("https://"):
                log.warning(
                    "the store's certificate is not checked (--insecure) and the keys go with "
                    "every request: anyone who can intercept the connection can take them"
                )
            if not _is_loopback(s.host):
                log.warning(
                    "listening on %s: reachable from the network (webhooks are verified%s)",
                    s.host, "; the till screen needs the access token" if self._ui else "",
                )
            self.started.set()
            if ready is not None:
                ready(self.url)
            recovery = asyncio.create_task(self._recover_card_payments(), name="onetill-cards")
            stop_wait = asyncio.create_task(self._stop.wait())
            if self.config is None:
                connected = asyncio.create_task(self._connected.wait())
                await asyncio.wait(
                    {stop_wait, server_task, connected}, return_when=asyncio.FIRST_COMPLETED
                )
                connected.cancel()
            if not self._stop.is_set() and not server_task.done():
                tasks = self._start_sync()
                await asyncio.wait(
                    {stop_wait, server_task, tasks[1]}, return_when=asyncio.FIRST_COMPLETED
                )
            stop_wait.cancel()
            recovery.cancel()
        finally:
            await self._shutdown(server, server_task, tasks, sock)

    def _make_clients(self) -> None:
        assert self.config is not None and self.monitor is not None
        s, monitor = self.settings, self.monitor
        self.client = build_client(
            self.config, observe=monitor.observe, transport=self._transport,
            timeout=s.request_timeout_s,
        )
        self._probe_client = build_client(
            self.config, observe=monitor.observe, transport=self._transport,
            timeout=min(s.probe_timeout_s, s.request_timeout_s), max_attempts=1,
        )

    def _start_sync(self) -> list[asyncio.Task[None]]:
        """Connectivity monitor, clients, jobs and scheduler for the connected store."""
        from onetill.engine.apply import CatalogWebhookHandler

        assert self.config is not None and self.db is not None and self.hub is not None
        s, hub, config = self.settings, self.hub, self.config
        monitor = self.monitor = ConnectivityMonitor(
            self._probe,
            reach=self._reach(),
            probe_min_s=s.probe_min_s,
            probe_max_s=s.probe_max_s,
            idle_probe_s=s.idle_probe_s,
            idle_api_probe_s=s.idle_api_probe_s,
        )
        self._make_clients()
        assert self.client is not None
        self.jobs = jobs = SyncJobs(
            self.client, self.db, config, s, on_progress=lambda _event: hub.changed()
        )
        scheduler = self.scheduler = Scheduler(
            jobs, monitor,
            delta_interval_s=s.delta_interval_s,
            audit_interval_s=s.audit_interval_s,
            outbox_poll_s=s.outbox_poll_s,
            jitter=s.jitter,
            on_job_done=lambda _name: hub.changed(),
        )
        monitor.add_listener(lambda _old, _new: hub.changed())
        meta_key = config.extra.get("barcode_meta_key")
        self._handler.handler = CatalogWebhookHandler(
            self.client, self.db, config.till_id, str(meta_key) if meta_key else None
        )
        monitor_task = asyncio.create_task(monitor.run(), name="onetill-connectivity")
        scheduler.start_fresh()
        scheduler_task = asyncio.create_task(scheduler.run(), name="onetill-scheduler")
        hub.changed()
        return [monitor_task, scheduler_task]

    async def _shutdown(
        self,
        server: _Server,
        server_task: asyncio.Task[None],
        tasks: list[asyncio.Task[None]],
        sock: socket.socket,
    ) -> None:
        assert self.hub is not None and self.db is not None
        started = time.monotonic()
        if self.scheduler is not None and tasks:
            monitor_task, scheduler_task = tasks
            self.scheduler.stop()
            busy = self.scheduler.busy
            try:
                await asyncio.wait_for(asyncio.shield(scheduler_task), self.settings.grace_s)
            except TimeoutError:
                log.warning(
                    "%s still running after %.0f s: abandoning it; an order left in flight is "
                    "looked up by its UUID on the next start", busy, self.settings.grace_s,
                )
                scheduler_task.cancel()
            except Exception:
                log.exception("the scheduler failed")
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await scheduler_task
            monitor_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await monitor_task
        self.hub.close()
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(server_task, 5.0)
        with contextlib.suppress(OSError):
            sock.close()
        for client in (self.client, self._probe_client):
            if client is not None:
                await client.aclose()
        clear_engine_info(self.home)
        closer = getattr(self._app, "aclose", None)
        if closer is not None:
            with contextlib.suppress(Exception):
                await closer()
        self.db.close()
        log.info("engine stopped cleanly in %.1f s", time.monotonic() - started)

    async def _recover_card_payments(self) -> None:
        """Card payments a crash left open: ask Stripe once at start, record what was paid."""
        from onetill.config import NotConnectedError, load_stripe

        if self.config is None:  # first run: no sale, so no card payment, yet
            return
        till_id = self.config.till_id
        try:
            cfg = load_stripe(self.home)
        except NotConnectedError:
            return

        def work() -> list[Any]:
            from onetill.pay import StripeSettings, connect_payments

            settings = StripeSettings(key=cfg.key, api_base=cfg.api_base, reader=cfg.reader)
            with open_database(self.home) as db:
                payments = connect_payments(db, settings, till_id=till_id)
                try:
                    return payments.recover()
                finally:
                    payments.gateway.close()

        try:
            results = await asyncio.to_thread(work)
        except Exception as exc:  # the next card sale or `onetill payments recover` retries
            log.warning("card payments left open could not be checked: %s", exc)
            return
        for result in results:
            log.info("card payment %s (sale %s) after restart: %s", result.payment_id,
                     result.sale_uuid, result.state)  # fmt: skip
        if any(r.paid for r in results):
            self.notify_sale()

    def _stripe_receiver(self, db: Database) -> Any:
        """Stripe's webhooks, when card payments are set up (the secret is re-read
        on each delivery: `onetill stripe webhook` may set it while we run)."""
        from onetill.config import NotConnectedError, load_stripe

        home = self.home

        def receive(body: bytes, signature: str | None) -> tuple[int, str]:
            from onetill.pay.events import receive_event

            try:
                secret = load_stripe(home).webhook_secret
            except NotConnectedError:
                return 400, "card payments are not set up"
            return receive_event(db, body, signature, secret)

        return receive

    def _reach(self) -> Callable[[], Awaitable[None]] | None:
        """A handshake with the store's host, unless requests go through a transport given
        by the caller (tests): then there is no host to shake hands with."""
        assert self.config is not None
        if self._transport is not None:
            return None
        verify = tls_verify(self.config)
        return handshake_probe(
            self.config.url, verify=verify, timeout_s=self.settings.reach_timeout_s
        )

    async def _probe(self) -> object:
        # Authenticated and tiny: proves the network, the store and the keys.
        assert self._probe_client is not None
        return await self._probe_client.get("products", {"per_page": 1, "_fields": "id"})


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}; "
            "choose another --port (0 picks a free one)"
        ) from exc
    sock.set_inheritable(True)
    return sock


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def install_signal_handlers(engine: Engine) -> None:
    """SIGTERM/SIGINT stop the engine gracefully; a second SIGINT is not special-cased
    because the grace period already bounds the wait."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, engine.request_stop)



def _redact_stripe(home: Path, redactor: Any) -> None:
    """The Stripe key and webhook secret, if card payments are set up, never reach a log."""
    from onetill.config import NotConnectedError, load_stripe

    try:
        stripe = load_stripe(home)
    except NotConnectedError:
        return
    redactor.add_secret(stripe.key)
    redactor.add_secret(stripe.webhook_secret)


def run_engine(
    settings: EngineSettings,
    *,
    log_json: bool = False,
    log_level: str = "info",
    ready: Callable[[str], None] | None = None,
    ui: UiFactory | None = None,
) -> None:
    """``onetill run``: lock the home, set up logging, serve until SIGTERM/SIGINT.

    Raises ``LockHeldError`` when another engine runs for the same home and
    ``NotConnectedError`` when no store is connected and there is no ``ui``
    whose connect form could connect one.
    """
    from onetill.engine.lock import acquire_lock
    from onetill.engine.logs import setup_logging

    redactor = setup_logging(json_lines=log_json, level=getattr(logging, log_level.upper()))
    with acquire_lock(settings.home):
        config: Config | None
        try:
            config = load_config(settings.home)
        except NotConnectedError:
            if ui is None:
                raise
            config = None
        if config is not None:
            redactor.add_secret(config.secret)
            redactor.add_secret(config.webhook_secret)
        _redact_stripe(settings.home, redactor)

        async def main() -> None:
            engine = Engine(settings, config=config, on_secret=redactor.add_secret, ui=ui)
            install_signal_handlers(engine)
            await engine.run(ready=ready)

        asyncio.run(main())
