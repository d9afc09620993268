"""The outbox's rules that need no network: its clock, report, backoff, pause, lock.

``DrainContext`` is what one drain shares between its parts (the loop in
``outbox.py``, the lookups in ``outbox_resolve.py``, the outcome handlers in
``outbox_outcomes.py``): the client, the database, the settings, the report,
and the one clock every due time and age is measured with: the store's, as
:meth:`WooClient.server_now` gives it (its ``Date`` advanced by a monotonic
clock), so a step of the till's clock in either direction changes nothing.

Also the parsing of a batch answer and how errors are written into an
order's ``last_error`` (WooCommerce's code and message, never a secret: the
client's error texts carry no credentials).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from onetill.store.db import Database
from onetill.store.orders import parse_ts
from onetill.store.sync_state import get_state
from onetill.woo import WooClient
from onetill.woo.backoff import Backoff
from onetill.woo.errors import (
    AmbiguousWriteError,
    ResponseError,
    UnreadableAnswerError,
    WooAPIError,
    WooError,
)

__all__ = [
    "BACKOFF_BASE_S",
    "BACKOFF_CAP_S",
    "LONGEST_WAIT_S",
    "PAUSE_KEY",
    "QUEUE_BACKOFF",
    "DrainContext",
    "DrainReport",
    "Waiting",
    "backoff_delay",
    "batch_results",
    "drain_lock",
    "error_text",
    "paused_reason",
    "resume_queue",
]

BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 300.0
# The longest the outbox ever waits on its own (a Retry-After is honoured up
# to this): an hour.
LONGEST_WAIT_S = 3600.0
QUEUE_BACKOFF = Backoff(BACKOFF_BASE_S, BACKOFF_CAP_S, longest=LONGEST_WAIT_S)
PAUSE_KEY = "outbox.paused"
LAST_CONTACT_KEY = "store.last_contact_at"  # store time of the last answer heard
SKEW_KEY = "store.clock_skew_s"  # store clock minus till clock, as last measured


@dataclass(frozen=True)
class Waiting:
    """An order still waiting after a drain: why, and until when (store time)."""

    uuid: str
    state: str  # pending_sync | in_flight
    due_at: datetime | None  # None: due now
    last_error: str | None


@dataclass
class DrainReport:
    """What one drain did."""

    requests: int = 0  # order uploads sent (single or batch)
    synced: list[str] = field(default_factory=list)
    discrepancies: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    retry_later: list[str] = field(default_factory=list)
    looked_up: int = 0
    found_by_lookup: list[str] = field(default_factory=list)
    paused: str | None = None
    busy: bool = False
    errors: list[str] = field(default_factory=list)
    next_attempt_at: datetime | None = None  # store time
    retry_in_s: float | None = None  # seconds from the end of the drain to next_attempt_at
    waiting: list[Waiting] = field(default_factory=list)  # orders not yet in the store
    refunds_synced: list[str] = field(default_factory=list)
    refunds_failed: list[str] = field(default_factory=list)

    def wait_until(self, at: datetime) -> None:
        """Note that something is due at ``at`` (keeps the earliest)."""
        if self.next_attempt_at is None or at < self.next_attempt_at:
            self.next_attempt_at = at

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "synced": len(self.synced),
            "discrepancies": len(self.discrepancies),
            "failed": len(self.failed),
            "retry_later": len(self.retry_later),
            "looked_up": self.looked_up,
            "found_by_lookup": len(self.found_by_lookup),
            "paused": self.paused,
            "busy": self.busy,
            "errors": self.errors,
            "refunds_synced": len(self.refunds_synced),
            "refunds_failed": len(self.refunds_failed),
            "retry_in_s": self.retry_in_s,
            "waiting": [
                {
                    "uuid": w.uuid,
                    "state": w.state,
                    "due_at": _iso(w.due_at),
                    "last_error": w.last_error,
                }
                for w in self.waiting
            ],
        }


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat().replace("+00:00", "Z")


def backoff_delay(attempts: int, rng: random.Random, retry_after: float | None = None) -> float:
    """The queue's backoff (``QUEUE_BACKOFF``): 1 s doubling to 5 minutes, full jitter,
    at least ``Retry-After`` (up to an hour)."""
    return QUEUE_BACKOFF.delay(attempts, rng, retry_after)


@dataclass
class DrainContext:
    """One drain's shared state: client, database, settings, report and clock."""

    client: WooClient
    db: Database
    plugin: bool
    settle: timedelta
    min_resend_age: timedelta
    till_clock: Callable[[], datetime]
    rng: random.Random
    report: DrainReport = field(default_factory=lambda: DrainReport())
    sold_items: set[int] = field(default_factory=set)
    clock_probed: bool = False

    def now(self) -> datetime:
        """The store's time now; the till's clock only if the store sends no ``Date``."""
        return self.client.server_now() or self.till_clock()

    @property
    def store_offset_s(self) -> float | None:
        """What ``now()`` is off the store's clock: 0, or unknown (the till's clock)."""
        return 0.0 if self.client.server_now() is not None else self.client.clock_skew_s

    @property
    def horizon(self) -> timedelta:
        """Nothing the outbox schedules waits longer than this (a due time further
        ahead was written under a clock that has since been corrected)."""
        lookup = self.settle + timedelta(seconds=self.client.timeout_s)
        longest = max(timedelta(seconds=LONGEST_WAIT_S), lookup, self.min_resend_age)
        return longest + timedelta(minutes=1)

    def is_due(self, stamp: str, now: datetime) -> bool:
        at = parse_ts(stamp)
        return at <= now or at > now + self.horizon


