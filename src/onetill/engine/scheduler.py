"""When each sync job runs.

Three loops share one ``Scheduler``:

- the **drainer** uploads the outbox. It runs at once when a sale is made
  (``wake_drain()``, or a commit by another process noticed through
  SQLite's ``data_version``), when the earliest retry of a pending order
  falls due, and first thing after the store comes back;
- the **delta** loop pulls catalog changes every ``delta_interval_s``
  (30 s), or at once after a reconnect, always *after* the drain that the
  reconnect started (sales first: they carry money and reduce stock);
- the **audit** loop looks for force-deleted products every hour.

Several tills on one store must not poll in the same second: with
``jitter`` (the engine uses 0.1) every delta and audit interval is drawn
from ``interval * (1 +- jitter)``, so engines started together drift apart
within a few polls and stay apart, while the mean interval (and so the
requests per minute) stays what was asked for.

Nothing runs against the store while it is offline: the connectivity probe
finds out when it is back and the scheduler then drains and syncs without
waiting for a timer. A job's failure is logged and reported to the
connectivity monitor; it never stops the loop.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from onetill.engine.connectivity import ConnectivityMonitor, State

__all__ = ["Jobs", "Scheduler", "SchedulerStats"]

log = logging.getLogger("onetill.engine.scheduler")

MIN_DRAIN_GAP_S = 0.2


class Jobs(Protocol):
    """The sync work the scheduler runs (the engine's is ``jobs.SyncJobs``)."""

    async def drain(self) -> None: ...

    async def delta(self) -> None: ...

    async def audit(self) -> None: ...

    def next_retry_in(self) -> float | None:
        """Seconds until the earliest pending order may be retried (None: none pending)."""
        ...

    def outbox_changed(self) -> bool:
        """True when another process committed to the database since last asked."""
        ...

    def audit_due_in(self, interval_s: float) -> float:
        """Seconds until the next ID audit is due, counting the last one of any run."""
        ...


@dataclass
class SchedulerStats:
    """Counters and times, for the status and for tests."""

    drains: int = 0
    deltas: int = 0
    audits: int = 0
    last_error: str = ""
    # job -> the error of its last run, while its runs keep failing (the status says so)
    failing: dict[str, str] = field(default_factory=dict)
    last_delta_at: float | None = None  # till clock (time.time()): when it finished
    history: list[str] = field(default_factory=list)  # recent job names in run order


class Scheduler:
    """Runs ``jobs`` on their schedules until ``stop()``."""

    def __init__(
        self,
        jobs: Jobs,
        monitor: ConnectivityMonitor,
        *,
        delta_interval_s: float = 30.0,
        audit_interval_s: float = 3600.0,
        outbox_poll_s: float = 1.0,
        jitter: float = 0.0,
        rng: random.Random | None = None,
        on_job_done: Callable[[str], None] | None = None,
    ) -> None:
        if not 0.0 <= jitter < 1.0:
            raise ValueError(f"jitter must be in [0, 1), not {jitter}")
        self.jitter = jitter
        self._rng = rng or random.Random()
        self.jobs = jobs
        self.monitor = monitor
        self.delta_interval_s = delta_interval_s
        self.audit_interval_s = audit_interval_s
        self.outbox_poll_s = outbox_poll_s
        self.stats = SchedulerStats()
        self._on_job_done = on_job_done
        self._drain_wake = asyncio.Event()
        self._delta_wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._reconnected = False
        self._busy: str | None = None
        self._job_lock = asyncio.Lock()
        monitor.add_listener(self._connectivity_changed)

    # -- triggers ------------------------------------------------------------

    def wake_drain(self) -> None:
        """A sale was recorded: upload it now (if the store is reachable)."""
        self._drain_wake.set()

    def wake_delta(self) -> None:
        self._delta_wake.set()

    def start_fresh(self) -> None:
        """Treat start-up like a reconnect: drain (resolving orders left in
        flight by a crash) and then sync, before the first timer."""
        self._reconnected = True
        self._drain_wake.set()

    def _connectivity_changed(self, old: State, new: State) -> None:
        if new is State.ONLINE and old is not State.ONLINE:
            self._reconnected = True
            self._drain_wake.set()

    def spread(self, seconds: float) -> float:
        """``seconds`` give or take ``jitter`` of it (uniformly)."""
        return seconds * (1.0 + self.jitter * (2.0 * self._rng.random() - 1.0))

    @property
    def job_lock(self) -> asyncio.Lock:
        """Held while a job runs: take it to change what the jobs use (the client)."""
        return self._job_lock

    @property
    def busy(self) -> str | None:
        """The job running now, if any."""
        return self._busy

    # -- loops ---------------------------------------------------------------

    async def run(self) -> None:
        """Run all loops until ``stop()`` is called (or the task is cancelled)."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self._drain_loop(), name="onetill-drain")
            group.create_task(self._delta_loop(), name="onetill-delta")
            group.create_task(self._audit_loop(), name="onetill-audit")
            group.create_task(self._outbox_watch_loop(), name="onetill-outbox-watch")
            await self._stopping.wait()
            # Loops see _stopping at their next wait; a job in progress finishes.
            self._drain_wake.set()
            self._delta_wake.set()

    def stop(self) -> None:
        """Stop taking new work; jobs already running are allowed to finish."""
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    async def _drain_loop(self) -> None:
        last_end = -MIN_DRAIN_GAP_S
        while not self.stopping:
            timeout = self.jobs.next_retry_in()
            await _wait(self._drain_wake, timeout)
            self._drain_wake.clear()
            # A floor between drains: an order that stays due (a drain that
            # could not move it) must not turn this loop into a busy spin.
            gap = MIN_DRAIN_GAP_S - (time.monotonic() - last_end)
            if gap > 0:
                await asyncio.sleep(gap)
            if self.stopping:
                return
            if self.monitor.state is State.OFFLINE:
                continue  # the reconnect wakes us
            reconnect, self._reconnected = self._reconnected, False
            await self._run("drain", self.jobs.drain)
            last_end = time.monotonic()
            if reconnect and not self.stopping:
                # The store is back: catalog next, without waiting for the timer.
                self._delta_wake.set()

    async def _delta_loop(self) -> None:
        while not self.stopping:
            await _wait(self._delta_wake, self.spread(self.delta_interval_s))
            self._delta_wake.clear()
            if self.stopping:
                return
            if self.monitor.state is State.OFFLINE:
                continue
            if self._reconnected:
                # A reconnect is pending: the drainer goes first and wakes us.
                continue
            await self._run("delta", self.jobs.delta)
            self.stats.last_delta_at = time.time()

    async def _audit_loop(self) -> None:
        never = asyncio.Event()
        # The hour counts from the last audit, even one by an earlier run: an
        # engine restarted more often than hourly must still audit.
        try:
            wait = self.jobs.audit_due_in(self.audit_interval_s)
        except Exception:
            log.exception("reading when the last audit ran failed")
            wait = self.audit_interval_s
        while not self.stopping:
            await _wait(never, wait, stop=self._stopping)
            wait = self.spread(self.audit_interval_s)
            if self.stopping:
                return
            if self.monitor.state is State.OFFLINE:
                continue
            await self._run("audit", self.jobs.audit)

    async def _outbox_watch_loop(self) -> None:
        never = asyncio.Event()
        while not self.stopping:
            await _wait(never, self.outbox_poll_s, stop=self._stopping)
            if self.stopping:
                return
            try:
                if self.jobs.outbox_changed():
                    self._drain_wake.set()
            except Exception:
                log.exception("checking the database for new sales failed")

    async def _run(self, name: str, job: Callable[[], Awaitable[None]]) -> None:
        # One job at a time: drain, delta and audit share the client's
        # connection budget and the database write lock anyway.
        async with self._job_lock:
            self._busy = name
            try:
                await job()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.stats.last_error = f"{name}: {exc}"
                self.stats.failing[name] = str(exc)[:300] or type(exc).__name__
                log.warning("%s failed: %s", name, exc)
                self.monitor.observe(exc)
            else:
                self.stats.failing.pop(name, None)
            finally:
                self._busy = None
            setattr(self.stats, name + "s", getattr(self.stats, name + "s") + 1)
            self.stats.history.append(name)
            del self.stats.history[:-50]
        if self._on_job_done is not None:
            self._on_job_done(name)


async def _wait(
    event: asyncio.Event, seconds: float | None, stop: asyncio.Event | None = None
) -> None:
    """Wait for ``event`` (or ``stop``) at most ``seconds`` (None: forever)."""
    waiters = [asyncio.ensure_future(event.wait())]
    if stop is not None:
        waiters.append(asyncio.ensure_future(stop.wait()))
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
