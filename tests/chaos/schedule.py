"""The chaos schedule: every event of a run, drawn from its seed before the run starts.

The same seed always gives the same list of events (what happens, when,
with which parameters), written to ``schedule.json`` and printed on a
failure; ``--replay schedule.json`` runs exactly that list. Which request an
event hits still depends on timing (processes, two cores), but the faults
met by requests follow ``FaultPlan``: the Nth order POST meets the same
fault in every run with that seed.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Event", "Schedule", "build_schedule"]


@dataclass(order=True)
class Event:
    at: float  # seconds after the chaos phase starts
    kind: str
    params: dict[str, Any] = field(default_factory=dict, compare=False)


# Mean seconds between events of each kind (a Poisson process per kind).
MEAN_GAP_S: dict[str, float] = {
    "sale_cli": 2.4,
    "sale_local": 2.4,
    "shop": 2.5,  # the online shop: orders, price edits, trash, deletes, tax rates
    "kill_engine": 14.0,
    "kill_drain": 25.0,
    "kill_sandbox": 70.0,
    "kill_migration": 45.0,
    "path_change": 18.0,
    "flap": 40.0,
    "refuse": 35.0,
}


@dataclass
class Schedule:
    seed: int
    seconds: float
    events: list[Event]

    def to_json(self) -> str:
        return json.dumps(
            {
                "seed": self.seed,
                "seconds": self.seconds,
                "events": [asdict(e) for e in self.events],
            },
            indent=1,
        )

    def save(self, path: Path) -> None:
        path.write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Schedule:
        data = json.loads(path.read_text(encoding="utf-8"))
        events = [Event(e["at"], e["kind"], e["params"]) for e in data["events"]]
        return cls(int(data["seed"]), float(data["seconds"]), sorted(events))

    def count(self, kind: str) -> int:
        return sum(1 for e in self.events if e.kind == kind)


def _params(kind: str, rng: random.Random) -> dict[str, Any]:
    if kind in ("sale_cli", "sale_local"):
        lines = [(rng.random(), rng.choice((1, 1, 1, 2, 3))) for _ in range(rng.choice((1, 1, 2)))]
        params: dict[str, Any] = {"lines": lines}
        if kind == "sale_cli" and rng.random() < 0.2:
            params["kill_after"] = round(rng.uniform(0.05, 2.5), 3)
        return params
    if kind == "shop":
        action = rng.choices(
            ["online_order", "price_edit", "trash", "force_delete", "tax_rate", "restore"],
            [60, 20, 5, 3, 7, 5],
        )[0]
        return {
            "action": action,
            "pick": rng.random(),
            "qty": rng.choice((1, 1, 2)),
            "value": rng.random(),
        }
    if kind == "kill_engine":
        return {"down_s": round(rng.uniform(0.0, 2.0), 3)}
    if kind == "kill_drain":
        return {"kill_after": round(rng.uniform(0.05, 3.0), 3)}
    if kind == "kill_sandbox":
        return {"down_s": round(rng.uniform(0.5, 3.0), 3)}
    if kind == "kill_migration":
        return {"kill_after": round(rng.uniform(0.05, 0.9), 3)}
    if kind == "path_change":
        return {
            "return_first_s": round(rng.uniform(0.01, 0.3), 3) if rng.random() < 0.3 else 0.0,
            "revive_after_s": round(rng.uniform(3.0, 40.0), 1) if rng.random() < 0.25 else None,
        }
    if kind == "flap":
        return {
            "cycles": rng.choice((1, 2, 3)),
            "down_s": round(rng.uniform(0.5, 3.0), 2),
            "up_s": round(rng.uniform(1.0, 4.0), 2),
        }
    if kind == "refuse":
        return {"down_s": round(rng.uniform(0.5, 3.0), 2)}
    return {}


def build_schedule(seed: int, seconds: float, scale: dict[str, float] | None = None) -> Schedule:
    """Every event of a chaos phase of ``seconds``, from ``seed`` alone.

    ``scale`` multiplies the rate of some kinds (the short run in the test
    suite makes kills and path changes denser so a minute still holds some).
    """
    events: list[Event] = []
    for kind, gap in MEAN_GAP_S.items():
        rng = random.Random(f"{seed}:{kind}")
        rate = (scale or {}).get(kind, 1.0)
        if rate <= 0:
            continue
        t = rng.expovariate(rate / gap)
        while t < seconds:
            events.append(Event(round(t, 3), kind, _params(kind, rng)))
            t += rng.expovariate(rate / gap)
    return Schedule(seed, seconds, sorted(events))
