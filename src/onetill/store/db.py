"""Opening the till's SQLite file, and the one way to write to it.

Durability: WAL journal with ``synchronous=FULL``, so a transaction that
returned from COMMIT survives a power cut; a sale is acknowledged to the
cashier only after that. Writers take the write lock up front with
``BEGIN IMMEDIATE`` so two writers never deadlock half-way through a
transaction; readers never block writers (WAL).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from onetill.store.migrations import MIGRATIONS

__all__ = ["DB_FILENAME", "Database", "open_database"]

DB_FILENAME = "onetill.db"
BUSY_TIMEOUT_MS = 10_000


class Database:
    """One SQLite connection with its write discipline.

    The connection is in autocommit mode (``isolation_level=None``): nothing
    is ever in a transaction unless ``write()`` (or a migration) opened one.
    Use one ``Database`` per thread; ``check_same_thread`` is off only so
    that an asyncio program may hand it to ``asyncio.to_thread`` workers
    one at a time, serialised by ``self.lock``.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        _private(self.path)
        self.conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
        )
        self.conn.row_factory = sqlite3.Row
        self.lock = threading.RLock()
        self.conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        migrate(self.conn)

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: ``BEGIN IMMEDIATE`` ... ``COMMIT``, or rollback."""
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _private(path: Path) -> None:
    """Create the file 0600 (SQLite gives ``-wal``/``-shm`` the database's mode), and take
    group/other access away from an existing one and its companions: it holds every sale."""
    # Never open (and close) a descriptor on a database that exists: closing
    # any descriptor of a file drops every POSIX lock this process holds on it,
    # the locks of its other connections included (the till screen and the
    # engine share a process), and SQLite's WAL then breaks: another process
    # checkpoints under us and this one reads a stale copy. Create only.
    try:
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    except OSError:
        return  # e.g. a read-only place; sqlite3 reports it clearly
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            if name.stat().st_mode & 0o077:
                os.chmod(name, 0o600)
        except OSError:
            continue


def open_database(home: Path) -> Database:
    """The database of the till whose home directory is ``home``."""
    return Database(home / DB_FILENAME)


def migrate(conn: sqlite3.Connection) -> list[str]:
    """Apply the migrations not yet recorded, each in its own transaction.

    Statements run one by one with ``execute``: ``executescript`` would
    commit the open transaction first and break the all-or-nothing rule.
    Returns the names applied.
    """
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " name TEXT PRIMARY KEY, applied_at TEXT NOT NULL DEFAULT (datetime('now')))"
    )
    applied: list[str] = []
    for name, statements in MIGRATIONS:
        conn.execute("BEGIN IMMEDIATE")
        try:
            done = conn.execute(
                "SELECT 1 FROM schema_migrations WHERE name = ?", (name,)
            ).fetchone()
            if done is None:
                for statement in statements:
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_migrations (name) VALUES (?)", (name,))
                applied.append(name)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    return applied
