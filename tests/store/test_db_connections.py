"""Several connections to one till database in one process (the engine and the till
screen) keep seeing what other processes commit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from onetill.store import open_database

_OTHER_PROCESS = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA journal_mode=WAL")
conn.execute("INSERT INTO sync_state (key, value) VALUES (?, 'sold')", (sys.argv[2],))
conn.close()
"""


def test_a_second_connection_in_the_process_keeps_both_seeing_other_processes(
    tmp_path: Path,
) -> None:
    """Opening the database again in the same process (the till screen beside the
    engine) must not drop the first connection's locks, as closing any descriptor of the
    file would: another process then took itself for the last user, deleted the WAL, and
    sales committed by `onetill sell` stayed invisible to the engine."""
    engine = open_database(tmp_path)
    screen = open_database(tmp_path)
    seen: list[tuple[int, int]] = []
    try:
        for n in range(2):
            subprocess.run(
                [sys.executable, "-c", _OTHER_PROCESS, str(engine.path), f"sale{n}"],
                check=True, timeout=30,
            )  # fmt: skip
            count = "SELECT COUNT(*) FROM sync_state WHERE key LIKE 'sale%'"
            seen.append((engine.conn.execute(count).fetchone()[0],
                         screen.conn.execute(count).fetchone()[0]))  # fmt: skip
    finally:
        screen.close()
        engine.close()
    assert seen == [(1, 1), (2, 2)]
