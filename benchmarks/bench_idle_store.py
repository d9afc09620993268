"""What an idle till costs a real WooCommerce store (issue 15); prints a Markdown section.

    .venv/bin/python benchmarks/bench_idle_store.py [--window 120] [--tills 3]

Runs ``onetill run`` (real processes, default settings, https with Basic
auth and the store's own CA) against the real WordPress + WooCommerce kit
(``../shared/realstore``; skipped with one line why when it is missing or
not root) and reads the store's nginx access log (``rt=`` is nginx's
``$request_time``). After the start-up work (the first drain and delta),
every request the tills make in a window of ``--window`` seconds is
counted: PHP requests (everything under ``/wp-json/``: each boots
WordPress), other requests (static files the web server answers itself),
and the server time nginx measured. Figures are per minute and per till.

It is measured twice: a till that has not yet seen a web-shop sale (it
reads the orders window on every poll), and one that has seen two sales
stamp their products (orders then only every 10 minutes). The hourly ID
audit is measured on its own (``onetill sync --audit``) and shown per hour.

Then ``--tills`` engines are started at the same moment on the same store,
as a shop with several tills each running its own engine would: the figure
is how their PHP requests land in time (the busiest second, and how many
seconds hold PHP requests).

Last, one till on the store with the companion plugin installed and active
(``--plugin-only`` measures just that): its poll is the journal's
``changes`` request.

Targets (issue 15): without the companion plugin at most 6 requests a
minute per idle till, with it at most 2; no PHP request spent only on
connectivity.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "tests"), str(HERE.parent / "src")]

import realstore_support  # noqa: E402

QUICK = os.environ.get("ONETILL_BENCH_QUICK") not in (None, "", "0")
# This script run on the code before issue 15 (main at f0f4ee1, 120 s windows, twice).
BEFORE = (
    "Before issue 15 (main at f0f4ee1, this script): 10-11 PHP requests a minute per idle "
    "till whether or not it had seen a sale (4-5 of them `products?per_page=1` connectivity "
    "probes, then products, trash and orders every 30 s), 1.0-2.0 s of server time a minute "
    "(count x median rt; the machine is shared, so rt varies between runs); 3 tills started "
    "together: 10.3-10.5 PHP requests a minute each, up to 8-10 in the same second."
)
TITLE = "## Idle till on a real store (bench_idle_store.py)"
JOURNAL_POLL = "journal poll (wc-onetill/v1/changes)"
USER_AGENT = "OneTill/"
LINE = re.compile(
    r'\[(?P<time>[^\]]+)\] "(?P<method>[A-Z]+) (?P<path>\S+) [^"]*" (?P<status>\d{3}) \d+ '
    r'"(?P<agent>[^"]*)" rt=(?P<rt>[\d.]+)'
)


@dataclass
class Hit:
    second: str
    method: str
    path: str
    status: int
    rt: float

    @property
    def php(self) -> bool:
        return self.path.startswith("/wp-json/") or ".php" in self.path

    @property
    def kind(self) -> str:
        if not self.php:
            return "static file (no PHP)"
        route = self.path.split("?", 1)[0].removeprefix("/wp-json/wc/v3/")
        query = self.path.partition("?")[2]
        if route.startswith("/wp-json/wc-onetill/v1/changes"):
            return JOURNAL_POLL
        if route == "products" and "modified_after" in query:
            return "products changed" + (" (+trash)" if "include_status" in query else "") + (
                " (trash)" if "status=trash" in query else ""
            )
        if route == "orders" and "modified_after" in query:
            return "orders window"
        if route == "products" and "per_page=1&" in query + "&" and "modified_after" not in query:
            return "connectivity probe (products?per_page=1)"
        return f"{self.method} {route}"


@dataclass
class Window:
    seconds: float
    hits: list[Hit] = field(default_factory=list)

    def per_min(self, n: float) -> float:
        return n * 60.0 / self.seconds

    @property
    def php(self) -> list[Hit]:
        return [h for h in self.hits if h.php]


def read_hits(log: Path, offset: int) -> list[Hit]:
    with log.open("rb") as f:
        f.seek(offset)
        text = f.read().decode("utf-8", "replace")
    hits = []
    for line in text.splitlines():
        m = LINE.search(line)
        if m is None or not m["agent"].startswith(USER_AGENT):
            continue
        hits.append(Hit(m["time"], m["method"], m["path"], int(m["status"]), float(m["rt"])))
    return hits


def onetill(*args: str, home: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "onetill", *args, "--home", str(home)],
        check=check, capture_output=True, text=True,
    )  # fmt: skip


def prepare_till(store: realstore_support.RealStore, home: Path) -> None:
    onetill(
        "connect", store.url_https, "--key", store.key, "--secret", store.secret,
        "--ca-file", store.ca_cert, home=home,
    )  # fmt: skip
    onetill("sync", home=home)


def start_engine(home: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "onetill", "run", "--home", str(home), "--port", "0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def stop(procs: list[subprocess.Popen[str]]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_for_first_poll(log: Path, offset: int, tills: int, limit_s: float = 90.0) -> None:
    """Until every till's start-up delta has been answered (or ``limit_s``)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        polls = [h for h in read_hits(log, offset)
                 if "modified_after" in h.path or h.kind == JOURNAL_POLL]  # fmt: skip
        if len(polls) >= tills:
            return
        time.sleep(0.5)


