"""One chaos run, start to finish: set up, break things on schedule, settle, check, report.

Phases:

1. **setup**: a private network namespace when possible; the proxy, the
   sandbox store (``--state`` file, its site address the proxy's), two
   tills of one shop connected through the proxy and synced, each with its
   engine; a low-stock set of
   products and variations on both sides.
2. **chaos**: the schedule's events (sales, the online shop, kills, path
   changes, flaps) while the proxy injects faults into the till's requests.
3. **path changes at product timings**: the engine with its default
   timeouts, no other faults; a sale at the very moment of each path
   change, timed until it is in the store.
4. **hostile input**: webhooks (forged, replayed, oversized, slow-drip,
   generated payloads) and bad CLI input against the live engine; then a
   short run with debug logging and a scan of every till file and log for
   the secrets.
5. **settle**: faults off; wait until every sale is uploaded and the
   catalog has been read again after the last change in the store.
6. **checks** and the report.
"""

from __future__ import annotations

import json
import logging
import random
import secrets
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaos import checks
from chaos.netpath import PathChanger, enter_private_network
from chaos.procs import Cli, EngineProc, SandboxProc, free_port
from chaos.proxy import FaultPlan, FaultProxy
from chaos.schedule import Schedule, build_schedule
from chaos.world import Item, Till, World

__all__ = ["RunOptions", "RunResult", "run"]

log = logging.getLogger("chaos")

# The engine during the chaos phase: short intervals so hundreds of faults fit
# in minutes. The outbox's safety rules keep their meaning: the proxy never
# delays a request longer than the minimum resend age.
CHAOS_ENGINE_ARGS = [
    "--interval", "1.5", "--audit-interval", "15", "--probe-interval", "0.5", "--probe-max", "2",
    "--idle-probe", "2", "--drain-settle", "3", "--grace", "2", "--request-timeout", "6",
]  # fmt: skip
CHAOS_EXTRA = {"outbox_settle_s": 3, "outbox_min_resend_age_s": 15, "http_timeout_s": 6}
# Phase 3: the product's own defaults (onetill run with no timing options).
DEFAULT_ENGINE_ARGS = ["--audit-interval", "3600"]


@dataclass
class RunOptions:
    seed: int
    minutes: float
    run_dir: Path
    products: int = 40
    variable: int = 6
    path_probes: int = 5  # measured path changes at product timings (phase 3)
    scale: dict[str, float] = field(default_factory=dict)
    replay: Path | None = None
    hostile_examples: int = 150


@dataclass
class RunResult:
    options: RunOptions
    schedule: Schedule
    emulation: str
    figures: dict[str, Any]
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def _wait(condition: Any, within: float, step: float = 0.25) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return bool(condition())


class _Progress(threading.Thread):
    """Watches the till's database: when sales reach the store, and every sale ever seen."""

    def __init__(self, *db_paths: Path) -> None:
        super().__init__(name="chaos-progress", daemon=True)
        self.db_paths = list(db_paths)
        self.seen: set[str] = set()
        self.longest_stall_s = 0.0
        self.stall_started: float | None = None
        self._synced = -1
        self.stop_event = threading.Event()
        self.paused = threading.Event()

    def run(self) -> None:
        import sqlite3

        while not self.stop_event.wait(0.5):
            rows = []
            try:
                for path in self.db_paths:
                    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
                    try:
                        rows += conn.execute("SELECT uuid, state FROM orders").fetchall()
                    finally:
                        conn.close()
            except sqlite3.Error:
                continue
            now = time.monotonic()
            self.seen.update(u for u, _ in rows)
            synced = sum(1 for _, s in rows if s in checks.SYNCED or s == "failed")
            waiting = sum(1 for _, s in rows if s in ("pending_sync", "in_flight"))
            if synced != self._synced or not waiting or self.paused.is_set():
                self._synced = synced
                self.stall_started = None if not waiting else now
                continue
            if self.stall_started is None:
                self.stall_started = now
            self.longest_stall_s = max(self.longest_stall_s, now - self.stall_started)


