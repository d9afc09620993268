"""Connectivity without PHP: a TCP/TLS handshake with the store's host stands in for API
requests while the till is idle; a request is sent only when the two disagree."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from engine.engine_support import eventually
from engine.test_connectivity import Store, probe_with
from onetill.engine.connectivity import ConnectivityMonitor, State
from onetill.engine.reach import handshake_probe

pytestmark = pytest.mark.anyio


class Host:
    """A TCP (optionally TLS) listener on 127.0.0.1 that can go away and come back on the
    same port; records how many bytes each connection sent."""

    def __init__(self, context: ssl.SSLContext | None = None) -> None:
        self.context = context
        self.port = 0
        self.server: asyncio.Server | None = None
        self.received: list[int] = []

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            data = await reader.read()
        except (OSError, ssl.SSLError):
            data = b""
        self.received.append(len(data))
        writer.close()

    async def up(self) -> None:
        self.server = await asyncio.start_server(
            self._serve, "127.0.0.1", self.port, ssl=self.context, reuse_address=True
        )
        self.port = self.server.sockets[0].getsockname()[1]

    async def down(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()
        self.server = None

    @property
    def url(self) -> str:
        scheme = "https" if self.context else "http"
        return f"{scheme}://127.0.0.1:{self.port}"


@pytest.fixture
async def host() -> AsyncIterator[Host]:
    h = Host()
    await h.up()
    yield h
    if h.server is not None:
        await h.down()


async def test_a_handshake_sends_no_request(host: Host) -> None:
    """The probe connects and leaves: the web server never sees a request, so no PHP runs."""
    probe = handshake_probe(host.url, timeout_s=2)
    await probe()
    await eventually(lambda: len(host.received) == 1)
    assert host.received == [0]
    await host.down()
    with pytest.raises(OSError):
        await probe()


async def test_tls_handshake_verifies_the_certificate(tls_cert: tuple[Path, Path]) -> None:
    """https: the handshake completes only with the same trust the API client uses, so a
    network that intercepts TLS (a captive portal) does not pass for the store."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*tls_cert)
    tls_host = Host(context)
    await tls_host.up()
    try:
        trusted = ssl.create_default_context(cafile=str(tls_cert[0]))
        await handshake_probe(tls_host.url, verify=trusted, timeout_s=2)()
        with pytest.raises(ssl.SSLCertVerificationError):
            await handshake_probe(tls_host.url, timeout_s=2)()
        await handshake_probe(tls_host.url, verify=False, timeout_s=2)()
    finally:
        await tls_host.down()


def monitor_for(host: Host, store: Store, **kw: float) -> ConnectivityMonitor:
    settings = {"probe_min_s": 0.05, "probe_max_s": 0.4, "idle_probe_s": 0.05} | kw
    return ConnectivityMonitor(
        probe_with(store), reach=handshake_probe(host.url, timeout_s=0.5), **settings
    )


async def _running(monitor: ConnectivityMonitor) -> asyncio.Task[None]:
    return asyncio.create_task(monitor.run())


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_an_idle_online_till_makes_no_api_request(host: Host) -> None:
    store = Store()
    monitor = monitor_for(host, store)
    task = await _running(monitor)
    try:
        await eventually(lambda: monitor.reaches >= 5)
        assert store.requests == [] and monitor.probes == 0 and monitor.online
    finally:
        await _stop(task)


async def test_a_failed_handshake_is_confirmed_by_one_request_then_handshakes_only(
    host: Host,
) -> None:
    """The network goes: the handshake fails while the last requests said online (they
    disagree), one request confirms it, and while offline only handshakes are made."""
    store = Store()
    monitor = monitor_for(host, store)
    task = await _running(monitor)
    try:
        await eventually(lambda: monitor.reaches >= 2)
        await host.down()
        store.mode = "down"
        went = time.monotonic()
        await eventually(lambda: monitor.state is State.OFFLINE)
        assert time.monotonic() - went < 1.0  # idle_probe_s + a refused connect + one request
        assert len(store.requests) == 1
        reaches = monitor.reaches
        await eventually(lambda: monitor.reaches >= reaches + 4)
        assert len(store.requests) == 1  # no request while the host does not answer
        store.mode = "up"
        await host.up()
        await eventually(lambda: monitor.state is State.ONLINE)
        assert len(store.requests) == 2  # one request confirmed it was back
    finally:
        await _stop(task)


async def test_handshakes_that_keep_contradicting_the_api_are_dropped(host: Host) -> None:
    """The host refuses the handshake but the API answers (a path the handshake cannot
    take): after three false alarms the monitor probes with API requests, as before."""
    store = Store()
    monitor = monitor_for(host, store, idle_api_probe_s=0.1)
    await host.down()
    task = await _running(monitor)
    try:
        await eventually(lambda: not monitor.reach_trusted)
        assert monitor.online and monitor.probes == 3
        await eventually(lambda: monitor.probes >= 6)
        assert monitor.online
    finally:
        await _stop(task)


async def test_offline_with_the_host_up_backs_off_its_confirming_requests(host: Host) -> None:
    """The handshake succeeds but the API keeps failing (PHP hangs, a timeout each time):
    requests to confirm are spaced out (doubling), handshakes are not."""
    store = Store()
    store.mode = "down"
    monitor = monitor_for(host, store, probe_max_s=0.4)
    await monitor.probe_once()
    assert monitor.state is State.OFFLINE
    store.requests.clear()
    task = await _running(monitor)
    try:
        await asyncio.sleep(1.2)
        gaps = [b - a for a, b in zip(store.requests, store.requests[1:], strict=False)]
        assert 3 <= len(store.requests) <= 8 and monitor.reaches > len(store.requests)
        assert gaps[0] < gaps[-1]
        store.mode = "up"
        await eventually(lambda: monitor.state is State.ONLINE)
    finally:
        await _stop(task)
