"""The emulator as a real HTTP server: in a thread (``running_stripe_sandbox``) or a
process (``StripeSandboxProcess``, i.e. ``python -m onetill stripe-sandbox``).

The official ``stripe`` library speaks plain HTTP through ``requests``, so
tests point it at a real socket. A small uvicorn protocol subclass puts
the connection's transport in the scope: the ``reset`` faults abort the
real connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx2
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from . import StripeSandbox, StripeSandboxConfig, create_app
from .api import TRANSPORT_KEY

__all__ = [
    "RunningStripeSandbox",
    "StripeSandboxControl",
    "StripeSandboxProcess",
    "bind",
    "running_stripe_sandbox",
    "uvicorn_config",
]

_START_TIMEOUT_S = 60.0


class _Protocol(H11Protocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        inner = self.app

        async def app(scope: Any, receive: Any, send: Any) -> None:
            scope.setdefault("extensions", {})[TRANSPORT_KEY] = self.transport
            await inner(scope, receive, send)

        self.app = app


def bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"cannot listen on {host}:{port} ({exc.strerror})") from None
    sock.listen(512)
    return sock


def uvicorn_config(app: Any) -> uvicorn.Config:
    return uvicorn.Config(
        app, http=_Protocol, ws="none", lifespan="on", log_level="warning", access_log=False,
        server_header=False, timeout_graceful_shutdown=2,
    )  # fmt: skip


class StripeSandboxControl:
    """A client of the control API (``/__stripe__/``)."""

    def __init__(self, base_url: str) -> None:
        self.base = base_url.rstrip("/") + "/__stripe__"

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        r = httpx2.request(method, self.base + path, json=body, timeout=10.0)
        if r.status_code >= 400:
            raise RuntimeError(f"stripe sandbox control {method} {path}: {r.status_code} {r.text}")
        return r.json()

    def stats(self) -> dict[str, Any]:
        return dict(self._call("GET", "/stats"))

    def reset_stats(self) -> None:
        self._call("POST", "/stats/reset")

    def add_faults(self, spec: str) -> Any:
        return self._call("POST", "/faults", {"spec": spec})

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def configure(self, **values: float) -> Any:
        return self._call("POST", "/config", values)

    def set_reader_status(self, reader: str, status: str) -> Any:
        return self._call("POST", f"/readers/{reader}", {"status": status})

    def tap(self, reader: str, number: str = "4242424242424242") -> Any:
        return self._call("POST", f"/readers/{reader}/tap", {"number": number})

    def setup_reader(self, label: str = "OneTill S710") -> dict[str, Any]:
        return dict(self._call("POST", "/setup", {"label": label}))

    def list(self, what: str) -> list[dict[str, Any]]:
        return list(self._call("GET", f"/{what}"))


@dataclass
class RunningStripeSandbox:
    url: str
    key: str
    app: StripeSandbox
    control: StripeSandboxControl

    @property
    def reader_id(self) -> str | None:
        return None if self.app.reader is None else str(self.app.reader["id"])

    def __repr__(self) -> str:
        return f"RunningStripeSandbox(url={self.url!r})"


@contextlib.contextmanager
def running_stripe_sandbox(
    config: StripeSandboxConfig | None = None, *, host: str = "127.0.0.1", port: int = 0
) -> Iterator[RunningStripeSandbox]:
    """Serve an emulated account from a thread for the ``with`` block, then stop it."""
    config = config or StripeSandboxConfig(simulated_reader="OneTill S710")
    app = create_app(config)
    sock = bind(host, port)
    url = f"http://{host}:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn_config(app))
    failure: list[BaseException] = []

    def serve() -> None:
        try:
            asyncio.run(server.serve(sockets=[sock]))
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=serve, name="stripe-sandbox", daemon=True)
    thread.start()
    try:
        waited = threading.Event()
        for _ in range(int(_START_TIMEOUT_S * 100)):
            if server.started or not thread.is_alive():
                break
            waited.wait(0.01)
        if not server.started:
            raise RuntimeError(f"the Stripe sandbox did not start: {failure[:1]}")
        yield RunningStripeSandbox(url, config.key, app, StripeSandboxControl(url))
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout=5)
        sock.close()


_URL = re.compile(r"^OneTill Stripe sandbox: (\S+)$", re.MULTILINE)
_READER = re.compile(r"^  simulated reader:\s+(tmr_\w+)", re.MULTILINE)
READY_LINE = "Press Ctrl-C to stop."


class StripeSandboxProcess:
    """``python -m onetill stripe-sandbox ARGS`` as a child process."""

    def __init__(self, args: Sequence[str] = (), *, host: str = "127.0.0.1", port: int = 0):
        self.args = list(args)
        self.host = host
        self.port = port
        self.url: str | None = None
        self.reader_id: str | None = None
        self._proc: subprocess.Popen[str] | None = None
        self._lines: list[str] = []

    def start(self, timeout: float = _START_TIMEOUT_S) -> str:
        command = [sys.executable, "-m", "onetill", "stripe-sandbox", "--host", self.host,
                   "--port", str(self.port), *self.args]  # fmt: skip
        proc = self._proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
        )
        ready = threading.Event()

        def read() -> None:
            assert proc.stdout is not None
            with contextlib.suppress(ValueError, OSError):
                for line in proc.stdout:
                    self._lines.append(line)
                    if line.startswith(READY_LINE):
                        ready.set()
            ready.set()

        threading.Thread(target=read, name="stripe-sandbox-output", daemon=True).start()
        ready.wait(timeout)
        text = "".join(self._lines)
        found = _URL.search(text)
        if found is None:
            self.stop()
            raise RuntimeError(f"the Stripe sandbox process did not start:\n{text[-2000:]}")
        self.url = found.group(1)
        self.port = int(self.url.rsplit(":", 1)[1])
        reader = _READER.search(text)
        self.reader_id = reader.group(1) if reader else None
        return self.url

    @property
    def control(self) -> StripeSandboxControl:
        assert self.url is not None
        return StripeSandboxControl(self.url)

    def stop(self, timeout: float = 10.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout)
        if proc.stdout is not None:
            proc.stdout.close()

    def __enter__(self) -> StripeSandboxProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