def paused_reason(db: Database) -> str | None:
    """Why the queue is paused (the keys were rejected), or None."""
    with db.lock:
        return get_state(db.conn, PAUSE_KEY)


def resume_queue(db: Database) -> None:
    """Lift an auth pause (after the keys were fixed)."""
    with db.write() as conn:
        conn.execute("DELETE FROM sync_state WHERE key = ?", (PAUSE_KEY,))


@contextlib.contextmanager
def drain_lock(db: Database) -> Iterator[bool]:
    """Hold the database's drain lock (yields False when another process holds it).

    ``flock`` on ``<db>.drain-lock``: the kernel releases it when the holder
    dies, even by ``kill -9``, so a crash never leaves the queue locked.
    """
    path = f"{db.path}.drain-lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def batch_results(data: Any, expected: int) -> list[tuple[dict[str, Any] | None, WooError | None]]:
    """Per-item results of ``POST /orders/batch``, in the order sent.

    A partial failure is still HTTP 200: a failed item is
    ``{"id": 0, "error": {code, message, data: {status}}}`` in its place.
    An item error of 5xx (WooCommerce saves the order, then completes the
    payment: an exception in between is reported for an order that exists)
    or 401/403 is an :class:`AmbiguousWriteError`: only an item refused with
    another 4xx proves that nothing was created for it.
    """
    created = data.get("create") if isinstance(data, dict) else None
    if not isinstance(created, list):
        raise UnreadableAnswerError(
            f"orders/batch answered without a create list: {str(data)[:120]!r}"
        )
    out: list[tuple[dict[str, Any] | None, WooError | None]] = []
    for answer in created[:expected]:
        error = answer.get("error") if isinstance(answer, dict) else None
        if isinstance(error, dict):
            info = error.get("data") if isinstance(error.get("data"), dict) else {}
            status = info.get("status", 400) if isinstance(info, dict) else 400
            refusal = WooAPIError(
                str(error.get("message") or error.get("code") or "refused"),
                status=status if isinstance(status, int) else 400,
                code=str(error.get("code") or ""),
                data=info,
                method="POST",
                url="orders/batch",
            )
            out.append((None, _item_error(refusal)))
        else:
            out.append((answer if isinstance(answer, dict) else None, None))
    return out


def _item_error(refusal: WooAPIError) -> WooError:
    if refusal.status >= 500 or refusal.status in (401, 403):
        return AmbiguousWriteError(
            f"orders/batch item answered {error_text(refusal)}; it may have been created",
            url="orders/batch",
            status=refusal.status,
            refusal=refusal,
        )
    return refusal


def error_text(exc: BaseException) -> str:
    if isinstance(exc, AmbiguousWriteError) and exc.refusal is not None:
        return f"{error_text(exc.refusal)} (the store may have created it: looked up first)"
    if isinstance(exc, WooAPIError):
        return f"HTTP {exc.status} {exc.code}: {exc.message}"
    if isinstance(exc, ResponseError):
        return f"HTTP {exc.status}: {exc.message}"
    text = str(exc) or type(exc).__name__
    return text[:500]