def measure(store: realstore_support.RealStore, homes: list[Path], window_s: float) -> Window:
    log = store.access_log
    start = log.stat().st_size
    procs = [start_engine(h) for h in homes]
    try:
        wait_for_first_poll(log, start, len(homes))
        time.sleep(3.0)  # the start-up poll's follow-ups
        offset = log.stat().st_size
        time.sleep(window_s)
        window = Window(window_s, read_hits(log, offset))
    finally:
        stop(procs)
    return window


def one_till_rows(w: Window, label: str) -> list[tuple[str, str]]:
    """Per minute: PHP requests, and server time both as measured (sum of ``rt``) and as
    count x median ``rt`` per kind of request (steadier on a machine shared with others)."""
    php = w.php
    by_kind: dict[str, list[Hit]] = {}
    for hit in w.hits:
        by_kind.setdefault(hit.kind, []).append(hit)
    typical = sum(len(hs) * statistics.median(h.rt for h in hs)
                  for hs in by_kind.values() if hs[0].php)  # fmt: skip
    poll_kinds = ("products changed", "products changed (+trash)", JOURNAL_POLL)
    polls = sum(1 for h in w.hits if h.kind in poll_kinds)
    rows = [
        (f"{label}: polls in the window, PHP requests per poll (probes included)",
         f"{polls}, {len(php) / polls:.1f}" if polls else "0"),
        (f"{label}: PHP requests per minute", f"{w.per_min(len(php)):.1f}"),
        (f"{label}: server time per minute, sum of rt (count x median rt)",
         f"{w.per_min(sum(h.rt for h in php)):.2f} s ({w.per_min(typical):.2f} s)"),
        (f"{label}: other requests per minute (static, no PHP)",
         f"{w.per_min(len(w.hits) - len(php)):.1f}"),
    ]  # fmt: skip
    for kind, hs in sorted(by_kind.items(), key=lambda kv: -len(kv[1])):
        median = statistics.median(h.rt for h in hs)
        rows.append((f"  {kind}", f"{w.per_min(len(hs)):.1f}/min, median rt {median:.3f} s"))
    return rows


def web_sales(store: realstore_support.RealStore, home: Path, count: int = 2) -> None:
    """``count`` paid web-shop orders, then one poll of the till to see them."""
    from onetill.woo import WooClient

    async def place() -> None:
        async with WooClient(
            store.url_https, store.key, store.secret, verify=store.ca_cert
        ) as client:
            for i in range(count):
                lines = [{"product_id": 40 + i, "quantity": 1}]
                await client.post("orders", json={"set_paid": True, "line_items": lines})

    asyncio.run(place())
    onetill("sync", home=home)


