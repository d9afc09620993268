"""Run every ``benchmarks/bench_*.py`` and write ``docs/benchmarks.md``.

Each benchmark is a script that prints one Markdown section (a ``##``
heading, what was measured, a table) on stdout; this runner runs them one
after another (they must not compete for the two CPU cores), echoes their
output, and writes the sections into ``docs/benchmarks.md`` in file-name
order. To add a benchmark, add a ``bench_<name>.py`` with a ``main()``.

    .venv/bin/python -m benchmarks.run              # all, full size
    .venv/bin/python -m benchmarks.run catalog      # only bench_catalog.py
    ONETILL_BENCH_QUICK=1 .venv/bin/python -m benchmarks.run   # reduced sizes

A quick run prints but does not overwrite ``docs/benchmarks.md`` (the file
records full-size numbers); pass ``--write`` to force it.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DOC = HERE.parent / "docs" / "benchmarks.md"


def _machine() -> str:
    cpus = os.cpu_count() or 0
    system = f"{platform.system()} {platform.machine()}"
    return f"Python {platform.python_version()} on {system}, {cpus} CPUs"


def run(names: list[str], *, write: bool) -> int:
    scripts = sorted(HERE.glob("bench_*.py"))
    if names:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in names]
    sections: list[str] = []
    failed = 0
    for script in scripts:
        print(f"== {script.name}", file=sys.stderr, flush=True)
        started = time.monotonic()
        proc = subprocess.run(
            [sys.executable, str(script)], capture_output=True, text=True, cwd=HERE.parent
        )
        took = time.monotonic() - started
        sys.stderr.write(proc.stderr[-4000:])
        print(proc.stdout, flush=True)
        if proc.returncode != 0:
            failed += 1
            sections.append(
                f"## {script.stem}\n\nFAILED (exit {proc.returncode}) after {took:.0f} s.\n"
            )
        else:
            sections.append(proc.stdout.strip() + f"\n\n_(ran in {took:.0f} s)_\n")
    if write and not names:
        header = (
            "# Benchmarks\n\nWritten by `python -m benchmarks.run` "
            f"({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {_machine()}).\n"
            "Each section comes from one `benchmarks/bench_*.py`.\n"
        )
        DOC.write_text(header + "\n" + "\n".join(sections), encoding="utf-8")
        print(f"wrote {DOC}", file=sys.stderr)
    elif write:
        _replace_sections(sections)
    return 1 if failed else 0


def _replace_sections(sections: list[str]) -> None:
    """Replace (or append) just the given sections in the existing document."""
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Benchmarks\n"
    for section in sections:
        heading = section.splitlines()[0]
        start = text.find(heading + "\n")
        if start < 0:
            text = text.rstrip("\n") + "\n\n" + section
            continue
        end = text.find("\n## ", start + len(heading))
        text = text[:start] + section.rstrip("\n") + "\n" + ("" if end < 0 else text[end:])
    DOC.write_text(text, encoding="utf-8")
    print(f"updated {DOC}", file=sys.stderr)


def main() -> int:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    quick = os.environ.get("ONETILL_BENCH_QUICK") not in (None, "", "0")
    write = "--write" in sys.argv or not quick
    return run(args, write=write)


if __name__ == "__main__":
    raise SystemExit(main())
