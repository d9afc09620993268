"""The processes of a chaos run: the sandbox store, the engine, and the till's commands.

Every process writes to its own log file under the run directory (the
secret scan reads them all afterwards) and is stopped by whoever started it.
``SIGKILL`` is the only way the chaos kills a till process: no handler runs,
no buffer is flushed, no lock is released but by the kernel.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx2

__all__ = ["Cli", "EngineProc", "SandboxProc", "free_port"]


def free_port(host: str = "127.0.0.1") -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class _Proc:
    """A child process logging to ``log``."""

    def __init__(self, command: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.command = command
        self.log = log
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None

    def spawn(self) -> subprocess.Popen[bytes]:
        with open(self.log, "ab") as out:
            out.write(f"\n=== {time.time():.3f} start: {shown(self.command)}\n".encode())
            out.flush()
            self.proc = subprocess.Popen(
                self.command,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
            )
        return self.proc

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> bool:
        """SIGKILL; True if it was running."""
        if not self.running:
            return False
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        with open(self.log, "ab") as out:
            out.write(f"=== {time.time():.3f} SIGKILL\n".encode())
        return True

    def terminate(self, timeout: float = 20.0) -> None:
        if not self.running:
            return
        assert self.proc is not None
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


def onetill_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "onetill", *args]


class SandboxProc(_Proc):
    """``onetill sandbox`` on a fixed port, its store in a ``--state`` file."""

    def __init__(self, run_dir: Path, port: int, home_url: str, args: Sequence[str]) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        command = onetill_command(
            "sandbox",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--control",
            "--state",
            str(run_dir / "store.sqlite"),
            "--home-url",
            home_url,
            *args,
        )
        super().__init__(command, run_dir / "sandbox.log")

    def start(self, timeout: float = 60.0) -> None:
        self.spawn()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running:
                raise RuntimeError(f"the sandbox exited; see {self.log}")
            try:
                httpx2.get(self.url + "/__sandbox__/", timeout=2, trust_env=False)
                return
            except httpx2.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"the sandbox did not start in {timeout} s; see {self.log}")


class EngineProc(_Proc):
    """``onetill run`` on a fixed port (the status API), restartable after a kill."""

    def __init__(self, home: Path, port: int, args: Sequence[str], log: Path) -> None:
        self.home = home
        self.port = port
        self.url = f"http://127.0.0.1:{port}/"
        command = onetill_command("run", "--home", str(home), "--port", str(port), *args)
        super().__init__(command, log)

    def start(self, *, wait: bool = True, timeout: float = 60.0) -> None:
        self.spawn()
        if not wait:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running:
                raise RuntimeError(f"the engine exited; see {self.log}")
            if self.status() is not None:
                return
            time.sleep(0.1)
        raise RuntimeError(f"the engine did not start in {timeout} s; see {self.log}")

    def status(self) -> dict[str, Any] | None:
        try:
            response = httpx2.get(self.url + "api/status", timeout=3, trust_env=False)
        except httpx2.HTTPError:
            return None
        if response.status_code != 200:
            return None
        data: dict[str, Any] = response.json()
        return data


def shown(command: Sequence[str]) -> str:
    """The command line as logged: the value after ``--secret`` masked."""
    out = list(command)
    for i, arg in enumerate(out[:-1]):
        if arg == "--secret":
            out[i + 1] = "***"
    return " ".join(out[2:])


class Cli(_Proc):
    """One ``onetill`` command (``sell``, ``drain``, ...) against a home."""

    def __init__(self, home: Path, args: Sequence[str], log: Path) -> None:
        super().__init__(onetill_command(*args, "--home", str(home)), log)

    def run(self, timeout: float = 120.0) -> tuple[int, str]:
        """Run to the end; returns (exit code, its output)."""
        out = subprocess.run(
            self.command, capture_output=True, text=True, timeout=timeout, env=self.env
        )
        with open(self.log, "a", encoding="utf-8") as log:
            log.write(f"\n=== {time.time():.3f} {shown(self.command)} -> {out.returncode}\n")
            log.write(out.stdout + out.stderr)
        return out.returncode, out.stdout + out.stderr

    def start_captured(self) -> subprocess.Popen[str]:
        """Start with stdout captured (the sale's JSON), stderr to the log."""
        log = open(self.log, "a", encoding="utf-8")  # noqa: SIM115 - closed by finish()
        log.write(f"\n=== {time.time():.3f} {shown(self.command)}\n")
        log.flush()
        proc = subprocess.Popen(
            self.command,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env=self.env,
            start_new_session=True,
        )
        self._log_file = log
        self.proc = proc  # type: ignore[assignment]
        return proc

    def finish(self, timeout: float = 120.0) -> tuple[int, dict[str, Any] | None]:
        """Wait for a captured command; (exit code, its JSON answer if it printed one)."""
        proc: Any = self.proc
        try:
            stdout, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, _ = proc.communicate()
        with contextlib.suppress(Exception):
            self._log_file.write(f"{stdout}\n=== exit {proc.returncode}\n")
            self._log_file.close()
        answer = None
        for line in (stdout or "").splitlines():
            with contextlib.suppress(ValueError):
                data = json.loads(line)
                if isinstance(data, dict):
                    answer = data
        return proc.returncode, answer


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("ONETILL_HOME", None)
    return env
