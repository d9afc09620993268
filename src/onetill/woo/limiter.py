"""Adaptive concurrency: how many requests one client keeps in flight.

Shared hosts often run 2-8 PHP workers, and a 100-product page costs
0.2-1.5 s of server time, so the client backs off as soon as the host says
it is overloaded (429, 503, timeouts) and creeps back up while it copes.
Additive increase, multiplicative decrease, as TCP does.
"""

from __future__ import annotations

import asyncio

__all__ = ["AdaptiveLimiter"]


class AdaptiveLimiter:
    """A semaphore whose size halves on overload and grows by one after a run of successes.

    The limit never exceeds ``maximum`` and never drops below 1. Overload
    signals from requests that started before the last decrease are ignored,
    so one burst of 429s (all from the same window) halves the limit once,
    not once per request.
    """

    def __init__(self, maximum: int, *, grow_after: int = 8) -> None:
        if maximum < 1:
            raise ValueError(f"max_concurrency must be at least 1, got {maximum}")
        self.maximum = maximum
        self.limit = maximum
        self.grow_after = grow_after
        self.in_flight = 0
        self.peak_in_flight = 0
        self._successes = 0
        self._epoch = 0
        self._waiters: list[asyncio.Future[None]] = []

    async def acquire(self) -> int:
        """Wait for a slot; returns a token to pass to :meth:`release`."""
        while self.in_flight >= self.limit:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        return self._epoch

    def release(self, token: int, signal: str) -> None:
        """Free a slot. ``signal``: ``"ok"``, ``"overload"`` or ``"neutral"``.

        Synchronous on purpose: it runs in ``finally`` blocks of cancelled
        requests, where an ``await`` could be interrupted and leak the slot.
        """
        self.in_flight -= 1
        if signal == "overload":
            if token == self._epoch:
                self.limit = max(1, self.limit // 2)
                self._epoch += 1
                self._successes = 0
        elif signal == "ok":
            self._successes += 1
            if self._successes >= self.grow_after and self.limit < self.maximum:
                self.limit += 1
                self._successes = 0
        # Wake every waiter; each re-checks the limit (a handful at most).
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
