"""How fast the sandbox store starts and serves; prints a table.

    .venv/bin/python benchmarks/bench_sandbox.py [--products 100000] [--variable 1000]

Targets (issue 3): a generated store of 100,000 products starts in under
10 s, measured two ways: building the app in-process, and a separate
``onetill sandbox`` process from launch until it prints its URL (what a
test or the demo waits for). Also: the first 100-product page over real
HTTP, and the cost model's physical lower bound for a page walk with 4
workers at 200 ms + 2 ms per item. Requests are signed by the official
``woocommerce`` Python client (OAuth 1.0a over http), which shares no code
with the sandbox.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import httpx2
from woocommerce.oauth import OAuth

from onetill.sandbox import SandboxConfig, create_app
from onetill.sandbox.server import SandboxProcess, running_sandbox

TARGET_START_S = 10.0


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_in_process(products: int, variable: int) -> float:
    started = time.perf_counter()
    create_app(SandboxConfig(products=products, variable=variable))
    return time.perf_counter() - started


def bench_process(args: list[str]) -> tuple[float, float]:
    """Seconds from launch to the printed URL, then to the first answer."""
    started = time.perf_counter()
    with SandboxProcess(args) as proc:
        printed = time.perf_counter() - started
        httpx2.get(f"{proc.url}/wp-json/", timeout=30).raise_for_status()
        answered = time.perf_counter() - started
    return printed, answered


def bench_pages(products: int, variable: int, pages: int) -> dict[str, float]:
    config = SandboxConfig(
        products=products, variable=variable, workers=4, latency_ms=200, per_item_ms=2
    )
    with running_sandbox(config) as srv:
        def page_url(page: int) -> str:
            # The official client's own signer; its API.get() mangles query strings.
            url = f"{srv.url}/wp-json/wc/v3/products?per_page=100&page={page}"
            return str(OAuth(url, srv.key, srv.secret, method="GET").get_oauth_url())

        with httpx2.Client(timeout=60) as client:
            started = time.perf_counter()
            first = client.get(page_url(1))
            first.raise_for_status()
            first_s = time.perf_counter() - started
            total = int(first.headers["X-WP-Total"])
            for page in range(2, pages + 1):
                client.get(page_url(page)).raise_for_status()
            walked_s = time.perf_counter() - started
        counters = srv.control.cost()
    all_pages = -(-total // 100)
    per_page_busy = counters["busy_s"] / max(1, counters["requests"])
    return {
        "first_page_s": first_s,
        "pages": pages,
        "walk_s": walked_s,
        "busy_per_page_s": per_page_busy,
        "total": total,
        "catalog_lower_bound_s": all_pages * per_page_busy / 4,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--variable", type=int, default=1_000)
    parser.add_argument("--pages", type=int, default=10)
    opts = parser.parse_args()
    catalog = ["--products", str(opts.products), "--variable", str(opts.variable)]

    in_process = bench_in_process(opts.products, opts.variable)
    rss = _rss_mb()
    printed, answered = bench_process(catalog)
    with tempfile.TemporaryDirectory() as folder:
        state = ["--state", str(Path(folder) / "store.sqlite")]
        fresh_printed, _ = bench_process(catalog + state)
        reload_printed, _ = bench_process(catalog + state)
    pages = bench_pages(opts.products, opts.variable, opts.pages)

    rows = [
        ("create_app in-process", f"{in_process:.2f} s", _verdict(in_process)),
        ("peak RSS after create_app", f"{rss:.0f} MB", ""),
        ("process: launch -> URL printed", f"{printed:.2f} s", _verdict(printed)),
        ("process: launch -> first answer", f"{answered:.2f} s", _verdict(answered)),
        ("process with new --state file", f"{fresh_printed:.2f} s", _verdict(fresh_printed)),
        ("process reloading --state file", f"{reload_printed:.2f} s", _verdict(reload_printed)),
        ("first page (100, 4 workers, 200 ms + 2 ms/item)", f"{pages['first_page_s']:.3f} s", ""),
        (f"{pages['pages']} pages in sequence", f"{pages['walk_s']:.2f} s", ""),
        ("server busy time per page", f"{pages['busy_per_page_s']:.3f} s", ""),
        (
            f"lower bound, all {pages['total']:,} products, 4 workers",
            f"{pages['catalog_lower_bound_s']:.1f} s",
            "",
        ),
    ]
    # One Markdown section, as benchmarks/run.py collects them into docs/benchmarks.md.
    print("## Sandbox store (bench_sandbox.py)\n")
    print(
        f"A generated store of {opts.products:,} simple + {opts.variable:,} variable products. "
        f"Target: starts in under {TARGET_START_S:.0f} s. Page timings use the cost model "
        "(4 workers, 200 ms + 2 ms per item), signed by the official `woocommerce` client.\n"
    )
    print("| measure | value | start target |")
    print("|---|---|---|")
    for name, value, verdict in rows:
        print(f"| {name} | {value} | {verdict} |")


def _verdict(seconds: float) -> str:
    return "ok" if seconds < TARGET_START_S else "TOO SLOW"


if __name__ == "__main__":
    main()
