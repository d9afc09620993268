"""Record a request sequence from the real store as a differential fixture.

    ONETILL_REALSTORE_PREFIX=... .venv/bin/python tests/real/record_differential.py SPEC.json

SPEC is ``{"name": ..., "note": ..., "steps": [{"method", "path", "params"?, "json"?}]}``
(paths below ``/wp-json/wc/v3/``). The store is brought up (and left running:
``down.sh PREFIX`` stops it) and reset, the steps are sent to it and to a fresh
sandbox, the differences still open are printed, and the real store's answers
are written to
``tests/fixtures/differential/<name>.json`` (without ``oauth_*`` values),
where ``tests/sandbox/test_differential_fixtures.py`` replays them.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import anyio

sys.path[:0] = [str(Path(__file__).resolve().parent.parent)]

from differential_support import DIFFERENTIAL, Exchange, Request, compare, save_sequence  # noqa: E402
from real.test_real_differential import Sides  # noqa: E402
from realstore_support import RealStore, bring_up  # noqa: E402


async def record(store: RealStore, steps: list[Request]) -> tuple[list[Exchange], list[str]]:
    sides = Sides(store)
    exchanges, found = [], []
    try:
        for i, request in enumerate(steps):
            real, sandbox = await sides.send(request)
            exchanges.append(Exchange(request, real))
            found += [f"step {i}: {d}" for d in compare(real, sandbox)]
    finally:
        await sides.aclose()
    return exchanges, found


def main(spec_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    store = bring_up()  # started if it is not running (and left running)
    store.reset()
    time.sleep(1.0)
    steps = [
        Request(s["method"], s["path"], s.get("params", {}), s.get("json")) for s in spec["steps"]
    ]
    exchanges, found = anyio.run(record, store, steps)
    save_sequence(DIFFERENTIAL / f"{spec['name']}.json", spec["note"], exchanges)
    for ex in exchanges:
        print(ex.request.describe()[:200], "->", ex.response.status)
    print("\n".join(found) if found else "the sandbox answers every step like the real store")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
