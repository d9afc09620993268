"""Real-browser helpers: Debian's Chromium, axe-core, screenshots, a till on a sandbox store.

Chromium is ``/usr/bin/chromium`` (Playwright's own browser download cannot
work on this closed network); axe-core comes from npm into ``.cache/npm``
(``make test`` installs both). Screenshots of the main screens go to
``docs/screenshots/`` when ``ONETILL_SCREENSHOTS=1`` (``make screenshots``),
so an ordinary test run leaves the tree clean.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2

from engine.engine_support import FAST, EngineProcess, connect_home

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("ONETILL_CHROMIUM", "/usr/bin/chromium")
AXE = ROOT / ".cache" / "npm" / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = ROOT / "docs" / "screenshots"
LAUNCH_ARGS = [
    "--no-sandbox",  # as root, Chromium's sandbox refuses to start
    "--disable-background-networking", "--disable-component-update", "--no-first-run",
    "--disable-sync", "--disable-dev-shm-usage",
]
# The engine polls every second in these tests: "within one poll" stays short.
TILL_ARGS = [*FAST, "--interval", "1"]


def missing_browser() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing: `make test` installs Debian's chromium"
    return None


def check_accessibility(page: Any, screen: str) -> None:
    """axe-core finds no serious or critical violation on what the page shows now."""
    if not AXE.exists():
        raise AssertionError(f"{AXE} is missing: `make test` installs axe-core from npm")
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # Evaluated through the DevTools protocol: the page's own CSP (no inline
        # scripts) stays in force for everything else.
        page.evaluate(_axe_source())
    result = page.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations']})"
    )
    bad = [v for v in result["violations"] if v["impact"] in ("serious", "critical")]
    details = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes'][:3]]}"
        for v in bad
    ]
    assert not bad, f"accessibility problems on the {screen} screen:\n" + "\n".join(details)


@functools.cache
def _axe_source() -> str:
    return AXE.read_text(encoding="utf-8")


def screenshot(page: Any, name: str, **kwargs: Any) -> None:
    """Keep a picture of this screen for the README (only when asked to)."""
    if os.environ.get("ONETILL_SCREENSHOTS") != "1":
        return
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), **kwargs)


def wait_until(check: Callable[[], Any], within: float, what: str) -> Any:
    """Poll ``check`` until it returns something truthy (fail after ``within`` seconds)."""
    deadline = time.monotonic() + within
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {within} s (last: {last!r})")


@dataclass
class Till:
    """A sandbox store process and the engine (with the till screen) connected to it."""

    store: Any  # SandboxProcess
    engine: EngineProcess
    home: Path

    @property
    def url(self) -> str:
        return self.engine.url

    def status(self) -> dict[str, Any]:
        return self.engine.status()

    def api(self, path: str) -> Any:
        response = httpx2.get(self.url + path.lstrip("/"), timeout=5, trust_env=False)
        response.raise_for_status()
        return response.json()

    def local(self, sql: str, *params: Any) -> list[Any]:
        import sqlite3

        with sqlite3.connect(self.home / "onetill.db", timeout=10) as conn:
            return conn.execute(sql, params).fetchall()


def start_till(folder: Path, store_args: list[str], *, engine_args: list[str] | None = None,
               connect: bool = True) -> Till:  # fmt: skip
    from onetill.sandbox.server import SandboxProcess

    store = SandboxProcess([*store_args, "--state", str(folder / "store.sqlite")])
    store.start()
    home = folder / "home"
    home.mkdir(parents=True, exist_ok=True)
    if connect:
        assert store.url is not None
        connect_home(home, store.url)
    engine = EngineProcess(home, *TILL_ARGS, *(engine_args or []))
    try:
        engine.start()
    except BaseException:
        store.stop()
        raise
    return Till(store, engine, home)


def stop_till(till: Till) -> None:
    till.engine.stop()
    till.store.stop()


def printed_token(engine: EngineProcess) -> str:
    """The access token the engine printed (a line or two after its URL)."""
    match = wait_until(
        lambda: re.search(r"^Access token: (\S+)", engine.output, re.MULTILINE), 10,
        "the access token printed",
    )
    return str(match.group(1))


def copy_home(src: Path, dst: Path) -> None:
    shutil.copytree(src, dst)
