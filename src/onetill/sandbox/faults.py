"""Fault injection: the ways a real merchant's server misbehaves, on demand.

Rules come from ``onetill sandbox --faults SPEC`` and from the control API
(``POST /__sandbox__/faults``); they can be added and cleared at runtime.

SPEC grammar::

    SPEC    := RULE (';' RULE)*
    RULE    := [METHODS ' '] PATTERN ':' ACTION ['@' TRIGGER]
    METHODS := METHOD ('|' METHOD)*          GET, POST, PUT, PATCH, DELETE, HEAD or *
    PATTERN := a glob (``*`` also matches ``/``), matched against the full
               path and against the path below ``/wp-json/wc/v3``
    ACTION  := KIND ['=' VALUE] (',' NAME '=' VALUE)*
    TRIGGER := COND (',' COND)*
    COND    := p=P         each matching request with probability P (seeded RNG)
             | nth=N       only the Nth matching request (1-based)
             | from=N      the Nth matching request and every later one
             | count=N     at most N times in all

A rule without a trigger fires on every matching request. Kinds:

    delay=MS[,jitter=MS]    added latency, plus uniform jitter (combines)
    status=CODE[,retry_after=S|retry_after_date=S]
                            e.g. 429 or 503 from the host, request not processed;
                            Retry-After in seconds or as an HTTP date S s ahead
    rate=N/W                host rate limit: N requests per W-second window,
                            then 429 with Retry-After (triggers do not apply)
    html=CODE               an HTML 5xx page (PHP fatal error, proxy 502/504)
    waf=200|403             a WAF's HTML bot challenge instead of JSON
    malformed               processed, but a PHP notice precedes the JSON
    truncated               processed, but the JSON is cut in half
    reset                   connection reset (RST) before the request is processed
    commit_drop             processed fully, then the connection closes unanswered
    commit_html=CODE        processed fully (the write is saved), then the client gets
                            the proxy's HTML 5xx page: PHP outlived the reverse
                            proxy's timeout (502/504 while the order is created)
    commit_status=CODE      the same as commit_html=CODE
    slow=S                  processed, then the answer is held S seconds (past the
                            client's timeout); abandoned if the client hangs up
    revoke[=CK]             revokes key CK (default: every key) and lets the
                            store answer: its own 401 from then on (combines)
    clock=S                 the Date header is S seconds off (combines)

Example: ``POST /orders*:commit_drop@nth=3;GET /products*:status=503,retry_after=2@p=0.1``

``delay``, ``revoke`` and ``clock`` combine with whatever else fires; of the
other kinds the first triggered rule wins. Control routes are never faulted.
"""

from __future__ import annotations

import fnmatch
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["KINDS", "FaultInjector", "FaultRule", "FaultSpecError", "Trigger", "parse_spec"]

_WC_PREFIX = "/wp-json/wc/v3"
_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})

# kind -> (value required?, allowed extra params); "combines" kinds never end the request.
KINDS: dict[str, tuple[bool, frozenset[str]]] = {
    "delay": (True, frozenset({"jitter"})),
    "status": (True, frozenset({"retry_after", "retry_after_date"})),
    "rate": (True, frozenset()),
    "html": (True, frozenset()),
    "waf": (True, frozenset()),
    "malformed": (False, frozenset()),
    "truncated": (False, frozenset()),
    "reset": (False, frozenset()),
    "commit_drop": (False, frozenset()),
    "commit_html": (True, frozenset()),
    "commit_status": (True, frozenset()),
    "slow": (True, frozenset()),
    "revoke": (False, frozenset()),
    "clock": (True, frozenset()),
}
COMBINING = frozenset({"delay", "revoke", "clock"})


class FaultSpecError(ValueError):
    """A --faults SPEC (or control API rule) that cannot be parsed."""


@dataclass
class Trigger:
    """When a matching request sets a rule off."""

    p: float | None = None
    nth: int | None = None
    from_nth: int | None = None
    count: int | None = None

    def describe(self) -> str:
        parts = [
            f"{name}={value}"
            for name, value in (
                ("p", self.p),
                ("nth", self.nth),
                ("from", self.from_nth),
                ("count", self.count),
            )
            if value is not None
        ]
        return ",".join(parts)


