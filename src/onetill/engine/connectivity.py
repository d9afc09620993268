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

Probes fill the silence, and cost the store no PHP when they can:

- ``reach`` (``engine.reach.handshake_probe``: a TCP/TLS handshake with the
  store's host) runs when no request has answered for ``idle_probe_s``
  (online), and every ``probe_min_s`` while offline. It never boots
  WordPress, so an idle till costs the store nothing between polls.
- ``probe`` (an authenticated API request) runs only when the two disagree:
  the handshake fails while the last requests said online (offline is then
  confirmed by a request, which does not reach PHP when the network is really
  down), or the handshake succeeds while the requests said offline (back
  online is confirmed by a request, at most every ``probe_min_s`` doubling
  to ``probe_max_s`` while the requests keep failing). While ``degraded``
  (the store answers but refuses us) only a request can tell, so ``probe``
  runs on that backoff, as it does when there is no ``reach``.
- A handshake that fails ``distrust_after`` times in a row while the request
  sent to check it succeeds is no use on this network: the monitor stops
  using it and probes with requests every ``idle_api_probe_s``.
- The first look after a drop comes sooner (``first_probe_s``, 0.5 s): a
  request whose connection died may have died alone (the till moved to
  another network, a middlebox forgot it), and a fresh connection then
  answers at once.
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
    if _clock_refused(result):
        # The till's clock, not the keys: the client re-signs with the store's
        # time at once. Saying "keys rejected" here would send the merchant
        # to make new keys for nothing.
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


def _clock_refused(result: object) -> bool:
    """A 401/403 to a request signed more than WooCommerce's 15 minutes off its clock."""
    from onetill.woo.auth import oauth_clock_error
    from onetill.woo.errors import AuthError, outside_oauth_window

    if isinstance(result, AuthError):
        return result.clock_explains
    if not isinstance(result, httpx2.Response) or result.status_code not in (401, 403):
        return False
    return outside_oauth_window(oauth_clock_error(result))


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
    """Holds the current state; probes when the till's own traffic is silent."""

    def __init__(
        self,
        probe: Callable[[], Awaitable[object]],
        *,
        reach: Callable[[], Awaitable[None]] | None = None,
        probe_min_s: float = 5.0,
        probe_max_s: float = 60.0,
        idle_probe_s: float = 30.0,
        idle_api_probe_s: float | None = None,
        first_probe_s: float = 0.5,
        storm_threshold: int = 3,
        distrust_after: int = 3,
        initial: State = State.ONLINE,
    ) -> None:
        self._probe = probe
        self._reach = reach
        self.probe_min_s = probe_min_s
        self.probe_max_s = probe_max_s
        self.idle_probe_s = idle_probe_s
        self.idle_api_probe_s = idle_api_probe_s if idle_api_probe_s is not None else idle_probe_s
        self.first_probe_s = first_probe_s
        self.storm_threshold = storm_threshold
        self.distrust_after = distrust_after
        self.state = initial
        self.reason = ""
        self.since = time.time()
        self._errors_in_row = 0
        self._false_alarms = 0
        self._last_seen = time.monotonic()
        self._listeners: list[Listener] = []
        self._changed = asyncio.Event()
        self.probes = 0  # API requests made only to learn the state
        self.reaches = 0  # handshakes

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    @property
    def online(self) -> bool:
        return self.state is State.ONLINE

    @property
    def reach_trusted(self) -> bool:
        """True while handshakes stand in for requests."""
        return self._reach is not None

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

    async def reach_once(self) -> bool:
        """One handshake with the store's host; True when it answered. Records nothing
        but the time: only requests decide the state."""
        if self._reach is None:
            return False
        self.reaches += 1
        try:
            await self._reach()
        except (OSError, TimeoutError) as exc:
            log.debug("handshake with the store failed: %s", _short(exc))
            return False
        self._last_seen = time.monotonic()
        return True

    async def _check_silence(self) -> None:
        """Online and idle: a handshake; a request only when the handshake disagrees."""
        if await self.reach_once():
            self._false_alarms = 0
            return
        if await self.probe_once() is not State.ONLINE:
            return  # confirmed (no PHP ran: the request found no store either)
        self._false_alarms += 1
        if self._false_alarms >= self.distrust_after:
            log.warning(
                "handshakes with the store's host fail while its API answers: probing with "
                "API requests every %.0f s instead", self.idle_api_probe_s,
            )  # fmt: skip
            self._reach = None

    async def run(self) -> None:
        """Probe forever (until cancelled), at the cadence the state calls for."""
        first = min(self.first_probe_s, self.probe_min_s)
        delay = self.probe_min_s  # the request backoff while not online
        next_request = 0.0  # monotonic: no confirming request before this
        quick = True  # the first look after a drop comes after `first`
        while True:
            changed = self._changed
            if self.state is State.ONLINE:
                delay, next_request, quick = self.probe_min_s, 0.0, True
                idle = self.idle_probe_s if self._reach is not None else self.idle_api_probe_s
                wait = max(0.0, idle - (time.monotonic() - self._last_seen))
                if wait > 0 and await _wait(changed, wait):
                    continue
                if time.monotonic() - self._last_seen < idle:
                    continue  # a real request answered meanwhile: no probe needed
                if self._reach is not None:
                    await self._check_silence()
                else:
                    await self.probe_once()
                continue
            if self.state is State.OFFLINE and self._reach is not None:
                if await _wait(changed, first if quick else self.probe_min_s):
                    continue
                quick = False
                if not await self.reach_once() or time.monotonic() < next_request:
                    continue  # still unreachable, or confirmed too recently
            else:
                was_quick, quick = quick, False
                if await _wait(changed, first if was_quick else delay):
                    continue
                if was_quick:  # the quick look, then the usual backoff from probe_min_s
                    if await self.probe_once() is not State.ONLINE:
                        next_request = time.monotonic() + delay
                    continue
            if await self.probe_once() is not State.ONLINE:
                delay = min(delay * 2, self.probe_max_s)
                next_request = time.monotonic() + delay


async def _wait(event: asyncio.Event, seconds: float) -> bool:
    """Wait for ``event`` up to ``seconds``; True when it fired."""
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True
