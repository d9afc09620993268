"""The table a chaos run prints and writes to ``docs/reliability.md``."""

from __future__ import annotations

import platform
import time
from pathlib import Path
from typing import Any

from chaos.proxy import KINDS

__all__ = ["markdown", "rows"]


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    return str(value)


def rows(result: Any) -> list[tuple[str, str]]:
    """(what, figure) pairs, in the order of the issue's table."""
    f = result.figures
    faults = f.get("faults", {})
    kills = f.get("kills", {})
    shop = f.get("shop", {})
    probes = f.get("probes") or {}
    total_faults = sum(faults.values()) + f.get("path_changes", 0)
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
            f"command line {_fmt(f.get('cli_tried'))})",
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
            "sale at a path change -> in the store, during chaos (median / max)",
            f"{_fmt(f.get('chaos_path_store_median_s'))} s / "
            f"{_fmt(f.get('chaos_path_store_max_s'))} s",
        ),
        (
            "sale at a path change -> in the store, default timings (median / max)",
            f"{_fmt(probes.get('store_median_s'))} s / {_fmt(probes.get('store_max_s'))} s "
            f"({_fmt(probes.get('sales'))} sales, {_fmt(probes.get('count'))} changes)",
        ),
        (
            "... -> confirmed on the till, default timings (median / max)",
            f"{_fmt(probes.get('till_median_s'))} s / {_fmt(probes.get('till_max_s'))} s",
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
