"""The real store (issue 10): WordPress 7.0.4 + WooCommerce 11.0.1 on loopback, one run.

- ``onetill sync`` from empty (the CLI as a process, http with OAuth) against the
  naive loop of the official ``woocommerce`` client (``API.get``: pages of 100 one
  after another, then each variable product's variations), best of 3 each;
- one idle delta poll: its requests, and the store's own time for them (nginx's
  access log, ``rt=`` = ``$request_time``);
- a price edited in the store, until the till's database has it: by webhook
  (``onetill run`` with the webhooks registered) and by polling alone (``onetill
  run`` at the default 30 s interval, no webhooks), both engines running at once.

Needs the kit (``../shared/realstore`` or ``$ONETILL_REALSTORE``) and root; without
them it prints a section saying so and exits 0. The store is reset before each
part and stopped at the end.
"""

from __future__ import annotations

import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

import realstore_support  # noqa: E402
from realstore_support import RealStore  # noqa: E402

HEADING = "## Real WooCommerce store (bench_real.py)"
QUICK = os.environ.get("ONETILL_BENCH_QUICK") not in (None, "", "0")
EDITS = 2 if QUICK else 4
_RT = re.compile(r'"(GET|POST|PUT|DELETE) (/wp-json/[^ ]*) HTTP/[\d.]+" (\d+) .* rt=([\d.]+)')


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}


def _connect(store: RealStore, home: Path) -> None:
    from onetill.config import save_config
    from real.real_support import till_config

    save_config(home, till_config(store))


def _served(store: RealStore, offset: int) -> tuple[int, float]:
    """Requests the store answered since ``offset`` in its access log, and their time."""
    time.sleep(0.3)  # nginx writes a line after the answer has gone
    lines = [line for line in _log_lines(store, offset) if "/wc/" in line[1]]
    return len(lines), sum(rt for *_, rt in lines)


def onetill_sync(store: RealStore) -> tuple[float, str, int, float]:
    """``onetill sync`` from an empty home, as a merchant runs it (a new process): wall time,
    its summary line, requests and store time."""
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        _connect(store, home)
        offset = store.access_log.stat().st_size
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "onetill", "sync", "--home", str(home)],
            capture_output=True, text=True, env=_env(), check=True,
        )  # fmt: skip
        took = time.perf_counter() - started
    return (took, done.stdout.strip().splitlines()[-1], *_served(store, offset))


def naive_loop(store: RealStore) -> tuple[float, int, int, float]:
    """The official client as its README shows it: ``API.get`` page after page; wall time,
    items, requests and store time."""
    from woocommerce import API

    api = API(url=store.url, consumer_key=store.key, consumer_secret=store.secret,
              version="wc/v3", timeout=120)  # fmt: skip
    offset = store.access_log.stat().st_size
    started = time.perf_counter()
    items = requests = 0
    variable: list[int] = []
    page = 1
    while True:
        got = api.get("products", params={"per_page": 100, "page": page})
        requests += 1
        got.raise_for_status()
        batch = got.json()
        if not batch:
            break
        items += len(batch)
        variable += [p["id"] for p in batch if p.get("type") == "variable"]
        page += 1
    for parent in variable:
        page = 1
        while True:
            got = api.get(f"products/{parent}/variations", params={"per_page": 100, "page": page})
            requests += 1
            got.raise_for_status()
            batch = got.json()
            items += len(batch)
            if len(batch) < 100:
                break
            page += 1
    took = time.perf_counter() - started
    return took, items, requests, _served(store, offset)[1]


Logged = list[tuple[str, str, int, float]]


def _log_lines(store: RealStore, offset: int) -> Logged:
    with store.access_log.open("rb") as log:
        log.seek(offset)
        text = log.read().decode("utf-8", "replace")
    out = []
    for line in text.splitlines():
        match = _RT.search(line)
        if match:
            method, path, status, rt = match.groups()
            out.append((method, path.split("?")[0], int(status), float(rt)))
    return out


async def _idle_poll(store: RealStore, db_path: Path) -> tuple[int, Logged]:
    from onetill.engine.jobs import build_client
    from onetill.store import Database
    from onetill.sync.catalog import delta_sync, initial_sync
    from real.real_support import till_config

    db = Database(db_path)
    try:
        async with build_client(till_config(store)) as client:
            await initial_sync(client, db)
            await delta_sync(client, db)  # warm: connections, and the overlap re-read
            await asyncio.sleep(1.0)
            offset = store.access_log.stat().st_size
            report = await delta_sync(client, db)
            await asyncio.sleep(0.5)  # nginx writes its log line after the answer
            return report.requests, _log_lines(store, offset)
    finally:
        db.close()


def _price(home: Path, item_id: int) -> str | None:
    import sqlite3

    with sqlite3.connect(home / "onetill.db") as conn:
        row = conn.execute("SELECT regular_price FROM products WHERE id = ?", (item_id,)).fetchone()
    return None if row is None else str(row[0])


