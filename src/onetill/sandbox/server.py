"""The sandbox store as a real HTTP server (uvicorn), in a thread or a process.

``running_sandbox(config)`` serves it from a background thread for the
duration of a ``with`` block; ``SandboxProcess`` runs ``python -m onetill
sandbox`` as a separate process that end-to-end tests can stop and start
again on the same port with the same ``--state`` file.

The socket is bound before the app is built: OAuth base strings use the
site's ``home_url``, so the store must know its real URL (port 0 picks a
free port). The server runs a small uvicorn protocol subclass that puts the
connection's transport in the ASGI scope, which the fault injector needs
to reset or drop a connection for real.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from onetill.sandbox._asgi import TRANSPORT_KEY, ASGIApp, Receive, Scope, Send
from onetill.sandbox.config import SandboxConfig
from onetill.sandbox.control import SandboxControl

__all__ = [
    "RunningSandbox",
    "SandboxProcess",
    "bind_socket",
    "running_sandbox",
    "server_config",
    "serving",
    "url_for",
]

_START_TIMEOUT_S = 60.0


class _TransportExposingProtocol(H11Protocol):
    """uvicorn's h11 protocol, plus the transport in ``scope["extensions"]``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        inner: ASGIApp = self.app

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            extensions = scope.setdefault("extensions", {})
            extensions[TRANSPORT_KEY] = self.transport
            await inner(scope, receive, send)

        self.app = app


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening socket; ``SO_REUSEADDR`` so a restart can take the same port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(
            exc.errno, f"cannot listen on {host}:{port} ({exc.strerror}); pick another --port"
        ) from None
    # Listen at once: a client that connects while the store is still loading
    # waits in the backlog instead of being refused.
    sock.listen(2048)
    return sock


def url_for(sock: socket.socket, *, https: bool) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"{'https' if https else 'http'}://{shown}:{port}"


def server_config(
    app: ASGIApp, *, ssl_certfile: str | None = None, ssl_keyfile: str | None = None
) -> uvicorn.Config:
    """uvicorn settings for the sandbox: quiet, h11 with the transport exposed."""
    return uvicorn.Config(
        app,
        http=_TransportExposingProtocol,
        ws="none",
        lifespan="on",
        log_level="warning",
        access_log=False,
        # The store writes its own Date header (from its possibly skewed clock).
        date_header=False,
        server_header=False,
        # Only a client on this machine may claim another address (tests use it
        # to show that the control API refuses non-loopback clients).
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
        timeout_graceful_shutdown=2,
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
    )


@dataclass
class RunningSandbox:
    """A sandbox being served: where it is, how to get in, and its state."""

    url: str
    key: str
    secret: str
    store: Any  # SandboxStore
    app: Any  # the Starlette app
    control: SandboxControl
    config: SandboxConfig

    def __repr__(self) -> str:
        return f"RunningSandbox(url={self.url!r}, key={self.key!r})"


@contextlib.contextmanager
def running_sandbox(
    config: SandboxConfig,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    ssl_certfile: str | Path | None = None,
    ssl_keyfile: str | Path | None = None,
) -> Iterator[RunningSandbox]:
    """Serve ``config``'s store on ``host:port`` from a thread; stopped on exit.

    Sets ``config.home_url`` to the bound URL (``https`` with a certificate).
    """
    from onetill.sandbox import create_app

    https = ssl_certfile is not None
    sock = bind_socket(host, port)
    with contextlib.closing(sock):
        config.home_url = url_for(sock, https=https)
        app = create_app(config)
        with serving(app, sock, ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile):
            verify: Any = True
            if https:
                verify = ssl.create_default_context(cafile=str(ssl_certfile))
            key, secret = next(iter(config.keys.items()))
            yield RunningSandbox(
                url=config.home_url,
                key=key,
                secret=secret,
                store=app.state.sandbox,
                app=app,
                control=SandboxControl(config.home_url, verify=verify),
                config=config,
            )


