"""The status model as the engine serves it, and how the CLI finds it.

``onetill.status.collect_status(db)`` builds the one status model from the
database. A running engine knows more (the live connectivity state, the job
running now), so it overrides those fields. While it runs, the engine
records its URL in ``engine.json`` in the home directory; ``read_status``
asks that URL first and falls back to the database when no engine answers.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

import msgspec

from onetill.store import Database

__all__ = [
    "ENGINE_INFO_FILENAME",
    "clear_engine_info",
    "database_status",
    "engine_url",
    "read_status",
    "write_engine_info",
]

ENGINE_INFO_FILENAME = "engine.json"


def database_status(db: Database, **live: Any) -> dict[str, Any]:
    """The status model read from the database (``live``: what a running engine knows,
    passed to ``collect_status``: ``store_now``, ``poll_interval_s``, ``engine_running``)."""
    from onetill.status import collect_status

    with db.lock:
        status = collect_status(db, **live)
    # A msgspec Struct of plain values: its builtins are JSON-ready as they are.
    data: dict[str, Any] = msgspec.to_builtins(status)
    return data


def write_engine_info(home: Path, url: str) -> None:
    """Record where the running engine listens (removed again on shutdown)."""
    path = home / ENGINE_INFO_FILENAME
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(json.dumps({"url": url, "pid": os.getpid()}))
    os.replace(tmp, path)


def clear_engine_info(home: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        (home / ENGINE_INFO_FILENAME).unlink()


def engine_url(home: Path) -> str | None:
    """The URL of the engine running for ``home``, if one says it is running."""
    path = home / ENGINE_INFO_FILENAME
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    url = info.get("url")
    pid = info.get("pid")
    if not isinstance(url, str) or not isinstance(pid, int):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None  # left behind by an engine that died
    except PermissionError:
        pass
    return url


def read_status(home: Path, timeout: float = 2.0) -> dict[str, Any]:
    """The status: from the running engine when there is one, else from the database.

    The result has ``source``: ``"engine"`` or ``"database"``. For the CLI
    (``onetill status --json``). Without a live engine nobody knows whether
    the store answers now: ``state`` is ``"unknown"``, ``recorded_state``
    what the last sync saw, ``last_contact_at`` when the store last answered
    (store time), and ``engine.running`` is false.
    """
    url = engine_url(home)
    if url is not None:
        import httpx2

        from onetill.config import read_ui_token

        token = read_ui_token(home)  # needed when the engine listens beyond loopback
        headers = {"authorization": f"Bearer {token}"} if token else {}
        try:
            response = httpx2.get(
                url.rstrip("/") + "/api/status", timeout=timeout, trust_env=False, headers=headers
            )
            if response.status_code == 200:
                data = response.json()
                if isinstance(data, dict):
                    data["source"] = "engine"
                    return data
        except (httpx2.HTTPError, ValueError):
            pass
    from onetill.store import open_database

    with open_database(home) as db:
        data = database_status(db)
    data["recorded_state"] = data["state"]
    data["state"] = "unknown"
    data["state_reason"] = "engine not running"
    data["engine"] = {"url": None, "running": False, "job": None}
    data["source"] = "database"
    return data