def run(options: RunOptions) -> RunResult:
    run_dir = options.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        filename=run_dir / "chaos.log", level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )  # fmt: skip
    why_not = enter_private_network()
    emulation = (
        "network namespace (silent drop, new source address)"
        if why_not is None
        else (f"proxy freeze ({why_not})")
    )
    seconds = options.minutes * 60 * 0.8  # the rest: path probes, settling, hostile input, checks
    schedule = (Schedule.load(options.replay) if options.replay
                else build_schedule(options.seed, seconds, options.scale))  # fmt: skip
    schedule.save(run_dir / "schedule.json")
    fault_log = open(run_dir / "faults.log", "a", encoding="utf-8")  # noqa: SIM115

    def note(line: str) -> None:
        fault_log.write(line + "\n")
        fault_log.flush()

    proxy_port, sandbox_port, engine_port = free_port(), free_port(), free_port()
    plan = FaultPlan(options.seed, enabled=False)
    proxy = FaultProxy(("127.0.0.1", proxy_port), ("127.0.0.1", sandbox_port), plan,
                       slow_s=8.0, log=note)  # fmt: skip
    proxy.start()
    store_url = f"http://127.0.0.1:{proxy_port}"
    sandbox = SandboxProc(run_dir, sandbox_port, store_url, [
        "--products", str(options.products), "--variable", str(options.variable),
        "--seed", str(options.seed),
    ])  # fmt: skip
    home = run_dir / "home"
    home.mkdir(mode=0o700, exist_ok=True)  # private, as `onetill` asks of a till's home
    engine = EngineProc(home, engine_port, [*CHAOS_ENGINE_ARGS], run_dir / "engine.log")
    problems: list[str] = []
    figures: dict[str, Any] = {}
    world: World | None = None
    home2 = run_dir / "home2"  # the shop's second till
    home2.mkdir(mode=0o700, exist_ok=True)
    engine2 = EngineProc(home2, free_port(), [*CHAOS_ENGINE_ARGS], run_dir / "engine2.log")
    progress = _Progress(home / "onetill.db", home2 / "onetill.db")
    try:
        sandbox.start()
        items, tax_ids, baseline = _setup_store(sandbox, store_url, options.seed)
        config = _connect(home, store_url, run_dir)
        config2 = _connect(home2, store_url, run_dir)
        engine.start()
        engine2.start()
        from onetill.store import Database

        world = World(
            run_dir=run_dir, home=home, sandbox=sandbox, engine=engine, proxy=proxy,
            changer=PathChanger(proxy_port) if why_not is None else None, items=items,
            tax_ids=tax_ids, till_db=Database(home / "onetill.db"), till_id=config.till_id,
            timezone=config.timezone,
        )  # fmt: skip
        world.proxy_url = store_url
        world.tills.append(Till(home2, engine2, Database(home2 / "onetill.db"), config2.till_id))
        progress.start()

        # -- 2. chaos ------------------------------------------------------------
        plan.enabled = True
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=8, thread_name_prefix="chaos-act") as pool:
            for event in schedule.events:
                delay = started + event.at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                pool.submit(world.act, event.kind, event.params)
            time.sleep(max(0.0, started + schedule.seconds - time.monotonic()))
            plan.enabled = False
        chaos_s = time.monotonic() - started
        proxy.up()
        world.ensure_engine()

        # -- 3. path changes at the product's own timings ------------------------
        progress.paused.set()
        probes = _path_probes(world, options.path_probes, config)
        progress.paused.clear()

        # -- 4. hostile input ------------------------------------------------------
        from chaos import hostile

        hostile_figures, hostile_problems = hostile.run_all(
            world, config, examples=options.hostile_examples, engine_args=CHAOS_ENGINE_ARGS
        )
        problems += hostile_problems

        # -- 5. settle -------------------------------------------------------------
        settle_s = _settle(world)

        # -- 6. checks -------------------------------------------------------------
        progress.stop_event.set()
        problems += world.stats.errors
        figures = _check(world, baseline, progress, problems)
        figures.update(hostile_figures)
        figures.update(
            chaos_s=round(chaos_s), settle_s=round(settle_s), probes=probes,
            faults=dict(proxy.counts), requests=dict(proxy.requests),
        )  # fmt: skip
    except Exception as exc:
        log.exception("the run failed")
        problems.append(f"the run itself failed: {type(exc).__name__}: {exc}")
    finally:
        progress.stop_event.set()
        if world is not None:
            world.close()
        engine.terminate()
        engine2.terminate()
        sandbox.terminate()
        proxy.stop()
        fault_log.close()
    return RunResult(options, schedule, emulation, figures, problems)


