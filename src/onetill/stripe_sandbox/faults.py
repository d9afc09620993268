"""Faults the emulated Stripe API can act out, so the till's recovery can be tested.

Grammar (``--faults``, control API ``POST /__stripe__/faults``), rules
separated by ``;``::

    METHOD PATH_GLOB:ACTION[=ARG][@nth=N | @every=N | @first=N]

``PATH_GLOB`` is matched with ``fnmatch`` against the path (``*`` spans
``/``), e.g. ``POST /v1/payment_intents``,
``POST /v1/terminal/readers/*/process_payment_intent``, ``GET /v1/*``.
Without ``@``, a rule fires on every matching request.

Actions:

* ``reset``: the connection is reset before anything is done.
* ``status=503``: answered with that status before anything is done (a load
  balancer's error; nothing saved under the idempotency key).
* ``slow=S``: wait S seconds, then do the request.
* ``commit_reset``: do the request (and save it under its idempotency key),
  then reset the connection: the client never hears that it happened.
* ``commit_status=500``: do it, then answer that status instead.
* ``commit_slow=S``: do it, then wait S seconds before answering (the client
  may give up first: a network path that went silent).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field

__all__ = ["FaultError", "FaultRule", "Faults", "parse_faults"]

_ACTIONS = {"reset", "status", "slow", "commit_reset", "commit_status", "commit_slow"}


class FaultError(ValueError):
    """A fault spec that does not follow the grammar (says which part)."""


@dataclass
class FaultRule:
    method: str
    glob: str
    action: str
    arg: float = 0.0
    nth: int | None = None
    every: int | None = None
    first: int | None = None
    seen: int = field(default=0, compare=False)
    fired: int = field(default=0, compare=False)

    @property
    def commit_first(self) -> bool:
        return self.action.startswith("commit_")

    def matches(self, method: str, path: str) -> bool:
        return (self.method in ("*", method)) and fnmatch.fnmatchcase(path, self.glob)

    def take(self) -> bool:
        """Count one matching request; True if the rule fires on it."""
        self.seen += 1
        if self.nth is not None:
            fire = self.seen == self.nth
        elif self.every is not None:
            fire = self.seen % self.every == 0
        elif self.first is not None:
            fire = self.seen <= self.first
        else:
            fire = True
        if fire:
            self.fired += 1
        return fire

    def describe(self) -> dict[str, object]:
        return {"method": self.method, "path": self.glob, "action": self.action, "arg": self.arg,
                "nth": self.nth, "every": self.every, "first": self.first, "seen": self.seen,
                "fired": self.fired}  # fmt: skip


def parse_faults(spec: str) -> list[FaultRule]:
    rules: list[FaultRule] = []
    for raw in (part.strip() for part in spec.split(";")):
        if not raw:
            continue
        target, sep, action_text = raw.rpartition(":")
        if not sep or " " not in target.strip():
            raise FaultError(
                f"{raw!r}: expected 'METHOD PATH:ACTION', e.g. 'POST /v1/refunds:reset'"
            )
        method, glob = target.strip().split(None, 1)
        action_text, _, when = action_text.partition("@")
        name, _, arg_text = action_text.strip().partition("=")
        if name not in _ACTIONS:
            raise FaultError(f"{raw!r}: unknown action {name!r}; one of {sorted(_ACTIONS)}")
        try:
            arg = float(arg_text) if arg_text else 0.0
        except ValueError:
            raise FaultError(f"{raw!r}: {arg_text!r} is not a number") from None
        if name in ("status", "commit_status") and not 400 <= arg <= 599:
            raise FaultError(f"{raw!r}: status must be 400..599")
        rule = FaultRule(method.upper(), glob.strip(), name, arg)
        if when:
            key, _, count = when.partition("=")
            if key not in ("nth", "every", "first") or not count.isdigit() or int(count) < 1:
                raise FaultError(f"{raw!r}: expected @nth=N, @every=N or @first=N")
            setattr(rule, key, int(count))
        rules.append(rule)
    return rules


class Faults:
    """The rules in force; the first matching rule that fires wins."""

    def __init__(self) -> None:
        self.rules: list[FaultRule] = []

    def add(self, spec: str) -> list[FaultRule]:
        new = parse_faults(spec)
        self.rules.extend(new)
        return new

    def clear(self) -> None:
        self.rules.clear()

    def pick(self, method: str, path: str) -> FaultRule | None:
        chosen: FaultRule | None = None
        for rule in self.rules:
            if rule.matches(method, path) and rule.take() and chosen is None:
                chosen = rule
        return chosen
