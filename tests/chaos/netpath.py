"""Network path changes: every open connection goes silent at once, new ones work.

The honest way (Linux, root): the whole chaos run lives in its own network
namespace (``enter_private_network``), and a path change is what a phone
moving from Wi-Fi to cellular does to its connections: the till gets a new
source address (127.0.0.2, .3, ...) for new connections, and every packet
of a connection from an old address to the proxy, in either direction, is
dropped by a ``blackhole`` policy rule. No RST, no FIN, the till's bytes
are never ACKed: its kernel retransmits into the void, exactly as on a dead
Wi-Fi. Variant ``return_first``: the answers die a moment before the
requests do (a request can still reach the store while its answer is lost).

The fallback (no namespace): the proxy stops reading and writing on every
open connection (``FaultProxy.freeze``). Its kernel still ACKs what the
till sends, so the till can only notice through its own timeouts; the
report says which emulation ran.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import time

__all__ = ["PathChanger", "enter_private_network"]

CLONE_NEWNET = 0x40000000


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=10)


def enter_private_network() -> str | None:
    """Move this process (and its future children) into a new network namespace.

    Returns None on success, else why not (not root, no ``ip``, no unshare).
    Call before starting threads or servers.
    """
    if os.environ.get("ONETILL_CHAOS_NO_NETNS"):
        return "disabled by ONETILL_CHAOS_NO_NETNS"
    if os.geteuid() != 0:
        return "not root"
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.unshare(CLONE_NEWNET) != 0:
            return f"unshare(CLONE_NEWNET) failed: {os.strerror(ctypes.get_errno())}"
        _ip("link", "set", "lo", "up")
        # Our blackhole rules must be consulted before the local table.
        _ip("rule", "add", "pref", "100", "lookup", "local")
        _ip("rule", "del", "pref", "0")
    except (OSError, subprocess.SubprocessError) as exc:
        return f"cannot set up a network namespace: {exc}"
    return None


class PathChanger:
    """Changes the till's network path to ``port`` on 127.0.0.1 (inside the namespace)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.changes = 0
        self.current = "127.0.0.1"
        self._pref = 10
        self._rules: dict[str, list[int]] = {}

    def _address(self) -> str:
        n = self.changes + 2
        return f"127.0.{n // 250}.{n % 250 + 1}" if n >= 250 else f"127.0.0.{n}"

    def change(self, *, return_first_s: float = 0.0) -> str:
        """The path dies; new connections leave from a new address. Returns the new address."""
        old = self.current
        self.changes += 1
        new = self._address()
        # New connections to 127.0.0.1 now leave from `new`.
        _ip("route", "replace", "local", "127.0.0.1", "dev", "lo", "src", new, "table", "local")
        answers = ["from", "127.0.0.1", "to", old, "ipproto", "tcp", "sport", str(self.port)]
        requests = ["from", old, "to", "127.0.0.1", "ipproto", "tcp", "dport", str(self.port)]
        _ip("rule", "add", "pref", str(self._pref), *answers, "blackhole")
        if return_first_s > 0:
            time.sleep(return_first_s)
        _ip("rule", "add", "pref", str(self._pref + 1), *requests, "blackhole")
        self._rules[old] = [self._pref, self._pref + 1]
        self._pref += 2
        self.current = new
        return new

    def revive(self, address: str) -> bool:
        """The old path works again (the Wi-Fi is back): connections from ``address``
        that are still open deliver whatever they retransmit. False if it was not dead."""
        prefs = self._rules.pop(address, None)
        if not prefs:
            return False
        for pref in prefs:
            subprocess.run(
                ["ip", "rule", "del", "pref", str(pref)], capture_output=True, timeout=10
            )
        return True

    @property
    def dead_addresses(self) -> list[str]:
        return list(self._rules)