def edit_to_till(store: RealStore, template: Path) -> tuple[list[float], list[float]]:
    """Seconds from a price edit to each till's database: by webhook, and by polling."""
    import shutil

    from engine.engine_support import EngineProcess
    from onetill.config import save_config
    from real.real_support import Admin, till_config

    hooked: list[float] = []
    polled: list[float] = []
    with tempfile.TemporaryDirectory() as tmp, Admin(store) as admin:
        homes = [Path(tmp) / "webhook", Path(tmp) / "poll"]
        for home in homes:
            home.mkdir()
            shutil.copyfile(template, home / "onetill.db")
            save_config(home, till_config(store))
        engines = [EngineProcess(homes[0], "--interval", "600"), EngineProcess(homes[1])]
        try:
            urls = [e.start() for e in engines]
            for engine in engines:
                engine.wait_status(lambda s: s.get("state") == "online", within=60)
            subprocess.run(
                [sys.executable, "-m", "onetill", "webhooks", "register", urls[0],
                 "--home", str(homes[0])],
                capture_output=True, text=True, env=_env(), check=True,
            )  # fmt: skip
            # Edits land at evenly spread moments of the poll interval: the first just
            # after a poll seen in the status, each next one after the poll that brought
            # the one before.
            polled_at = engines[1].status()["last_sync_at"]
            engines[1].wait_status(lambda s: s["last_sync_at"] != polled_at, within=90)
            for n in range(EDITS):
                time.sleep((n + 0.5) * 30.0 / EDITS)
                item = 10 + n
                price = f"{50 + n}.{n + 1:02d}"
                edited = time.monotonic()
                admin.edit(item, regular_price=price)
                seen: dict[int, float] = {}
                while len(seen) < 2 and time.monotonic() - edited < 90:
                    for i, home in enumerate(homes):
                        if i not in seen and _price(home, item) == price:
                            seen[i] = time.monotonic() - edited
                    time.sleep(0.05)
                hooked.append(seen.get(0, float("nan")))
                polled.append(seen.get(1, float("nan")))
        finally:
            for engine in engines:
                engine.stop()
    return hooked, polled


def _template(store: RealStore, folder: Path) -> Path:
    from onetill.engine.jobs import build_client
    from onetill.store import Database
    from onetill.sync.catalog import initial_sync
    from real.real_support import till_config

    path = folder / "template.db"
    db = Database(path)

    async def pull() -> None:
        async with build_client(till_config(store)) as client:
            await initial_sync(client, db)

    asyncio.run(pull())
    db.close()
    return path


def main() -> None:
    reason = realstore_support.skip_reason()
    if reason:
        print(f"{HEADING}\n\nSkipped: {reason}.")
        return
    # Secrets in the till's 0600 file, which the engine processes read too.
    os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    store = realstore_support.bring_up()
    rows: list[tuple[str, str]] = []
    try:
        store.reset()
        ours = [onetill_sync(store) for _ in range(3)]
        theirs = [naive_loop(store) for _ in range(3)]
        best, line, asked, served = min(ours)
        naive_s, items, requests, naive_served = min(theirs)
        rows.append((f"`onetill sync` from empty, a new process ({line}), best of 3",
                     f"{best:.2f} s (runs {', '.join(f'{t[0]:.2f}' for t in ours)}); "
                     f"{asked} requests, store time {served:.2f} s"))
        rows.append((f"naive loop, official `woocommerce` client ({items} items), best of 3",
                     f"{naive_s:.2f} s (runs {', '.join(f'{t[0]:.2f}' for t in theirs)}); "
                     f"{requests} requests, store time {naive_served:.2f} s"))
        rows.append(("ratio (naive / onetill)", f"{naive_s / best:.2f}x"))  # fmt: skip
        with tempfile.TemporaryDirectory() as tmp:
            store.reset()
            count, lines = asyncio.run(_idle_poll(store, Path(tmp) / "till.db"))
            server = sum(rt for *_, rt in lines)
            shown = ", ".join(f"{m} {p.removeprefix('/wp-json/wc/v3/')} {rt * 1000:.0f} ms"
                              for m, p, _, rt in lines)  # fmt: skip
            rows.append(("idle delta poll", f"{count} requests; store time {server * 1000:.0f} ms"
                                            f" in all ({shown})"))  # fmt: skip
            store.reset()
            template = _template(store, Path(tmp))
            hooked, polled = edit_to_till(store, template)
        rows.append((f"price edit -> till database by webhook ({EDITS} edits)",
                     f"median {statistics.median(hooked):.1f} s, max {max(hooked):.1f} s"))
        rows.append((f"price edit -> till database by polling every 30 s ({EDITS} edits, "
                     "spread evenly over the interval)",
                     f"median {statistics.median(polled):.1f} s, "
                     f"max {max(polled):.1f} s"))  # fmt: skip
    finally:
        # down.sh reports on stdout, which is this benchmark's Markdown: send it to stderr.
        kit, prefix = realstore_support.kit_dir(), realstore_support.prefix_dir()
        subprocess.run([str(kit / "down.sh"), str(prefix)], stdout=sys.stderr, check=True)
    print(f"{HEADING}\n")
    print("WordPress 7.0.4 + WooCommerce 11.0.1 (nginx, php-fpm, MariaDB) on this machine, "
          "http with OAuth 1.0a, the recorded catalog (320 products, 81 variations). Store "
          "time is nginx's `$request_time` per request. Webhook deliveries leave the "
          "store's queue every ~10 s (its cron loop); the polling engine runs `onetill "
          "run` at the default 30 s interval. Timings include whatever else the machine "
          "was running.\n")  # fmt: skip
    print("| measure | result |\n|---|---|")
    for measure, result in rows:
        print(f"| {measure} | {result} |")


if __name__ == "__main__":
    main()
