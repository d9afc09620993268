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
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import signal
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2
import uvicorn

from onetill.config import Config, load_config
from onetill.engine.app import StatusHub, create_engine_app
from onetill.engine.connectivity import ConnectivityMonitor
from onetill.engine.jobs import SyncJobs, build_client
from onetill.engine.scheduler import Scheduler
from onetill.engine.status import clear_engine_info, database_status, write_engine_info
from onetill.engine.webhooks import WebhookReceiver
from onetill.store import Database, open_database
from onetill.woo import WooClient

__all__ = ["Engine", "EngineSettings", "run_engine"]

log = logging.getLogger("onetill.engine")


@dataclass
class EngineSettings:
    """Everything tunable about one engine. Tests shrink the intervals."""

    home: Path
    host: str = "127.0.0.1"
    port: int = 8000
    delta_interval_s: float = 30.0
    audit_interval_s: float = 3600.0
    probe_min_s: float = 5.0
    probe_max_s: float = 60.0
    idle_probe_s: float = 10.0
    outbox_poll_s: float = 1.0
    grace_s: float = 10.0
    request_timeout_s: float = 30.0
    status_refresh_s: float = 2.0
    drain_batch_size: int = 10
    drain_settle_s: float = 30.0  # wait before looking up an order whose fate is unknown
    # A missing order whose fate was unknown is resent only once its send is this old.
    drain_min_resend_age_s: float = 120.0


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
    ) -> None:
        self.settings = settings
        self.home = settings.home
        self.config = config or load_config(self.home)
        self._transport = transport
        self._on_secret = on_secret
        self.url: str | None = None
        self.db: Database | None = None
        self.monitor: ConnectivityMonitor | None = None
        self.scheduler: Scheduler | None = None
        self.jobs: SyncJobs | None = None
        self.hub: StatusHub | None = None
        self._stop = asyncio.Event()
        self._secret_cache: tuple[float, str | None] = (-1.0, self.config.webhook_secret)
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

    # -- status ----------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """The status model from the database, with the live connectivity on top."""
        assert self.db is not None and self.monitor is not None
        data = database_status(self.db)
        data["state"] = str(self.monitor.state)
        data["state_reason"] = self.monitor.reason
        data["state_since"] = datetime.fromtimestamp(self.monitor.since, UTC).isoformat()
        data["engine"] = {
            "url": self.url,
            "running": self.scheduler.busy if self.scheduler else None,
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
            except Exception:
                log.exception("could not reload the webhook secret")
                secret = self._secret_cache[1]
            self._secret_cache = (mtime, secret)
            if self._on_secret is not None:
                self._on_secret(secret)
        return self._secret_cache[1]

    # -- the process -----------------------------------------------------------

    async def run(self, ready: Callable[[str], None] | None = None) -> None:
        """Serve until ``request_stop()``; ``ready(url)`` is called once listening."""
        from onetill.engine.apply import CatalogWebhookHandler

        s = self.settings
        # Bind first: a port in use is reported before anything is opened.
        sock = _bind(s.host, s.port)
        self.db = db = open_database(self.home)
        monitor = self.monitor = ConnectivityMonitor(
            self._probe,
            probe_min_s=s.probe_min_s,
            probe_max_s=s.probe_max_s,
            idle_probe_s=s.idle_probe_s,
        )
        client = build_client(
            self.config, observe=monitor.observe, transport=self._transport,
            timeout=s.request_timeout_s,
        )
        self._probe_client = build_client(
            self.config, observe=monitor.observe, transport=self._transport,
            timeout=min(10.0, s.request_timeout_s), max_attempts=1,
        )
        self.jobs = jobs = SyncJobs(client, db, self.config, s)
        hub = self.hub = StatusHub(self.status, refresh_s=s.status_refresh_s)
        scheduler = self.scheduler = Scheduler(
            jobs, monitor,
            delta_interval_s=s.delta_interval_s,
            audit_interval_s=s.audit_interval_s,
            outbox_poll_s=s.outbox_poll_s,
            on_job_done=lambda _name: hub.changed(),
        )
        monitor.add_listener(lambda _old, _new: hub.changed())
        self._webhook_secret()
        meta_key = self.config.extra.get("barcode_meta_key")
        handler = CatalogWebhookHandler(
            client, db, self.config.till_id, str(meta_key) if meta_key else None
        )
        receiver = WebhookReceiver(
            db, self._webhook_secret, handler,
            on_applied=lambda _topic: hub.changed(),
            on_deferred=lambda _topic: scheduler.wake_delta(),
        )
        app = create_engine_app(receiver, hub)
        port = sock.getsockname()[1]
        self.url = f"http://{_url_host(s.host)}:{port}/"
        server = _Server(
            uvicorn.Config(
                app, log_config=None, lifespan="off", timeout_graceful_shutdown=2,
                access_log=False,
            )
        )
        server_task = asyncio.create_task(server.serve(sockets=[sock]), name="onetill-http")
        monitor_task = asyncio.create_task(monitor.run(), name="onetill-connectivity")
        scheduler.start_fresh()
        scheduler_task = asyncio.create_task(scheduler.run(), name="onetill-scheduler")
        try:
            for _ in range(1500):  # uvicorn has no "started" event; 30 s at most
                if server.started or server_task.done():
                    break
                await asyncio.sleep(0.02)
            if server_task.done():
                server_task.result()  # raises what stopped it
                raise RuntimeError("the HTTP server stopped during start-up")
            write_engine_info(self.home, self.url)
            log.info("engine listening on %s (store %s)", self.url, self.config.url)
            if not _is_loopback(s.host):
                log.warning(
                    "listening on %s: the status API and the webhook receiver are reachable "
                    "from the network (webhooks are verified; status is read-only)", s.host
                )
            self.started.set()
            if ready is not None:
                ready(self.url)
            stop_wait = asyncio.create_task(self._stop.wait())
            await asyncio.wait(
                {stop_wait, server_task, scheduler_task}, return_when=asyncio.FIRST_COMPLETED
            )
            stop_wait.cancel()
        finally:
            await self._shutdown(server, server_task, monitor_task, scheduler_task, client, sock)

    async def _shutdown(
        self,
        server: _Server,
        server_task: asyncio.Task[None],
        monitor_task: asyncio.Task[None],
        scheduler_task: asyncio.Task[None],
        client: WooClient,
        sock: socket.socket,
    ) -> None:
        assert self.scheduler is not None and self.hub is not None and self.db is not None
        started = time.monotonic()
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
        await client.aclose()
        await self._probe_client.aclose()
        clear_engine_info(self.home)
        self.db.close()
        log.info("engine stopped cleanly in %.1f s", time.monotonic() - started)

    async def _probe(self) -> object:
        # Authenticated and tiny: proves the network, the store and the keys.
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



def run_engine(
    settings: EngineSettings,
    *,
    log_json: bool = False,
    log_level: str = "info",
    ready: Callable[[str], None] | None = None,
) -> None:
    """``onetill run``: lock the home, set up logging, serve until SIGTERM/SIGINT.

    Raises ``LockHeldError`` when another engine runs for the same home and
    ``NotConnectedError`` when no store is connected.
    """
    from onetill.engine.lock import acquire_lock
    from onetill.engine.logs import setup_logging

    redactor = setup_logging(json_lines=log_json, level=getattr(logging, log_level.upper()))
    with acquire_lock(settings.home):
        config = load_config(settings.home)
        redactor.add_secret(config.secret)
        redactor.add_secret(config.webhook_secret)

        async def main() -> None:
            engine = Engine(settings, config=config, on_secret=redactor.add_secret)
            install_signal_handlers(engine)
            await engine.run(ready=ready)

        asyncio.run(main())
