"""Online, offline or degraded: judged from what real requests did.

Every request the engine makes (sync jobs, the outbox, probes) reports its
result here. ``onetill.woo.classify`` is the one place that decides what an
outcome means; this module only maps it onto three states:

- ``online``: the store answered as WooCommerce does (success, or a proper
  JSON error about one request);
- ``offline``: no answer at all (DNS, refused, reset, timeout);
- ``degraded``: the store answers but refuses us: the keys are rejected,
  it serves HTML instead of JSON (a login page, a WAF challenge), or a storm
  of 5xx / 429 answers in a row.

While not online a cheap authenticated probe runs every ``probe_min_s``
(5 s), doubling to ``probe_max_s`` (60 s) so a dead network costs almost
nothing. The first probe after a drop comes sooner (``first_probe_s``,
0.5 s): a request whose connection died may have died alone (the till
moved to another network, a middlebox forgot it), and a fresh connection
then answers at once; while online and idle the probe runs every ``idle_probe_s`` so a
till with nothing to do still notices it went offline.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx2

__all__ = ["ConnectivityMonitor", "Judgement", "State", "judge"]

log = logging.getLogger("onetill.engine.connectivity")


class State(enum.StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"
    DEGRADED = "degraded"


@dataclass(frozen=True)
class Judgement:
    """What one request's result says about the store's reachability."""

    state: State
    reason: str
    server_error: bool = False  # a 5xx/429: one alone proves little, a storm degrades


def judge(result: object) -> Judgement | None:
    """Map a request result (a response or an exception) to a judgement.

    None when the result says nothing about the store (an exception that
    did not come from a request: a bug, a database error).
    """
    from onetill.woo import Outcome, classify
    from onetill.woo.errors import NotJSONError, TransportError, WooError

    if isinstance(result, TransportError | httpx2.TransportError):
        return Judgement(State.OFFLINE, _short(result) or "the store does not answer")
    if isinstance(result, NotJSONError) and result.status < 500 and result.status != 429:
        return Judgement(State.DEGRADED, "the store answers with HTML instead of JSON")
    # Seen by the transport, before the client decodes it: a login page, a
    # WAF challenge or a PHP fatal error is not WooCommerce answering.
    if (
        isinstance(result, httpx2.Response)
        and not _looks_json(result)
        and result.status_code < 500
        and result.status_code not in (401, 403, 429)
    ):
        return Judgement(State.DEGRADED, "the store answers with HTML instead of JSON")
    if isinstance(result, BaseException) and not isinstance(result, WooError):
        return None
    outcome = classify(result)
    if outcome is Outcome.SUCCESS or outcome is Outcome.PERMANENT:
        return Judgement(State.ONLINE, "")
    if outcome is Outcome.AUTH:
        return Judgement(
            State.DEGRADED,
            "the store rejected the API keys; create new ones and run `onetill connect`",
        )
    if outcome is Outcome.TRANSIENT:
        return Judgement(State.DEGRADED, "the store answers with server errors", server_error=True)
    return Judgement(State.OFFLINE, _short(result) or "the connection dropped mid-request")


def _looks_json(response: httpx2.Response) -> bool:
    # Headers only: at the transport the body has not been read yet, and
    # reading it here would take it from the client.
    ctype = response.headers.get("content-type", "")
    return "json" in ctype or response.headers.get("content-length") == "0"


def _short(exc: object) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


Listener = Callable[[State, State], None]


class ConnectivityMonitor:
    """Holds the current state and probes while it is not ``online``."""

    def __init__(
        self,
        probe: Callable[[], Awaitable[object]],
        *,
        probe_min_s: float = 5.0,
        probe_max_s: float = 60.0,
        idle_probe_s: float = 30.0,
        first_probe_s: float = 0.5,
        storm_threshold: int = 3,
        initial: State = State.ONLINE,
    ) -> None:
        self._probe = probe
        self.probe_min_s = probe_min_s
        self.probe_max_s = probe_max_s
        self.idle_probe_s = idle_probe_s
        self.first_probe_s = first_probe_s
        self.storm_threshold = storm_threshold
        self.state = initial
        self.reason = ""
        self.since = time.time()
        self._errors_in_row = 0
        self._last_seen = time.monotonic()
        self._listeners: list[Listener] = []
        self._changed = asyncio.Event()
        self.probes = 0

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    @property
    def online(self) -> bool:
        return self.state is State.ONLINE

    def observe(self, result: object) -> State:
        """Record the result of one real request; returns the new state."""
        verdict = judge(result)
        if verdict is None:
            return self.state
        self._last_seen = time.monotonic()
        if verdict.server_error:
            self._errors_in_row += 1
            if self._errors_in_row < self.storm_threshold and self.state is State.ONLINE:
                return self.state
        else:
            self._errors_in_row = 0
        self._set(verdict.state, verdict.reason)
        return self.state

    def _set(self, state: State, reason: str) -> None:
        old = self.state
        self.reason = reason
        if state is old:
            return
        self.state = state
        self.since = time.time()
        if state is State.ONLINE:
            log.info("store reachable again (was %s)", old)
        else:
            log.warning("store %s: %s", state, reason)
        event, self._changed = self._changed, asyncio.Event()
        event.set()
        for listener in list(self._listeners):
            try:
                listener(old, state)
            except Exception:
                log.exception("connectivity listener failed")

    async def probe_once(self) -> State:
        """Make one probe request and record its result."""
        self.probes += 1
        try:
            result = await self._probe()
        except Exception as exc:
            return self.observe(exc)
        return self.observe(result)

    async def run(self) -> None:
        """Probe forever (until cancelled), at the cadence the state calls for."""
        first = min(self.first_probe_s, self.probe_min_s)
        delay = first
        while True:
            changed = self._changed
            if self.state is State.ONLINE:
                delay = first
                idle_for = time.monotonic() - self._last_seen
                wait = max(0.0, self.idle_probe_s - idle_for)
                if wait > 0 and await _wait(changed, wait):
                    continue
                if time.monotonic() - self._last_seen < self.idle_probe_s:
                    continue  # a real request answered meanwhile: no probe needed
            else:
                if await _wait(changed, delay):
                    continue
                delay = self.probe_min_s if delay < self.probe_min_s else min(
                    delay * 2, self.probe_max_s)
            await self.probe_once()


async def _wait(event: asyncio.Event, seconds: float) -> bool:
    """Wait for ``event`` up to ``seconds``; True when it fired."""
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True
