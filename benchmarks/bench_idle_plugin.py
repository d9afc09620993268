"""What an idle till costs the store with and without the companion plugin (sandbox cost model).

    .venv/bin/python benchmarks/bench_idle_plugin.py [--window 120]

Two sandbox stores on loopback (200 products, 20 variable), one plain and one
with ``--plugin``, each served with the cost model of a shared host: 4 PHP
workers, every request holding one for 300 ms (about what the real test
store spends on ``products?per_page=1``) plus 1 ms per object returned. An
engine per store runs in-process with the default settings (delta every
30 s +- 10 %, handshake probes, hourly audit). After start-up (initial sync,
plugin detection, the journal's baseline) every request each store receives
over ``--window`` seconds is counted by route, with the server time the
model charged. Then a product is edited and another force-deleted in each
store: how long until the till has both, and with how many requests.

Target (issue 15): at most 2 requests a minute per idle till with the
plugin (6 without), none only for connectivity.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "tests"), str(HERE.parent / "src")]

from engine.engine_support import connect_home  # noqa: E402
from onetill.engine.runtime import Engine, EngineSettings  # noqa: E402
from onetill.sandbox import SandboxConfig, create_app  # noqa: E402
from onetill.sandbox.server import bind_socket, serving, url_for  # noqa: E402
from onetill.status import collect_status  # noqa: E402
from onetill.store import Database  # noqa: E402
from onetill.store.catalog import get_item  # noqa: E402

QUICK = os.environ.get("ONETILL_BENCH_QUICK") not in (None, "", "0")
TITLE = (
    "## Idle till with and without the companion plugin, sandbox cost model "
    "(bench_idle_plugin.py)"
)
LATENCY_MS = 300.0


class Counting:
    """ASGI wrapper: requests under /wp-json/ by route (query dropped)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.seen: Counter[str] = Counter()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/wp-json/"):
            path = scope["path"][len("/wp-json/") :]
            for prefix in ("wc/v3/products/", "wc/v3/orders/"):
                if path.startswith(prefix):  # one name for every id
                    path = prefix + "{id}" + ("/variations" if path.endswith("variations") else "")
            self.seen[f"{scope['method']} {path}"] += 1
        await self.app(scope, receive, send)


async def measure(plugin: bool, window: float, root: Path) -> dict[str, Any]:
    config = SandboxConfig(
        products=200, variable=20, seed=7, plugin=plugin,
        workers=4, latency_ms=LATENCY_MS, per_item_ms=1.0,
    )  # fmt: skip
    sock = bind_socket("127.0.0.1", 0)
    config.home_url = url_for(sock, https=False)
    app = create_app(config)
    counting = Counting(app)
    out: dict[str, Any] = {"plugin": plugin}
    with contextlib.closing(sock), serving(counting, sock):
        home = root / ("plugin" if plugin else "plain")
        home.mkdir()
        settings = EngineSettings(home=home, port=0)
        engine = Engine(settings, config=connect_home(home, config.home_url))
        task = asyncio.create_task(engine.run())
        try:
            await asyncio.wait_for(engine.started.wait(), 60)
            with Database(home / "onetill.db") as db:
                for _ in range(600):
                    if collect_status(db).initial_sync_done:
                        break
                    await asyncio.sleep(0.2)
            await asyncio.sleep(5)  # the first poll after the sync (the journal's baseline)
            counting.seen.clear()
            app.state.cost.reset()
            await asyncio.sleep(window)
            cost = app.state.cost.snapshot()
            minutes = window / 60
            out["routes"] = {k: v / minutes for k, v in sorted(counting.seen.items())}
            out["per_min"] = sum(counting.seen.values()) / minutes
            out["server_s_per_min"] = cost["busy_s"] / minutes
            # A change: an edit and a force delete, made in the store's admin.
            store = app.state.sandbox
            simple = [p for p in store.products if store.products[p].data.get("type") == "simple"]
            victim = max(simple)
            edited = min(store.products)
            counting.seen.clear()
            store.admin_update_product(edited, {"regular_price": "12.34"})
            store.force_delete_product(victim)
            changed = time.monotonic()
            seen_edit = seen_delete = None
            with Database(home / "onetill.db") as db:
                while time.monotonic() - changed < 45 and seen_delete is None:
                    item = get_item(db.conn, edited)
                    price = None if item is None else str(item.regular_price)
                    if seen_edit is None and price == "12.34":
                        seen_edit = time.monotonic() - changed
                    if get_item(db.conn, victim) is None:
                        seen_delete = time.monotonic() - changed
                    await asyncio.sleep(0.2)
            out["edit_s"], out["delete_s"] = seen_edit, seen_delete
            out["change_requests"] = sum(counting.seen.values())
        finally:
            engine.request_stop()
            await asyncio.wait_for(task, 30)
    return out


def _s(value: float | None) -> str:
    return "not within 45 s (the hourly audit)" if value is None else f"{value:.1f} s"


async def main_async(window: float) -> None:
    with tempfile.TemporaryDirectory(prefix="onetill-bench-") as tmp:
        plain, plugin = await asyncio.gather(
            measure(False, window, Path(tmp)), measure(True, window, Path(tmp))
        )
    print(TITLE)
    print()
    print(
        f"Two sandbox stores (200 products, 20 variable), one with `--plugin`, 4 workers, "
        f"{LATENCY_MS:.0f} ms + 1 ms per object a request; one engine each, default settings "
        f"(delta every 30 s +- 10 %, handshake probes). Idle window {window:.0f} s after "
        "start-up; then a product edited and another force-deleted in the store's admin."
    )
    print()
    print("| measure | plain WooCommerce | with the plugin |")
    print("|---|---|---|")
    print(f"| requests per idle minute | {plain['per_min']:.1f} | {plugin['per_min']:.1f} |")
    print(
        f"| modelled server time per idle minute | {plain['server_s_per_min']:.2f} s | "
        f"{plugin['server_s_per_min']:.2f} s |"
    )
    routes = sorted(set(plain["routes"]) | set(plugin["routes"]))
    for route in routes:
        a, b = plain["routes"].get(route, 0.0), plugin["routes"].get(route, 0.0)
        print(f"|   `{route}` per minute | {a:.1f} | {b:.1f} |")
    print(f"| edit reaches the till | {_s(plain['edit_s'])} | {_s(plugin['edit_s'])} |")
    print(f"| force delete reaches the till | {_s(plain['delete_s'])} | {_s(plugin['delete_s'])} |")
    print(
        f"| requests until then | {plain['change_requests']} | {plugin['change_requests']} |"
    )
    print()
    print("Target (issue 15): with the plugin at most 2 requests a minute per idle till.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", type=float, default=40.0 if QUICK else 120.0)
    args = parser.parse_args()
    asyncio.run(main_async(args.window))


if __name__ == "__main__":
    main()