@dataclass
class FaultRule:
    """One parsed rule, with its own counters."""

    text: str
    methods: frozenset[str] | None  # None: any method
    pattern: str
    kind: str
    value: str | None
    params: dict[str, str]
    trigger: Trigger
    id: int = 0
    matched: int = 0
    fired: int = 0
    window: list[float] = field(default_factory=list)  # rate: start of window, count

    def matches(self, method: str, path: str) -> bool:
        if self.methods is not None and method.upper() not in self.methods:
            return False
        if fnmatch.fnmatchcase(path, self.pattern):
            return True
        if path.startswith(_WC_PREFIX + "/"):
            return fnmatch.fnmatchcase(path[len(_WC_PREFIX) :], self.pattern)
        return False

    def number(self, name: str) -> float:
        raw = self.value if name == self.kind else self.params[name]
        assert raw is not None
        return float(raw)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "rule": self.text,
            "methods": sorted(self.methods) if self.methods else None,
            "pattern": self.pattern,
            "kind": self.kind,
            "value": self.value,
            "params": dict(self.params),
            "trigger": self.trigger.describe(),
            "matched": self.matched,
            "fired": self.fired,
        }


def parse_spec(spec: str) -> list[FaultRule]:
    """Parse a SPEC string (see the module docstring) into rules."""
    rules = []
    for number, text in enumerate((part.strip() for part in spec.split(";")), start=1):
        if text:
            try:
                rules.append(_parse_rule(text))
            except FaultSpecError as exc:
                raise FaultSpecError(f"fault rule {number} ({text!r}): {exc}") from None
    return rules


def _parse_rule(text: str) -> FaultRule:
    head, sep, action = text.partition(":")
    if not sep or not action.strip():
        raise FaultSpecError("expected '[METHOD ]PATTERN:KIND[=VALUE][@TRIGGER]'")
    action, _, trigger_text = action.partition("@")
    methods, pattern = _parse_target(head.strip())
    kind, value, params = _parse_action(action.strip())
    trigger = _parse_trigger(trigger_text.strip())
    return FaultRule(text, methods, pattern, kind, value, params, trigger)


def _parse_target(head: str) -> tuple[frozenset[str] | None, str]:
    if " " in head:
        method_text, pattern = head.split(None, 1)
    else:
        method_text, pattern = "*", head
    pattern = pattern.strip()
    if not pattern.startswith("/") and pattern != "*":
        raise FaultSpecError(f"route pattern {pattern!r} must start with '/' (or be '*')")
    names = {m.strip().upper() for m in method_text.split("|")}
    if "*" in names:
        return None, pattern
    unknown = names - _METHODS
    if unknown:
        raise FaultSpecError(f"unknown HTTP method {sorted(unknown)[0]!r}")
    return frozenset(names), pattern


def _parse_action(action: str) -> tuple[str, str | None, dict[str, str]]:
    first, *rest = [part.strip() for part in action.split(",")]
    kind, eq, value = first.partition("=")
    kind = kind.strip().lower()
    if kind not in KINDS:
        raise FaultSpecError(f"unknown fault kind {kind!r}; expected one of {', '.join(KINDS)}")
    needs_value, allowed = KINDS[kind]
    if needs_value and not value:
        raise FaultSpecError(f"{kind} needs a value ({kind}=...)")
    if value and kind in {"malformed", "truncated", "reset", "commit_drop"}:
        raise FaultSpecError(f"{kind} takes no value")
    params: dict[str, str] = {}
    for part in rest:
        name, eq2, param_value = part.partition("=")
        name = name.strip().lower()
        if not eq2 or name not in allowed:
            hint = ", ".join(sorted(allowed)) or "none"
            raise FaultSpecError(f"unknown parameter {part!r} for {kind} (allowed: {hint})")
        params[name] = param_value.strip()
    _validate(kind, value.strip() if eq else None, params)
    return kind, (value.strip() if eq else None), params


def _validate(kind: str, value: str | None, params: dict[str, str]) -> None:
    def number(text: str | None, what: str, *, minimum: float = 0.0) -> float:
        try:
            result = float(text or "")
        except ValueError:
            raise FaultSpecError(f"{what} must be a number, not {text!r}") from None
        if not math.isfinite(result) or result < minimum:
            raise FaultSpecError(f"{what} must be at least {minimum:g}, not {text!r}")
        return result

    if kind in {"delay", "slow"}:
        number(value, kind)
    elif kind == "clock":
        number(value, kind, minimum=-math.inf)
    elif kind == "status":
        code = number(value, "status")
        if code != int(code) or not 400 <= code <= 599:
            raise FaultSpecError(f"status must be an HTTP error code 400-599, not {value!r}")
    elif kind in {"html", "commit_html", "commit_status"}:
        code = number(value, kind)
        if code != int(code) or not 500 <= code <= 599:
            raise FaultSpecError(f"{kind} must be a 5xx status, not {value!r}")
    elif kind == "waf" and value not in {"200", "403"}:
        raise FaultSpecError(f"waf must be 200 or 403, not {value!r}")
    elif kind == "rate":
        limit, slash, window = (value or "").partition("/")
        if not slash or number(limit, "rate limit", minimum=1) != int(float(limit)):
            raise FaultSpecError(f"rate must be N/W (N requests per W seconds), not {value!r}")
        if number(window, "rate window") <= 0:
            raise FaultSpecError("rate window must be more than 0 seconds")
    for name, text in params.items():
        number(text, name)
    if "retry_after" in params and "retry_after_date" in params:
        raise FaultSpecError("give retry_after (seconds) or retry_after_date, not both")