# --- setup ---------------------------------------------------------------------


def _client(url: str) -> Any:
    from onetill.sandbox.config import DEFAULT_KEY, DEFAULT_SECRET
    from onetill.woo import WooClient

    return WooClient(url, DEFAULT_KEY, DEFAULT_SECRET, timeout=30)


def store_catalog(url: str) -> tuple[dict[int, dict[str, Any]], list[dict[str, Any]]]:
    """Every product and variation the till would list (all statuses but trash), and taxes."""
    import asyncio

    async def read() -> tuple[dict[int, dict[str, Any]], list[dict[str, Any]]]:
        out: dict[int, dict[str, Any]] = {}
        async with _client(url) as client:
            async for page in client.paginate("products", {"status": "any"}):
                out.update({int(p["id"]): p for p in page.items})
            async for page in client.paginate("variations", {}):
                out.update({int(v["id"]): v for v in page.items})
            taxes: list[dict[str, Any]] = []
            async for page in client.paginate("taxes", {}):
                taxes += page.items
        return out, taxes

    return asyncio.run(read())


def _setup_store(
    sandbox: SandboxProc, url: str, seed: int
) -> tuple[dict[int, Item], list[int], dict[int, int]]:
    """Pick the low-stock set and give it little stock; returns (items, tax ids, baseline)."""
    from onetill.sandbox.control import SandboxControl

    rng = random.Random(f"{seed}:store")
    catalog, taxes = store_catalog(url)
    control = SandboxControl(sandbox.url)
    simple = [p for p in catalog.values() if p["type"] == "simple" and p["status"] == "publish"
              and p.get("manage_stock") is True and p.get("price")]  # fmt: skip
    own_variations = [
        v for v in catalog.values()
        if v["type"] == "variation" and v.get("manage_stock") is True and v.get("price")
        and catalog.get(int(v["parent_id"]), {}).get("status") == "publish"
    ]  # fmt: skip
    sold_ids = {p["id"] for p in rng.sample(simple, min(12, len(simple)))}
    sold_ids |= {v["id"] for v in rng.sample(own_variations, min(6, len(own_variations)))}
    items: dict[int, Item] = {}
    for obj in catalog.values():
        if obj["type"] in ("simple", "variation", "variable"):
            parent = int(obj.get("parent_id") or 0) if obj["type"] == "variation" else 0
            items[int(obj["id"])] = Item(int(obj["id"]), parent, int(obj["id"]) in sold_ids)
    for item_id in sorted(sold_ids):
        stock = rng.randrange(6, 25)
        if items[item_id].parent_id:
            control.update_variation(item_id, stock_quantity=stock)
        else:
            control.update_product(item_id, stock_quantity=stock)
    baseline = {k: v for k, v in control.stock(*sorted(sold_ids)).items() if v is not None}
    return items, [int(t["id"]) for t in taxes], baseline


def _connect(home: Path, url: str, run_dir: Path) -> Any:
    from onetill.config import load_config, save_config
    from onetill.sandbox.config import DEFAULT_KEY, DEFAULT_SECRET

    code, out = Cli(home, ["connect", url, "--key", DEFAULT_KEY, "--secret", DEFAULT_SECRET],
                    run_dir / "setup.log").run()  # fmt: skip
    if code != 0:
        raise RuntimeError(f"onetill connect failed: {out[-500:]}")
    config = load_config(home)
    config.extra.update(CHAOS_EXTRA)
    config.webhook_secret = "whs_" + secrets.token_hex(16)
    save_config(home, config)
    code, out = Cli(home, ["sync"], run_dir / "setup.log").run(300)
    if code != 0:
        raise RuntimeError(f"onetill sync failed: {out[-500:]}")
    return load_config(home)


# --- phase 3: path changes at product timings ----------------------------------


def _store_orders(world: World) -> list[dict[str, Any]]:
    return world.control.orders()


