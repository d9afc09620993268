"""The scheduler: drain on a sale, drain before delta on reconnect, timers, quiet offline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx2
import pytest

from engine.engine_support import eventually
from onetill.engine.connectivity import ConnectivityMonitor, State
from onetill.engine.scheduler import Scheduler

OK = httpx2.Response(200, json=[], headers={"content-type": "application/json"})
DOWN = httpx2.ConnectError("connection refused")


class RecordingJobs:
    """Jobs that record when they ran (the scheduler is under test, not the sync)."""

    def __init__(self) -> None:
        self.log: list[tuple[str, float]] = []
        self.retry_in: float | None = None
        self.changed = False
        self.drain_time = 0.0
        self.fail_delta: BaseException | None = None
        self.audit_due: float | None = None

    def names(self) -> list[str]:
        return [name for name, _ in self.log]

    async def drain(self) -> None:
        self.log.append(("drain", time.monotonic()))
        if self.drain_time:
            await asyncio.sleep(self.drain_time)
        self.log.append(("drain-done", time.monotonic()))

    async def delta(self) -> None:
        self.log.append(("delta", time.monotonic()))
        if self.fail_delta is not None:
            raise self.fail_delta

    async def audit(self) -> None:
        self.log.append(("audit", time.monotonic()))

    def next_retry_in(self) -> float | None:
        return self.retry_in

    def outbox_changed(self) -> bool:
        changed, self.changed = self.changed, False
        return changed

    def audit_due_in(self, interval_s: float) -> float:
        return self.audit_due if self.audit_due is not None else interval_s


async def never_probe() -> object:
    raise AssertionError("the scheduler tests do not probe")


Setup = tuple[Scheduler, RecordingJobs, ConnectivityMonitor]


@pytest.fixture
async def setup() -> AsyncIterator[Setup]:
    jobs = RecordingJobs()
    monitor = ConnectivityMonitor(never_probe)
    scheduler = Scheduler(jobs, monitor, delta_interval_s=0.3, audit_interval_s=100,
                          outbox_poll_s=0.02)
    task = asyncio.create_task(scheduler.run())
    yield scheduler, jobs, monitor
    scheduler.stop()
    await asyncio.wait_for(task, 5)


@pytest.mark.anyio
async def test_a_sale_wakes_the_drainer_at_once(setup: Setup) -> None:
    scheduler, jobs, _ = setup
    await asyncio.sleep(0.05)
    start = time.monotonic()
    scheduler.wake_drain()
    await eventually(lambda: "drain" in jobs.names())
    assert jobs.log[0][1] - start < 0.1


@pytest.mark.anyio
async def test_a_commit_by_another_process_wakes_the_drainer(setup: Setup) -> None:
    _, jobs, _ = setup
    jobs.changed = True
    await eventually(lambda: "drain" in jobs.names())


@pytest.mark.anyio
async def test_a_due_retry_wakes_the_drainer(setup: Setup) -> None:
    scheduler, jobs, _ = setup
    jobs.retry_in = 0.1
    scheduler.wake_drain()  # re-reads the retry time
    await eventually(lambda: jobs.names().count("drain") >= 3, within=1.0)


@pytest.mark.anyio
async def test_delta_runs_on_its_interval(setup: Setup) -> None:
    _, jobs, _ = setup
    await eventually(lambda: jobs.names().count("delta") >= 2, within=1.5)
    times = [t for n, t in jobs.log if n == "delta"]
    assert 0.2 < times[1] - times[0] < 0.6


@pytest.mark.anyio
async def test_nothing_runs_against_the_store_while_offline(setup: Setup) -> None:
    scheduler, jobs, monitor = setup
    monitor.observe(DOWN)
    assert monitor.state is State.OFFLINE
    jobs.log.clear()
    scheduler.wake_drain()
    jobs.changed = True
    await asyncio.sleep(0.7)  # two delta intervals
    assert jobs.log == []


@pytest.mark.anyio
async def test_reconnect_drains_first_then_syncs_without_waiting_for_the_timer(
    setup: Setup,
) -> None:
    scheduler, jobs, monitor = setup
    scheduler.delta_interval_s = 100  # the timer cannot be what triggers the sync
    await asyncio.sleep(0.4)  # let the first short delta wait expire into the long one
    monitor.observe(DOWN)
    jobs.drain_time = 0.2
    jobs.log.clear()
    monitor.observe(OK)
    await eventually(lambda: "delta" in jobs.names())
    assert jobs.names()[:3] == ["drain", "drain-done", "delta"]


@pytest.mark.anyio
async def test_a_failing_job_is_reported_and_the_loop_goes_on(setup: Setup) -> None:
    scheduler, jobs, monitor = setup
    jobs.fail_delta = httpx2.ConnectError("refused")
    await eventually(lambda: monitor.state is State.OFFLINE, within=1.5)
    assert "delta" in scheduler.stats.last_error
    jobs.fail_delta = None
    monitor.observe(OK)
    await eventually(lambda: jobs.names().count("delta") >= 2, within=1.5)


@pytest.mark.anyio
async def test_stop_lets_a_running_job_finish() -> None:
    jobs = RecordingJobs()
    jobs.drain_time = 0.3
    monitor = ConnectivityMonitor(never_probe)
    scheduler = Scheduler(jobs, monitor, delta_interval_s=100, outbox_poll_s=0.02)
    task = asyncio.create_task(scheduler.run())
    scheduler.wake_drain()
    await eventually(lambda: "drain" in jobs.names())
    scheduler.stop()
    await asyncio.wait_for(task, 2)
    assert jobs.names() == ["drain", "drain-done"]


@pytest.mark.anyio
async def test_start_fresh_drains_then_syncs() -> None:
    """At start-up orders left in flight are resolved (drain) before the first catalog sync."""
    jobs = RecordingJobs()
    monitor = ConnectivityMonitor(never_probe)
    scheduler = Scheduler(jobs, monitor, delta_interval_s=100, outbox_poll_s=0.02)
    scheduler.start_fresh()
    task = asyncio.create_task(scheduler.run())
    await eventually(lambda: "delta" in jobs.names())
    scheduler.stop()
    await asyncio.wait_for(task, 2)
    assert jobs.names()[:3] == ["drain", "drain-done", "delta"]


@pytest.mark.anyio
async def test_an_order_that_stays_due_does_not_spin_the_drainer(setup: Setup) -> None:
    """A drain that cannot move the queue head (still due) is not repeated in a tight loop."""
    scheduler, jobs, _ = setup
    jobs.retry_in = 0.0
    scheduler.wake_drain()
    await asyncio.sleep(1.0)
    assert 2 <= jobs.names().count("drain") <= 7


@pytest.mark.anyio
async def test_an_overdue_audit_runs_soon_after_start_not_an_hour_later() -> None:
    """The last audit (of an earlier run) is over an hour old: the first one is due at
    once, not a whole interval after this start; later ones keep the interval."""
    jobs = RecordingJobs()
    jobs.audit_due = 0.0
    scheduler = Scheduler(jobs, ConnectivityMonitor(never_probe), delta_interval_s=100,
                          audit_interval_s=100, outbox_poll_s=0.02)  # fmt: skip
    task = asyncio.create_task(scheduler.run())
    try:
        await eventually(lambda: "audit" in jobs.names())
        await asyncio.sleep(0.1)
        assert jobs.names().count("audit") == 1
    finally:
        scheduler.stop()
        await asyncio.wait_for(task, 5)


def test_jitter_spreads_intervals_around_the_one_asked_for() -> None:
    """Each interval is drawn from interval * (1 +- jitter): bounded, varied, and on average
    the interval asked for (so requests per minute do not grow)."""
    import random

    scheduler = Scheduler(RecordingJobs(), ConnectivityMonitor(never_probe), jitter=0.1,
                          rng=random.Random(7))
    draws = [scheduler.spread(30.0) for _ in range(2000)]
    assert all(27.0 <= d <= 33.0 for d in draws)
    assert len({round(d, 3) for d in draws}) > 1000
    assert abs(sum(draws) / len(draws) - 30.0) < 0.2
    with pytest.raises(ValueError):
        Scheduler(RecordingJobs(), ConnectivityMonitor(never_probe), jitter=1.0)


@pytest.mark.anyio
async def test_two_tills_started_together_stop_polling_in_step() -> None:
    """Two engines started at the same moment (a shop's power comes back): with jitter their
    polls drift apart instead of hitting the store in the same instant every time."""
    import random

    runs = []
    for seed in (1, 2):
        jobs = RecordingJobs()
        scheduler = Scheduler(jobs, ConnectivityMonitor(never_probe), delta_interval_s=0.1,
                              audit_interval_s=100, outbox_poll_s=0.02, jitter=0.5,
                              rng=random.Random(seed))
        runs.append((scheduler, jobs, asyncio.create_task(scheduler.run())))
    try:
        await eventually(lambda: all(j.names().count("delta") >= 6 for _, j, _ in runs),
                         within=3.0)
    finally:
        for scheduler, _, task in runs:
            scheduler.stop()
            await asyncio.wait_for(task, 5)
    first, second = ([t for n, t in j.log if n == "delta"][:6] for _, j, _ in runs)
    assert max(abs(a - b) for a, b in zip(first, second, strict=True)) > 0.02
