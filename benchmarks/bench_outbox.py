"""Sale commit latency, and draining a queue of orders; prints a Markdown section.

    .venv/bin/python benchmarks/bench_outbox.py [--sales 1000] [--orders 1000]

Targets (issue 5): recording a sale (cart -> tax -> one ``BEGIN IMMEDIATE``
transaction with ``synchronous=FULL``: order, lines, outbox row, stock
decrement) has p99 under 30 ms; draining 1,000 queued orders against the
sandbox's cost model (4 PHP workers, 30 ms per request + 3 ms per order
written) through ``/orders/batch`` is at least 4x faster than one ``POST
/orders`` per order in sequence, with zero duplicates. The drain talks to
the sandbox in-process (ASGI): over loopback TCP each small POST also pays
~40 ms of delayed-ACK latency, which would flatter batching.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx2

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "tests"), str(HERE.parent / "src")]

from onetill.pos.cart import Cart  # noqa: E402
from onetill.pos.sale import record_sale  # noqa: E402
from onetill.pos.tender import Payment  # noqa: E402
from onetill.sandbox import SandboxConfig, create_app  # noqa: E402
from onetill.store.orders import count_by_state  # noqa: E402
from onetill.sync.outbox import drain  # noqa: E402
from onetill.woo import WooClient  # noqa: E402
from support import RECORDED_STORE  # noqa: E402
from till_support import order_uuid, seeded_db  # noqa: E402

QUICK = bool(os.environ.get("ONETILL_BENCH_QUICK"))
CODES = ("SIMPLE-001", "SIMPLE-003", "VAR-20-L", "SIMPLE-061", "VAR-01-L")
COST = {"workers": 4, "latency_ms": 30.0, "per_item_ms": 3.0}


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def bench_sales(n: int, folder: Path) -> dict[str, float]:
    db = seeded_db(folder / "sales.db")
    timings: list[float] = []
    try:
        for i in range(n):
            cart = Cart(db.conn)
            cart.add(CODES[i % len(CODES)], 1 + i % 3)
            if i % 2:
                cart.add(CODES[(i + 1) % len(CODES)])
            started = time.perf_counter()
            record_sale(db, cart, Payment("cash"), till_id="bench")
            timings.append((time.perf_counter() - started) * 1000)
    finally:
        db.close()
    return {
        "p50": statistics.median(timings),
        "p99": _pct(timings, 0.99),
        "max": max(timings),
    }


def _queue(path: Path, n: int) -> Any:
    db = seeded_db(path)
    for i in range(n):
        cart = Cart(db.conn)
        cart.add(CODES[i % len(CODES)])
        record_sale(db, cart, Payment("cash"), till_id="bench")
    return db


async def _drain_all(app: Any, key: str, secret: str, db: Any, batch: int) -> int:
    transport = httpx2.ASGITransport(app=app)
    async with WooClient(
        "http://sandbox.test", key, secret, transport=transport, timeout=60
    ) as client:
        requests = 0
        while count_by_state(db.conn).get("pending_sync", 0):
            report = await drain(client, db, batch_size=batch, settle_s=0)
            requests += report.requests
            if not report.synced:
                raise RuntimeError(f"drain made no progress: {report}")
        return requests


def bench_drain(n: int, batch: int, folder: Path) -> dict[str, Any]:
    config = SandboxConfig(store_dir=RECORDED_STORE, **COST)  # type: ignore[arg-type]
    db = _queue(folder / f"drain-{batch}.db", n)
    app = create_app(config)
    key, secret = next(iter(config.keys.items()))
    try:
        started = time.perf_counter()
        requests = asyncio.run(_drain_all(app, key, secret, db, batch))
        took = time.perf_counter() - started
        counts = Counter(order_uuid(o) for o in app.state.sandbox.list_orders())
    finally:
        db.close()
    duplicates = sum(c - 1 for u, c in counts.items() if u and c > 1)
    synced = count_by_state_file(folder / f"drain-{batch}.db")
    return {"seconds": took, "requests": requests, "duplicates": duplicates, "synced": synced}


def count_by_state_file(path: Path) -> int:
    from onetill.store.db import Database

    with Database(path) as db:
        return count_by_state(db.conn).get("synced", 0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sales", type=int, default=200 if QUICK else 1000)
    parser.add_argument("--orders", type=int, default=100 if QUICK else 1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-outbox-") as tmp:
        folder = Path(tmp)
        sales = bench_sales(args.sales, folder)
        single = bench_drain(args.orders, 1, folder)
        batched = bench_drain(args.orders, 10, folder)
    speedup = single["seconds"] / batched["seconds"]
    print("## Sales and the order outbox (bench_outbox.py)\n")
    print(
        f"Recording {args.sales} sales on a SQLite file (WAL, `synchronous=FULL`): cart, tax, "
        "one `BEGIN IMMEDIATE` transaction with order, lines, outbox row and stock decrement. "
        f"Draining {args.orders} queued orders (the sandbox in-process, no TCP) with "
        f"{COST['workers']} workers, {COST['latency_ms']:.0f} ms per request + "
        f"{COST['per_item_ms']:.0f} ms per order written. Target: sale p99 < 30 ms; "
        "batch drain >= 4x faster than one request per order, zero duplicates.\n"
    )
    print("| measure | value | target |")
    print("|---|---|---|")
    print(f"| sale commit p50 | {sales['p50']:.2f} ms | |")
    print(f"| sale commit p99 | {sales['p99']:.2f} ms | < 30 ms |")
    print(f"| sale commit max | {sales['max']:.2f} ms | |")
    for label, r in (("one POST per order", single), ("/orders/batch of 10", batched)):
        print(
            f"| drain {args.orders}, {label} | {r['seconds']:.1f} s, {r['requests']} requests, "
            f"{r['synced']} synced, {r['duplicates']} duplicates | 0 duplicates |"
        )
    print(f"| batch speed-up | {speedup:.1f}x | >= 4x |")


if __name__ == "__main__":
    main()