def _path_probes(world: World, count: int, config: Any) -> dict[str, Any]:
    """A sale at the moment of each path change, the engine at its default timings."""
    from onetill.config import load_config, save_config

    if count <= 0:
        return {}
    # Whatever the chaos left in flight settles under the chaos timings first:
    # the default engine would give it the full two-minute resend age.
    world.ensure_engine()
    _wait(lambda: _queue_empty(world), 120)
    cfg = load_config(world.home)
    for key in CHAOS_EXTRA:
        cfg.extra.pop(key, None)
    save_config(world.home, cfg)
    world.engine.terminate()
    default_engine = EngineProc(world.home, world.engine.port, DEFAULT_ENGINE_ARGS,
                                world.run_dir / "engine-defaults.log")  # fmt: skip
    default_engine.start()
    results: list[dict[str, Any]] = []
    rng = random.Random(f"{config.till_id}:probes")
    try:
        _wait(lambda: _queue_empty(world), 300)
        for n in range(count):
            # A sale first: the engine's pooled connections are fresh and idle.
            world.sale_local([[rng.random(), 1]])
            _wait(lambda: _queue_empty(world), 60)
            time.sleep(0.5)
            variant = "return_first" if n % 2 else "both"
            at = time.time()
            if world.changer is not None:
                world.changer.change(return_first_s=0.05 if variant == "return_first" else 0.0)
            else:
                world.proxy.freeze()
            world.stats.path_changes += 1
            uuids = [u for u in (world.sale_local([[rng.random(), 1]]),) if u]
            time.sleep(1.0)
            uuids += [u for u in (world.sale_local([[rng.random(), 1]]),) if u]
            _wait(lambda: _queue_empty(world), 400, step=0.2)
            synced = checks.local_orders(world.home / "onetill.db")
            for uuid in uuids:
                row = synced[uuid]
                results.append(
                    {
                        "uuid": uuid,
                        "change_at": at,
                        "variant": variant,
                        "till_synced_at": row["synced_at"],
                        "state": row["state"],
                    }
                )
    finally:
        default_engine.terminate()
        cfg = load_config(world.home)
        cfg.extra.update(CHAOS_EXTRA)
        save_config(world.home, cfg)
        world.engine.start()
    by_uuid = {checks.store_uuid(o): o for o in _store_orders(world)}
    delays_store: list[float] = []
    delays_till: list[float] = []
    from datetime import UTC, datetime

    for r in results:
        order = by_uuid.get(r["uuid"])
        if order is not None:
            created = datetime.fromisoformat(order["date_created_gmt"]).replace(tzinfo=UTC)
            # date_created has one-second resolution: the order may be up to 1 s older.
            r["store_delay_s"] = max(0.0, created.timestamp() - r["change_at"])
            delays_store.append(r["store_delay_s"])
        if r["till_synced_at"]:
            synced_at = datetime.fromisoformat(r["till_synced_at"].replace("Z", "+00:00"))
            r["till_delay_s"] = synced_at.timestamp() - r["change_at"]
            delays_till.append(r["till_delay_s"])
    return {
        "count": count,
        "sales": len(results),
        "store_max_s": round(max(delays_store), 1) if delays_store else None,
        "store_median_s": round(statistics.median(delays_store), 1) if delays_store else None,
        "till_max_s": round(max(delays_till), 1) if delays_till else None,
        "till_median_s": round(statistics.median(delays_till), 1) if delays_till else None,
        "detail": results,
    }


# --- phase 4: settle ----------------------------------------------------------------


def _all_local(world: World) -> dict[str, dict[str, Any]]:
    """Every sale of every till of the shop, by UUID."""
    out: dict[str, dict[str, Any]] = {}
    for till in world.tills:
        out.update(checks.local_orders(till.home / "onetill.db"))
    return out


def _queue_empty(world: World) -> bool:
    local = _all_local(world)
    return not any(r["state"] in ("pending_sync", "in_flight") for r in local.values())


def _audited_after(world: World, moment: float) -> bool:
    return all(_till_audited_after(till.home, moment) for till in world.tills)


def _till_audited_after(home: Path, moment: float) -> bool:
    import sqlite3
    from datetime import UTC, datetime

    conn = sqlite3.connect(f"file:{home / 'onetill.db'}?mode=ro", uri=True)
    try:
        rows = dict(conn.execute(
            "SELECT key, value FROM sync_state WHERE key IN ('audit.last_at', 'catalog.cursor')"
        ).fetchall())  # fmt: skip
    finally:
        conn.close()
    times = []
    for key in ("audit.last_at", "catalog.cursor"):
        if key not in rows:
            return False
        times.append(datetime.fromisoformat(rows[key].replace("Z", "")).replace(tzinfo=UTC))
    return min(t.timestamp() for t in times) > moment + 1