def _parse_trigger(text: str) -> Trigger:
    trigger = Trigger()
    if not text:
        return trigger
    for part in text.split(","):
        name, eq, value = (s.strip() for s in part.partition("="))
        if not eq or name not in {"p", "nth", "from", "count"}:
            raise FaultSpecError(f"unknown trigger {part!r} (use p=, nth=, from=, count=)")
        try:
            if name == "p":
                trigger.p = float(value)
                if not 0.0 <= trigger.p <= 1.0:
                    raise ValueError(value)
            else:
                number = int(value)
                if number < 1:
                    raise ValueError(value)
                setattr(trigger, "from_nth" if name == "from" else name, number)
        except ValueError:
            raise FaultSpecError(
                f"bad trigger value {part!r}: p is 0..1, nth/from/count are integers >= 1"
            ) from None
    return trigger


@dataclass
class Fired:
    """What the injector decided for one request."""

    delay_s: float = 0.0
    revoke: list[str | None] = field(default_factory=list)  # None: every key
    clock_s: float | None = None
    terminal: FaultRule | None = None
    retry_after_s: float | None = None  # for a rate-limit 429


class FaultInjector:
    """The active rules, their counters and the seeded RNG behind ``p=``."""

    def __init__(self, spec: str | None = None, *, seed: int = 0) -> None:
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._next_id = 1
        self.revoke_key: Callable[[str | None], None] = lambda _key: None
        if spec:
            self.add(spec)

    @property
    def rules(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    def add(self, spec: str) -> list[FaultRule]:
        """Parse ``spec`` and append its rules; returns them with their ids."""
        new = parse_spec(spec)
        if not new:
            raise FaultSpecError("empty fault spec: give at least one rule")
        with self._lock:
            for rule in new:
                rule.id = self._next_id
                self._next_id += 1
            self._rules.extend(new)
        return new

    def clear(self, rule_id: int | None = None) -> int:
        """Remove one rule (by id) or all; returns how many were removed."""
        with self._lock:
            before = len(self._rules)
            self._rules = [r for r in self._rules if rule_id is not None and r.id != rule_id]
            return before - len(self._rules)

    def decide(self, method: str, path: str, *, now: float | None = None) -> Fired:
        """Count this request against every matching rule and say what fires."""
        fired = Fired()
        moment = time.monotonic() if now is None else now
        with self._lock:
            for rule in self._rules:
                if not rule.matches(method, path):
                    continue
                rule.matched += 1
                if rule.kind == "rate":
                    retry = self._over_rate(rule, moment)
                    if retry is None or fired.terminal is not None:
                        continue
                    fired.retry_after_s = retry
                elif not self._triggered(rule):
                    continue
                elif rule.kind in COMBINING:
                    self._combine(rule, fired)
                elif fired.terminal is not None:
                    continue
                rule.fired += 1
                if rule.kind not in COMBINING:
                    fired.terminal = rule
        return fired

    def _triggered(self, rule: FaultRule) -> bool:
        trig, seen = rule.trigger, rule.matched
        if trig.count is not None and rule.fired >= trig.count:
            return False
        if trig.nth is not None and seen != trig.nth:
            return False
        if trig.from_nth is not None and seen < trig.from_nth:
            return False
        return trig.p is None or self._rng.random() < trig.p

    def _combine(self, rule: FaultRule, fired: Fired) -> None:
        if rule.kind == "delay":
            jitter = float(rule.params.get("jitter", 0))
            fired.delay_s += (rule.number("delay") + self._rng.uniform(0, jitter)) / 1000
        elif rule.kind == "revoke":
            fired.revoke.append(rule.value or None)
        else:
            fired.clock_s = rule.number("clock")

    @staticmethod
    def _over_rate(rule: FaultRule, now: float) -> float | None:
        """A fixed window per rule; seconds until it reopens when over the limit."""
        assert rule.value is not None
        limit_text, _, window_text = rule.value.partition("/")
        limit, window = int(float(limit_text)), float(window_text)
        if not rule.window or now - rule.window[0] >= window:
            rule.window = [now, 0.0]
        rule.window[1] += 1
        if rule.window[1] <= limit:
            return None
        return max(0.0, rule.window[0] + window - now)
