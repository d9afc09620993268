"""How fast a sandbox store is built and answers a page (prints a table).

Target: a generated store of 100,000 products starts in under 10 seconds.
Run: .venv/bin/python benchmarks/sandbox_store_load.py [N]
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

import httpx2

from onetill.sandbox.api import build_api
from onetill.sandbox.config import DEFAULT_KEY, DEFAULT_SECRET, SandboxConfig
from onetill.sandbox.state import SandboxStore


async def _page(store: SandboxStore, params: dict[str, str]) -> float:
    transport = httpx2.ASGITransport(app=build_api(store))
    async with httpx2.AsyncClient(transport=transport, base_url="https://sandbox.test") as c:
        t = time.perf_counter()
        r = await c.get(
            "/wp-json/wc/v3/products", params=params, auth=(DEFAULT_KEY, DEFAULT_SECRET)
        )
        assert r.status_code == 200, r.text
        return time.perf_counter() - t


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    rows = []
    t = time.perf_counter()
    store = SandboxStore.from_config(
        SandboxConfig(products=n, variable=n // 50, home_url="https://sandbox.test")
    )
    rows.append((f"generate {n:,} + {n // 50:,} variable (memory)", time.perf_counter() - t))
    rows.append(("GET 100 products, full objects", asyncio.run(_page(store, {"per_page": "100"}))))
    rows.append(
        (
            "GET 100 products, _fields=id,sku",
            asyncio.run(_page(store, {"per_page": "100", "_fields": "id,sku"})),
        )
    )
    rows.append(
        (
            "GET modified_after (0 hits)",
            asyncio.run(
                _page(store, {"modified_after": "2099-01-01T00:00:00", "dates_are_gmt": "true"})
            ),
        )
    )
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "s.sqlite"
        t = time.perf_counter()
        SandboxStore.from_config(SandboxConfig(products=n, variable=n // 50, state_file=state))
        rows.append(("generate + write state file", time.perf_counter() - t))
        t = time.perf_counter()
        SandboxStore.from_config(SandboxConfig(state_file=state))
        rows.append(("restart from state file", time.perf_counter() - t))
    width = max(len(r[0]) for r in rows)
    print(f"{'step':<{width}}  seconds")
    for name, secs in rows:
        print(f"{name:<{width}}  {secs:7.3f}")


if __name__ == "__main__":
    main()
