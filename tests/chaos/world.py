"""The world around the till during a chaos run: the cashier, the online shop, the killer.

``World`` holds every process and what happened, and turns each scheduled
event into an action. Actions run on worker threads; each one is short and
safe to run beside the others (the engine restart is guarded by a lock).
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from chaos.netpath import PathChanger
from chaos.procs import Cli, EngineProc, SandboxProc
from chaos.proxy import FaultProxy
from onetill.sandbox.control import ControlError, SandboxControl
from onetill.store import Database

__all__ = ["Item", "Stats", "World"]

log = logging.getLogger("chaos")

TAX_RATES = ("19.0000", "7.0000", "16.0000", "5.0000", "21.0000")


@dataclass
class Item:
    """A product or variation the run sells (both sides) and watches."""

    id: int
    parent_id: int  # 0 for a product
    sold: bool  # in the low-stock set sold by the till and the shop


@dataclass
class Till:
    """One till of the shop: its home, engine and database (the shop runs two)."""

    home: Path
    engine: EngineProc
    db: Database
    till_id: str
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class Stats:
    sales_tried: int = 0
    sales_refused: int = 0  # the till refused the cart (item hidden, gone): nothing recorded
    sales_killed: int = 0  # `onetill sell` killed before it answered
    acknowledged: dict[str, float] = field(default_factory=dict)  # uuid -> when the cashier saw it
    shop: Counter[str] = field(default_factory=Counter)
    kills: Counter[str] = field(default_factory=Counter)
    kill_moments: Counter[str] = field(default_factory=Counter)
    path_changes: int = 0
    revived: int = 0
    path_sales: list[tuple[str, float, str]] = field(
        default_factory=list
    )  # uuid, change time, kind
    errors: list[str] = field(default_factory=list)


class World:
    """Everything a chaos run drives. Built by the runner; ``act(event)`` runs one event."""

    def __init__(
        self,
        *,
        run_dir: Path,
        home: Path,
        sandbox: SandboxProc,
        engine: EngineProc,
        proxy: FaultProxy,
        changer: PathChanger | None,
        items: dict[int, Item],
        tax_ids: list[int],
        till_db: Database,
        till_id: str,
        timezone: str,
    ) -> None:
        self.run_dir = run_dir
        self.home = home
        self.sandbox = sandbox
        self.engine = engine
        self.proxy = proxy
        self.changer = changer
        self.items = items
        self.tax_ids = tax_ids
        self.db = till_db
        self.till_id = till_id
        self.timezone = timezone
        self.control = SandboxControl(sandbox.url, timeout=10)
        self.proxy_url = ""  # the store's address as the till reaches it
        self.stats = Stats()
        self.trashed: set[int] = set()
        self.deleted: set[int] = set()
        self.last_store_change = time.time()
        self.migration_homes: list[Path] = []
        self._engine_lock = threading.Lock()
        self._sandbox_lock = threading.Lock()
        self.stopping = threading.Event()
        # The shop's tills; the first is the one every phase after the chaos uses.
        self.tills = [Till(home, engine, till_db, till_id)]

    def till_for(self, r: float) -> Till:
        """The till a scheduled event acts on (from one of its random numbers)."""
        return self.tills[min(int(r * 1000) % len(self.tills), len(self.tills) - 1)]

    # -- helpers -------------------------------------------------------------

    def alive(self, *, sold: bool | None = None) -> list[Item]:
        return [
            it for it in self.items.values()
            if it.id not in self.deleted and it.parent_id not in self.deleted
            and (sold is None or it.sold == sold)
        ]  # fmt: skip

    def _pick(self, pool: list[Item], r: float) -> Item | None:
        return pool[min(int(r * len(pool)), len(pool) - 1)] if pool else None

    def _sale_lines(self, lines: list[list[float]]) -> list[tuple[int, int]]:
        pool = [it for it in self.alive(sold=True) if it.id not in self.trashed
                and it.parent_id not in self.trashed]  # fmt: skip
        picked: dict[int, int] = {}
        for r, qty in lines:
            item = self._pick(pool, float(r))
            if item is not None:
                picked[item.id] = picked.get(item.id, 0) + int(qty)
        return list(picked.items())

    # -- the cashier ---------------------------------------------------------

    def sale_local(self, lines: list[list[float]], till: Till | None = None) -> str | None:
        """A sale on a till screen in another process: recorded, then the engine uploads it."""
        from onetill.pos.cart import Cart, CartError
        from onetill.pos.sale import record_sale
        from onetill.pos.tender import Payment

        wanted = self._sale_lines(lines)
        if not wanted:
            return None
        self.stats.sales_tried += 1
        till = till or self.tills[0]
        with till.lock:
            try:
                cart = Cart(till.db.conn, timezone=self.timezone)
                for item_id, qty in wanted:
                    cart.add_id(item_id, qty)
                sale = record_sale(
                    till.db, cart, Payment("cash", None), till_id=till.till_id,
                    out_of_stock="warn",
                )  # fmt: skip
            except (CartError, ValueError) as exc:
                self.stats.sales_refused += 1
                log.info("cart refused: %s", exc)
                return None
        self.stats.acknowledged[sale.uuid] = time.time()
        return sale.uuid

    def sale_cli(
        self, lines: list[list[float]], kill_after: float | None = None, till: Till | None = None
    ) -> None:
        """``onetill sell``, perhaps killed at a random moment (mid-commit, mid-upload)."""
        wanted = self._sale_lines(lines)
        if not wanted:
            return
        self.stats.sales_tried += 1
        args = ["sell", *[f"{i}:{q}" for i, q in wanted], "--pay", "cash", "--json"]
        cli = Cli((till or self.tills[0]).home, args, self.run_dir / "sell.log")
        proc = cli.start_captured()
        if kill_after is not None:
            try:
                proc.wait(kill_after)
            except Exception:
                if cli.kill():
                    self.stats.kills["sell"] += 1
                    self.stats.sales_killed += 1
                    cli.finish(5)
                    return
        code, answer = cli.finish(180)
        if code == 0 and answer and "uuid" in answer:
            self.stats.acknowledged[str(answer["uuid"])] = time.time()
        else:
            self.stats.sales_refused += 1

    # -- the online shop -----------------------------------------------------

    def shop(self, action: str, pick: float, qty: int, value: float) -> None:
        try:
            self._shop(action, pick, qty, value)
        except (ControlError, OSError, Exception) as exc:  # the sandbox may be down: skip
            self.stats.shop[f"{action}_skipped"] += 1
            log.info("shop %s skipped: %s", action, exc)

    def _shop(self, action: str, pick: float, qty: int, value: float) -> None:
        if action == "online_order":
            pool = [it for it in self.alive(sold=True) if it.id not in self.trashed
                    and it.parent_id not in self.trashed]  # fmt: skip
            item = self._pick(pool, pick)
            if item is None:
                return
            stock = self.control.stock(item.id).get(item.id)
            if stock is None or stock < qty:
                self.stats.shop["online_order_out_of_stock"] += 1
                return  # a web shop does not sell what it does not have
            line = (
                {"product_id": item.parent_id, "variation_id": item.id, "quantity": qty}
                if item.parent_id
                else {"product_id": item.id, "quantity": qty}
            )
            self.control.place_online_order([line])
        elif action == "price_edit":
            item = self._pick(self.alive(), pick)
            if item is None:
                return
            price = str(Decimal(1 + int(value * 4000)) / 100)
            if item.parent_id:
                self.control.update_variation(item.id, regular_price=price)
            else:
                self.control.update_product(item.id, regular_price=price)
        elif action == "trash":
            item = self._pick([i for i in self.alive() if not i.parent_id
                               and i.id not in self.trashed], pick)  # fmt: skip
            if item is None:
                return
            self.control.trash_product(item.id)
            self.trashed.add(item.id)
        elif action == "restore":
            item = self._pick(sorted(self.items[i] for i in self.trashed
                                     if i not in self.deleted), pick)  # fmt: skip
            if item is None:
                return
            self.control.update_product(item.id, status="publish")
            self.trashed.discard(item.id)
        elif action == "force_delete":
            # Rarely one of the sold items: its unsent sales must fail visibly.
            pool = self.alive(sold=value < 0.3)
            item = self._pick(pool, pick)
            if item is None:
                return
            self.control.force_delete_product(item.id)
            self.deleted.add(item.id)
            if not item.parent_id:
                self.deleted.update(i.id for i in self.items.values() if i.parent_id == item.id)
        elif action == "tax_rate":
            if not self.tax_ids:
                return
            rate_id = self.tax_ids[min(int(pick * len(self.tax_ids)), len(self.tax_ids) - 1)]
            self.control.update_tax_rate(rate_id, rate=TAX_RATES[int(value * len(TAX_RATES))])
        self.stats.shop[action] += 1
        self.last_store_change = time.time()

    # -- the killer ----------------------------------------------------------

    def kill_engine(self, down_s: float) -> None:
        till = self.till_for(down_s)
        with self._engine_lock:
            status = till.engine.status() or {}
            busy = (status.get("engine") or {}).get("running") or "idle"
            if not till.engine.kill():
                return
            self.stats.kills["engine"] += 1
            self.stats.kill_moments[f"engine:{busy}"] += 1
            time.sleep(down_s)
            if not self.stopping.is_set():
                till.engine.start(wait=False)

    def ensure_engine(self) -> None:
        with self._engine_lock:
            for till in self.tills:
                if not till.engine.running:
                    till.engine.start(wait=False)

    def kill_drain(self, kill_after: float) -> None:
        cli = Cli(self.till_for(kill_after).home, ["drain"], self.run_dir / "drain.log")
        cli.spawn()
        time.sleep(kill_after)
        if cli.kill():
            self.stats.kills["drain"] += 1

    def kill_sandbox(self, down_s: float) -> None:
        with self._sandbox_lock:
            if not self.sandbox.kill():
                return
            self.stats.kills["sandbox"] += 1
            time.sleep(down_s)
            try:
                self.sandbox.start()
            except RuntimeError as exc:
                self.stats.errors.append(f"sandbox restart failed: {exc}")

    def kill_migration(self, kill_after: float) -> None:
        """A till's first start (the schema migrations) killed at a random moment."""
        home = self.run_dir / f"migration-{len(self.migration_homes)}"
        home.mkdir(mode=0o700)
        shutil.copy(self.home / "config.json", home / "config.json")
        self.migration_homes.append(home)
        cli = Cli(home, ["orders", "--json"], self.run_dir / "migration.log")
        cli.spawn()
        time.sleep(kill_after)
        if cli.kill():
            self.stats.kills["migration"] += 1
            moment = "mid-migration" if (home / "onetill.db").exists() else "before-open"
            self.stats.kill_moments[f"migration:{moment}"] += 1

    # -- the network -----------------------------------------------------------

    def path_change(self, return_first_s: float, revive_after_s: float | None) -> None:
        at = time.time()
        if self.changer is not None:
            old = self.changer.current
            self.changer.change(return_first_s=return_first_s)
            if revive_after_s is not None:
                timer = threading.Timer(revive_after_s, self._revive, (old,))
                timer.daemon = True
                timer.start()
        else:
            self.proxy.freeze()
        self.stats.path_changes += 1
        uuid = self.sale_local([[0.5, 1]])  # a sale at the very moment of the change
        if uuid is not None:
            self.stats.path_sales.append((uuid, at, "return_first" if return_first_s else "both"))

    def _revive(self, address: str) -> None:
        if self.changer is not None and not self.stopping.is_set() and self.changer.revive(address):
            self.stats.revived += 1

    def flap(self, cycles: int, down_s: float, up_s: float) -> None:
        for _ in range(cycles):
            self.proxy.down()
            time.sleep(down_s)
            self.proxy.up()
            time.sleep(up_s)

    def refuse(self, down_s: float) -> None:
        self.proxy.refuse_new(down_s)

    # -- dispatch --------------------------------------------------------------

    def act(self, kind: str, params: dict[str, Any]) -> None:
        if self.stopping.is_set():
            return
        try:
            if kind == "sale_local":
                self.sale_local(params["lines"], self.till_for(params["lines"][0][0]))
            elif kind == "sale_cli":
                till = self.till_for(params["lines"][0][0])
                self.sale_cli(params["lines"], params.get("kill_after"), till)
            elif kind == "shop":
                self.shop(params["action"], params["pick"], params["qty"], params["value"])
            elif kind == "kill_engine":
                self.kill_engine(params["down_s"])
            elif kind == "kill_drain":
                self.kill_drain(params["kill_after"])
            elif kind == "kill_sandbox":
                self.kill_sandbox(params["down_s"])
            elif kind == "kill_migration":
                self.kill_migration(params["kill_after"])
            elif kind == "path_change":
                self.path_change(params["return_first_s"], params["revive_after_s"])
            elif kind == "flap":
                self.flap(params["cycles"], params["down_s"], params["up_s"])
            elif kind == "refuse":
                self.refuse(params["down_s"])
        except Exception as exc:
            self.stats.errors.append(f"{kind}: {type(exc).__name__}: {exc}")
            log.exception("event %s failed", kind)

    def close(self) -> None:
        self.stopping.set()
        for till in self.tills:
            with contextlib.suppress(Exception):
                till.db.close()
