"""The table a chaos run prints and writes to ``docs/reliability.md``."""

from __future__ import annotations

import math
import platform
import time
from pathlib import Path
from typing import Any

from chaos.proxy import KINDS

__all__ = ["markdown", "percentile", "rows", "spread"]


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    return str(value)


def percentile(values: list[float], q: float) -> float | None:
    """The nearest-rank ``q``-th percentile (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return round(ordered[rank - 1], 1)


def spread(values: list[float]) -> str:
    """``p50 / p99 / max`` of a list of seconds, with how many there were."""
    if not values:
        return "-"
    return (
        f"{percentile(values, 50)} s / {percentile(values, 99)} s / "
        f"{round(max(values), 1)} s ({len(values)} sales)"
    )


def rows(result: Any) -> list[tuple[str, str]]:
    """(what, figure) pairs, in the order of the issue's table."""
    f = result.figures
    faults = f.get("faults", {})
    kills = f.get("kills", {})
    shop = f.get("shop", {})
    probes = f.get("probes") or {}
    total_faults = sum(faults.values()) + f.get("path_changes", 0)
    detail = probes.get("detail") or []
    probe_store = [d["store_delay_s"] for d in detail if "store_delay_s" in d]
    probe_till = [d["till_delay_s"] for d in detail if "till_delay_s" in d]
    chaos_delays = list(f.get("chaos_path_store_delays_s") or [])
    out: list[tuple[str, str]] = [
        ("seed", str(result.options.seed)),
        (
            "chaos phase",
            f"{_fmt(f.get('chaos_s'))} s of {result.options.minutes} min "
            f"(settling took {_fmt(f.get('settle_s'))} s)",
        ),
        ("path-change emulation", result.emulation),
        (
            "sales recorded on the till",
            f"{_fmt(f.get('sales_local'))} "
            f"(tried {_fmt(f.get('sales_tried'))}; "
            f"acknowledged {_fmt(f.get('sales_acknowledged'))}; "
            f"`onetill sell` killed before answering {_fmt(f.get('sales_killed'))}; "
            f"refused by the cart {_fmt(f.get('sales_refused'))})",
        ),
        ("final states", ", ".join(f"{k} {v}" for k, v in sorted((f.get("states") or {}).items()))),
        (
            "online shop",
            f"orders {_fmt(f.get('online_orders'))}, price edits "
            f"{shop.get('price_edit', 0)}, trashed {shop.get('trash', 0)}, restored "
            f"{shop.get('restore', 0)}, force-deleted {shop.get('force_delete', 0)}, "
            "tax rate changes "
            f"{shop.get('tax_rate', 0)}",
        ),
        (
            "faults injected",
            f"{total_faults} in {sum((f.get('requests') or {}).values())} requests",
        ),
    ]
    for kind in KINDS:
        if faults.get(kind):
            out.append((f"- {kind}", str(faults[kind])))
    out += [
        (
            "path changes",
            f"{_fmt(f.get('path_changes'))} (old path revived later: {_fmt(f.get('revived'))})",
        ),
        (
            "kills (SIGKILL)",
            f"{sum(kills.values())}: " + ", ".join(f"{k} {v}" for k, v in sorted(kills.items())),
        ),
        (
            "bad inputs tried",
            f"{_fmt(f.get('bad_inputs_tried'))} (webhooks "
            f"{_fmt(f.get('webhooks_tried'))}, "
            f"generated payloads {_fmt(f.get('generated_tried'))}, "
            f"command line {_fmt(f.get('cli_tried'))}, "
            f"till screen API {_fmt(f.get('screen_tried'))})",
        ),
        ("**sales lost**", _fmt(f.get("lost"))),
        ("**sales duplicated**", _fmt(f.get("duplicated"))),
        ("**stock errors**", _fmt(f.get("stock_errors"))),
        ("**catalog mismatches**", _fmt(f.get("catalog_mismatches"))),
        ("**bad inputs accepted**", _fmt(f.get("bad_inputs_accepted"))),
        (
            "longest time without progress (sales waiting, none uploaded)",
            f"{_fmt(f.get('longest_stall_s'))} s",
        ),
        (
            "sale at a path change -> in the store, during chaos (p50 / p99 / max)",
            spread(chaos_delays)
            if chaos_delays
            else f"{_fmt(f.get('chaos_path_store_median_s'))} s median / "
            f"{_fmt(f.get('chaos_path_store_max_s'))} s max",
        ),
        (
            "sale at a path change -> in the store, default timings (p50 / p99 / max; "
            "target: all within 10 s)",
            f"{spread(probe_store)}, {_fmt(probes.get('count'))} changes",
        ),
        ("... -> confirmed on the till, default timings (p50 / p99 / max)", spread(probe_till)),
        (
            "issue 12's minimum for a full run (1,000 faults, 50 kills, 20 path changes)",
            "met"
            if total_faults >= 1000 and sum(kills.values()) >= 50
            and (f.get("path_changes") or 0) >= 20
            else "not met",
        ),
        ("problems found", str(len(result.problems))),
    ]
    return out


def markdown(result: Any, *, command: str) -> str:
    lines = [
        "# Reliability: what the chaos suite found",
        "",
        "Written by `make chaos` (`tests/chaos/`); do not edit by hand. What it does and how to",
        "replay a failure: `tests/chaos/README.md`.",
        "",
        f"Last full run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, `{command}`, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}.",
        "",
        "| what | figure |",
        "|---|---|",
    ]
    lines += [f"| {a} | {b} |" for a, b in rows(result)]
    if result.problems:
        lines += ["", "## Problems", ""] + [f"- {p}" for p in result.problems[:50]]
    return "\n".join(lines) + "\n"


def write(result: Any, path: Path, *, command: str, extra: str = "") -> None:
    path.write_text(markdown(result, command=command) + extra, encoding="utf-8")
