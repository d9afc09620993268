"""One engine per home directory: an exclusive lock file.

Two engines on one SQLite file would both drain the outbox and both poll
the store; correctness would still hold (the outbox claims rows in a
transaction) but the merchant's server would see twice the load and the
status would lie. So ``onetill run`` takes ``engine.lock`` with ``flock``.
The kernel drops an ``flock`` when its process dies, however it dies, so a
lock file left behind by a crashed engine is taken over without asking.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

__all__ = ["LOCK_FILENAME", "EngineLock", "LockHeldError", "acquire_lock"]

LOCK_FILENAME = "engine.lock"


class LockHeldError(Exception):
    """Another engine already runs for this home directory."""

    def __init__(self, home: Path, pid: int | None) -> None:
        who = f"pid {pid}" if pid else "another process"
        super().__init__(
            f"another onetill engine ({who}) is already running for {home}; "
            "stop it first (Ctrl-C or `kill` that pid), or use a different --home"
        )
        self.home = home
        self.pid = pid


class EngineLock:
    """A held lock; ``release()`` (or leaving the ``with`` block) lets it go."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        # Empty the file before unlocking so no one reads our pid as alive.
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def __enter__(self) -> EngineLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        raw = os.read(fd, 64).decode("ascii", "replace").strip()
        return int(raw) if raw else None
    except (OSError, ValueError):
        return None


def acquire_lock(home: Path) -> EngineLock:
    """Take the engine lock of ``home`` or raise ``LockHeldError`` naming the holder."""
    path = home / LOCK_FILENAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pid = _read_pid(fd)
        os.close(fd)
        raise LockHeldError(home, pid) from None
    except BaseException:
        os.close(fd)
        raise
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, f"{os.getpid()}\n".encode("ascii"))
    os.fsync(fd)
    return EngineLock(path, fd)