def _settle(world: World) -> float:
    """Until every sale is uploaded and the catalog was read after the last store change."""
    started = time.monotonic()
    world.ensure_engine()
    if not world.sandbox.running:
        world.sandbox.start()
    _wait(lambda: _queue_empty(world), 240)
    moment = time.time()
    world.last_store_change = min(world.last_store_change, moment)
    _wait(lambda: _audited_after(world, moment), 120)
    return time.monotonic() - started


# --- phase 6: checks ----------------------------------------------------------------


def _check(
    world: World, baseline: dict[int, int], progress: _Progress, problems: list[str]
) -> dict[str, Any]:
    for till in world.tills:
        problems += checks.check_database(till.home)  # while the engine still runs
        till.engine.terminate()
    store_orders = _store_orders(world)
    local = _all_local(world)
    sale_problems, lost, duplicated = checks.check_sales(
        local, store_orders, world.stats.acknowledged
    )
    problems += sale_problems
    gone = world.deleted
    final = world.control.stock(*sorted(baseline))
    stock_problems = checks.check_stock(baseline, final, local, store_orders, gone)
    problems += stock_problems
    store_items, store_taxes = store_catalog(world.proxy_url)
    catalog_problems: list[str] = []
    for till in world.tills:
        found = checks.check_catalog(till.home / "onetill.db", store_items, store_taxes)
        catalog_problems += [f"{till.home.name}: {p}" for p in found]
        code, out = Cli(
            till.home, ["orders", "--failed", "--json"], world.run_dir / "checks.log"
        ).run()
        problems += checks.check_failed_visible(
            out.splitlines()[-1] if code == 0 and out else "[]"
        )
        problems += checks.check_database(till.home)
    problems += catalog_problems
    problems += checks.check_no_rows_deleted(progress.seen, local)
    for mig in world.migration_homes:
        problems += checks.check_database(mig)
    states: dict[str, int] = {}
    for row in local.values():
        states[row["state"]] = states.get(row["state"], 0) + 1
    path_delays = []
    by_uuid = {checks.store_uuid(o): o for o in store_orders}
    from datetime import UTC, datetime

    for uuid, at, _variant in world.stats.path_sales:
        order = by_uuid.get(uuid)
        if order is not None:
            created = datetime.fromisoformat(order["date_created_gmt"]).replace(tzinfo=UTC)
            path_delays.append(max(0.0, created.timestamp() - at))
    return {
        "sales_tried": world.stats.sales_tried,
        "sales_local": len(local),
        "sales_acknowledged": len(world.stats.acknowledged),
        "sales_refused": world.stats.sales_refused,
        "sales_killed": world.stats.sales_killed,
        "states": states,
        "online_orders": sum(1 for o in store_orders if o.get("created_via") == "checkout"),
        "shop": dict(world.stats.shop),
        "kills": dict(world.stats.kills),
        "kill_moments": dict(world.stats.kill_moments),
        "path_changes": world.stats.path_changes,
        "revived": world.stats.revived,
        "chaos_path_store_delays_s": sorted(round(d, 2) for d in path_delays),
        "chaos_path_store_max_s": round(max(path_delays), 1) if path_delays else None,
        "chaos_path_store_median_s": round(statistics.median(path_delays), 1)
        if path_delays
        else None,
        "lost": lost,
        "duplicated": duplicated,
        "stock_errors": len(stock_problems),
        "catalog_mismatches": len(catalog_problems),
        "longest_stall_s": round(progress.longest_stall_s, 1),
    }


def main_exit(result: RunResult) -> int:
    if result.ok:
        return 0
    print(f"\nCHAOS FAILED (seed {result.options.seed}); {len(result.problems)} problem(s):",
          file=sys.stderr)  # fmt: skip
    for problem in result.problems[:50]:
        print(f"  - {problem}", file=sys.stderr)
    print(f"replay: make chaos ARGS='--seed {result.options.seed} --minutes "
          f"{result.options.minutes} --replay {result.options.run_dir / 'schedule.json'}'",
          file=sys.stderr)  # fmt: skip
    print("schedule:", file=sys.stderr)
    print(json.dumps([[e.at, e.kind, e.params] for e in result.schedule.events])[:20000],
          file=sys.stderr)  # fmt: skip
    return 1