@contextlib.contextmanager
def serving(
    app: ASGIApp,
    sock: socket.socket,
    *,
    ssl_certfile: str | Path | None = None,
    ssl_keyfile: str | Path | None = None,
) -> Iterator[uvicorn.Server]:
    """Serve any ASGI ``app`` on a bound socket from a thread, until the block ends."""
    server = uvicorn.Server(
        server_config(
            app,
            ssl_certfile=None if ssl_certfile is None else str(ssl_certfile),
            ssl_keyfile=None if ssl_keyfile is None else str(ssl_keyfile),
        )
    )
    failure: list[BaseException] = []

    def serve() -> None:
        try:
            asyncio.run(server.serve(sockets=[sock]))
        except BaseException as exc:  # reported by _wait_started
            failure.append(exc)

    thread = threading.Thread(target=serve, name="onetill-sandbox", daemon=True)
    thread.start()
    try:
        _wait_started(server, thread, failure)
        yield server
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout=5)


def _wait_started(
    server: uvicorn.Server, thread: threading.Thread, failure: list[BaseException]
) -> None:
    pause = threading.Event()
    waited = 0.0
    while not server.started:
        if not thread.is_alive() or waited > _START_TIMEOUT_S:
            server.should_exit = True
            raise RuntimeError(f"the sandbox server did not start: {failure[:1] or 'timeout'}")
        pause.wait(0.01)
        waited += 0.01


_URL_LINE = re.compile(r"^OneTill sandbox store: (\S+)$", re.MULTILINE)
_READY = "Press Ctrl-C to stop."  # the banner's last line (cli/sandbox.py)


class SandboxProcess:
    """``python -m onetill sandbox ARGS`` as a separate process.

    ``start()`` waits for the printed URL (the port is known only then when
    ``--port 0``); ``stop()`` sends SIGTERM and waits. Use ``port=`` of a
    previous run to come back on the same address. The control API, off by
    default on the command line, is turned on here (``control=False`` keeps
    it off): this class exists for tests, benchmarks and the demo.
    """

    def __init__(
        self,
        args: Sequence[str] = (),
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        control: bool = True,
    ):
        self.args = list(args)
        if control and "--no-control" not in self.args and "--control" not in self.args:
            self.args.append("--control")
        self.host = host
        self.port = port
        self.url: str | None = None
        self._proc: subprocess.Popen[str] | None = None
        self._lines: list[str] = []
        self._reader: threading.Thread | None = None

    def start(self, timeout: float = _START_TIMEOUT_S) -> str:
        if self._proc is not None:
            raise RuntimeError("this sandbox process is already running; stop() it first")
        command = [sys.executable, "-m", "onetill", "sandbox", "--host", self.host]
        command += ["--port", str(self.port), *self.args]
        proc = self._proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
        )
        self._lines = []
        found = threading.Event()

        def read() -> None:
            # Keep draining, so a chatty child never blocks on a full pipe.
            assert proc.stdout is not None
            with contextlib.suppress(ValueError, OSError):
                for line in proc.stdout:
                    self._lines.append(line)
                    if line.startswith(_READY):
                        found.set()
            found.set()

        self._reader = threading.Thread(target=read, name="onetill-sandbox-output", daemon=True)
        self._reader.start()
        found.wait(timeout)
        match = _URL_LINE.search(self.output)
        if match is None:
            output = self.output
            self.stop()
            raise RuntimeError(f"the sandbox process did not start:\n{output[-2000:]}")
        self.url = match.group(1)
        self.port = int(self.url.rsplit(":", 1)[1])
        return self.url

    @property
    def output(self) -> str:
        """Everything the process printed so far."""
        return "".join(self._lines)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def stop(self, timeout: float = 15.0) -> int | None:
        """Terminate (SIGTERM, then SIGKILL after ``timeout``); returns the exit code."""
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout)
        if self._reader is not None:
            self._reader.join(timeout)
        if proc.stdout is not None:
            proc.stdout.close()
        return proc.returncode

    def kill(self) -> None:
        """SIGKILL: the store dies mid-flight, as in a host crash."""
        if self._proc is not None:
            self._proc.kill()
        self.stop()

    def __enter__(self) -> SandboxProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