def audit_rows(store: realstore_support.RealStore, home: Path) -> list[tuple[str, str]]:
    offset = store.access_log.stat().st_size
    onetill("sync", "--audit", home=home)
    hits = [h for h in read_hits(store.access_log, offset) if h.php]
    return [("hourly ID audit (with its poll): PHP requests, server time",
             f"{len(hits)}, {sum(h.rt for h in hits):.2f} s (per minute: "
             f"{len(hits) / 60:.2f}, {sum(h.rt for h in hits) / 60:.3f} s)")]  # fmt: skip


def spread_rows(w: Window, tills: int) -> list[tuple[str, str]]:
    per_second = Counter(h.second for h in w.php)
    busiest = max(per_second.values(), default=0)
    n = f"{tills} tills:"
    return [
        (f"{n} PHP requests per minute per till", f"{w.per_min(len(w.php)) / tills:.1f}"),
        (f"{n} seconds with PHP requests, per minute", f"{w.per_min(len(per_second)):.1f}"),
        (f"{n} PHP requests in the busiest second", str(busiest)),
    ]


def plugin_rows(store: realstore_support.RealStore, root: Path, window_s: float) -> list[
    tuple[str, str]
]:
    """One idle till on the store with the companion plugin installed and active (its
    first poll after start-up baselines the journal; the window starts after the next)."""
    import companion_support as cs

    cs.install_files(store)
    try:
        store.reset()
        cs.activate(store)
        home = root / "plugin-till"
        prepare_till(store, home)
        return one_till_rows(measure(store, [home], window_s), "1 till, companion plugin")
    finally:
        store.reset()
        cs.remove_files(store)


def table(rows: list[tuple[str, str]]) -> str:
    out = ["| measure | value |", "|---|---|"]
    out += [f"| {a} | {b} |" for a, b in rows]
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--window", type=float, default=60.0 if QUICK else 120.0)
    parser.add_argument("--tills", type=int, default=3)
    parser.add_argument("--plugin-only", action="store_true",
                        help="measure only the till on a store with the companion plugin")
    args = parser.parse_args()
    intro = (
        "`onetill run` idle (default settings: delta every 30 s) against the real "
        "WordPress 7.0.4 + WooCommerce 11.0.1 kit over https; requests and server time "
        f"(`rt=` in nginx's access log) counted over {args.window:.0f} s after start-up. "
        "PHP requests are those under `/wp-json/`. Target without the companion plugin: "
        "at most 6 requests a minute per idle till, none of them PHP only for connectivity."
    )
    reason = realstore_support.skip_reason()
    if reason:
        print(f"{TITLE}\n\n{intro}\n\nSkipped: {reason}.")
        return 0
    started = time.monotonic()
    store = realstore_support.bring_up()
    try:
        store.reset()
        with tempfile.TemporaryDirectory(prefix="onetill-idle-") as tmp:
            if args.plugin_only:
                rows = plugin_rows(store, Path(tmp), args.window)
                print(f"{TITLE}\n\n{intro}\n\n{table(rows)}")
                return 0
            homes = [Path(tmp) / f"till{i}" for i in range(max(1, args.tills))]
            for home in homes:
                prepare_till(store, home)
            rows = one_till_rows(measure(store, homes[:1], args.window), "1 till, no sale seen")
            web_sales(store, homes[0])
            rows += one_till_rows(
                measure(store, homes[:1], args.window), "1 till, after 2 web sales"
            )
            rows += audit_rows(store, homes[0])
            if args.tills > 1:
                many = measure(store, homes, args.window)
                rows += spread_rows(many, args.tills)
            rows += plugin_rows(store, Path(tmp), args.window)
    finally:
        # down.sh says "store stopped" on stdout, which is this section's.
        subprocess.run(
            [str(realstore_support.kit_dir() / "down.sh"), str(realstore_support.prefix_dir())],
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
    print(f"{TITLE}\n\n{intro}\n\n{table(rows)}\n\n{BEFORE}")
    print(f"\n_(measured in {time.monotonic() - started:.0f} s)_", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
