"""The outbox's rules that need no network: report, backoff, pause, the one-drainer lock.

Also the parsing of a batch answer and how errors are written into an
order's ``last_error`` (WooCommerce's code and message, never a secret: the
client's error texts carry no credentials).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from onetill.store.db import Database
from onetill.store.sync_state import get_state
from onetill.woo.errors import ResponseError, UnreadableAnswerError, WooAPIError

__all__ = [
    "BACKOFF_BASE_S",
    "BACKOFF_CAP_S",
    "PAUSE_KEY",
    "DrainReport",
    "backoff_delay",
    "batch_results",
    "drain_lock",
    "error_text",
    "paused_reason",
    "resume_queue",
]

BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 300.0
PAUSE_KEY = "outbox.paused"


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
    next_attempt_at: datetime | None = None

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
        }


def backoff_delay(attempts: int, rng: random.Random, retry_after: float | None = None) -> float:
    """Full jitter: uniform in [0, min(cap, 1 s * 2**(attempts-1))], at least ``Retry-After``."""
    ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** max(0, attempts - 1))
    delay = rng.uniform(0, ceiling)
    if retry_after is not None:
        delay = max(delay, min(retry_after, 3600.0))
    return delay


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


def batch_results(
    data: Any, expected: int
) -> list[tuple[dict[str, Any] | None, WooAPIError | None]]:
    """Per-item results of ``POST /orders/batch``, in the order sent.

    A partial failure is still HTTP 200: a failed item is
    ``{"id": 0, "error": {code, message, data: {status}}}`` in its place.
    """
    created = data.get("create") if isinstance(data, dict) else None
    if not isinstance(created, list):
        raise UnreadableAnswerError(
            f"orders/batch answered without a create list: {str(data)[:120]!r}"
        )
    out: list[tuple[dict[str, Any] | None, WooAPIError | None]] = []
    for answer in created[:expected]:
        error = answer.get("error") if isinstance(answer, dict) else None
        if isinstance(error, dict):
            info = error.get("data") if isinstance(error.get("data"), dict) else {}
            status = info.get("status", 400) if isinstance(info, dict) else 400
            out.append((None, WooAPIError(
                str(error.get("message") or error.get("code") or "refused"),
                status=status if isinstance(status, int) else 400,
                code=str(error.get("code") or ""),
                data=info,
                method="POST",
                url="orders/batch",
            )))  # fmt: skip
        else:
            out.append((answer if isinstance(answer, dict) else None, None))
    return out


def error_text(exc: BaseException) -> str:
    if isinstance(exc, WooAPIError):
        return f"HTTP {exc.status} {exc.code}: {exc.message}"
    if isinstance(exc, ResponseError):
        return f"HTTP {exc.status}: {exc.message}"
    text = str(exc) or type(exc).__name__
    return text[:500]
