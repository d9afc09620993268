"""The one backoff rule: capped exponential steps, full jitter, ``Retry-After`` as a floor.

Everything that waits before trying again uses :class:`Backoff`: the
client between attempts of one idempotent request (short steps, the caller
is waiting) and the order outbox between attempts of one sale (long steps,
persisted). Only the numbers differ; the rule is written once.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["Backoff"]

# 2**60 seconds is already far beyond any cap; a larger exponent overflows a float.
_MAX_EXPONENT = 60


@dataclass(frozen=True)
class Backoff:
    """Full jitter: uniform in ``[0, min(cap, base * 2**(attempt-1))]``, at least ``Retry-After``.

    ``longest`` bounds the wait whatever the store asks (a ``Retry-After`` of
    a day must not park a sale for a day); None leaves ``Retry-After`` as is.
    """

    base: float
    cap: float
    longest: float | None = None

    def delay(
        self, attempt: int, rng: random.Random | None = None, retry_after: float | None = None
    ) -> float:
        step = min(max(0, attempt - 1), _MAX_EXPONENT)
        ceiling = min(self.cap, self.base * 2.0**step)
        wait = (rng or random).uniform(0.0, ceiling)
        if retry_after is not None:
            wait = max(wait, retry_after)
        if self.longest is not None:
            wait = min(wait, self.longest)
        return wait
