"""The chaos suite's short run: every promise under a dense 24 s of faults (about a minute in all).

The full run is ``make chaos`` (about ten minutes; writes docs/reliability.md).
This one runs the same code with a fixed seed and more kills and path
changes per minute, as a separate process (it moves itself into a private
network namespace when it can), and fails with the problems found, the
seed and the schedule to replay them.
The path-change latency at the product's own timings (target: 10 s) is measured by
the full run only (`--probes`); here path changes happen during the chaos.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

TESTS = Path(__file__).resolve().parents[1]
SEED = 20261204


def test_a_short_chaos_run_keeps_every_promise(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(TESTS))
    command = [
        sys.executable, "-m", "chaos", "--minutes", "0.4", "--seed", str(SEED), "--dense",
        "--probes", "0", "--examples", "10", "--out", str(tmp_path),
    ]  # fmt: skip
    run = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env,
                         cwd=TESTS.parent)  # fmt: skip
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-6000:]
    figures = json.loads((tmp_path / str(SEED) / "figures.json").read_text())
    assert figures["lost"] == 0 and figures["duplicated"] == 0
    assert figures["stock_errors"] == 0 and figures["catalog_mismatches"] == 0
    assert figures["bad_inputs_accepted"] == 0
    assert figures["sales_local"] >= 10 and sum(figures["faults"].values()) >= 10
    assert sum(figures["kills"].values()) >= 3 and figures["path_changes"] >= 2
