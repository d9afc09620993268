"""``python -m chaos`` (with ``tests`` on ``PYTHONPATH``): one chaos run, see ``runner.py``.

make chaos                                  # about 10 minutes, a fresh seed
make chaos ARGS='--minutes 3 --seed 42'
make chaos ARGS='--seed 42 --replay .cache/chaos/42/schedule.json'
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

from chaos import report
from chaos.runner import RunOptions, main_exit, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make chaos", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--minutes", type=float, default=10.0, help="length of the run (default 10)"
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="seed of the schedule (default random)"
    )
    parser.add_argument("--replay", type=Path, help="run this schedule.json instead of drawing one")
    parser.add_argument("--out", type=Path, default=Path(".cache/chaos"), help="where runs go")
    parser.add_argument("--report", type=Path, help="write the Markdown table here")
    parser.add_argument(
        "--probes",
        type=int,
        default=None,
        help="path changes measured at the product's default timings",
    )
    parser.add_argument(
        "--dense",
        action="store_true",
        help="more kills and path changes per minute (the short run in the suite)",
    )
    parser.add_argument("--examples", type=int, default=None, help="generated webhook payloads")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 10**6)
    scale = {"kill_engine": 3.0, "path_change": 3.0, "kill_sandbox": 3.0, "kill_migration": 2.0,
             "kill_drain": 2.0, "flap": 2.0, "refuse": 2.0} if args.dense else {}  # fmt: skip
    options = RunOptions(
        seed=seed,
        minutes=args.minutes,
        run_dir=(args.out / str(seed)).resolve(),
        path_probes=args.probes if args.probes is not None else max(2, int(args.minutes)),
        scale=scale,
        replay=args.replay,
        hostile_examples=args.examples
        if args.examples is not None
        else (300 if args.minutes >= 5 else 40),
    )
    print(f"chaos: seed {seed}, {args.minutes} min, run directory {options.run_dir}", flush=True)
    result = run(options)
    (options.run_dir / "figures.json").write_text(json.dumps(result.figures, indent=1, default=str))
    command = f"make chaos ARGS='--minutes {args.minutes} --seed {seed}'"
    print()
    print(report.markdown(result, command=command))
    if args.report is not None:
        report.write(result, args.report, command=command)
        print(f"written to {args.report}")
    return main_exit(result)


if __name__ == "__main__":
    sys.exit(main())
