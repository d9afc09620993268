"""Which ``Host`` headers the engine answers: the addresses it listens on (DNS rebinding).

A web page on any site can make the browser of someone on the till's
network send requests to ``http://attacker.example:8000/`` after pointing
that name at ``127.0.0.1`` or a LAN address ("DNS rebinding"): the browser
then treats the engine's answers as the attacker's own. The ``Host`` header
still says ``attacker.example``, so the engine answers only requests
addressed to it: an IP literal it listens on (any, when bound to all
interfaces), ``localhost`` when it listens on loopback, this machine's own
name, and the names it was told (the public URL its webhooks were
registered with, ``config.extra["allowed_hosts"]``).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable

__all__ = ["HostPolicy", "host_of"]


def host_of(header: str) -> str:
    """The host part of a ``Host`` header (``[::1]:8000`` -> ``::1``), lower-cased."""
    value = header.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else ""
    if value.count(":") == 1:
        value = value.partition(":")[0]
    return value.rstrip(".")


class HostPolicy:
    """Decides whether a request's ``Host`` names this engine."""

    def __init__(self, bound: str, names: Callable[[], Iterable[str]] = tuple) -> None:
        self._names = names
        self.wildcard = bound in ("", "0.0.0.0", "::")
        self.bound_ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None
        try:
            self.bound_ip = ipaddress.ip_address(bound)
        except ValueError:
            self.bound_ip = None
        self.loopback = bound == "localhost" or bool(self.bound_ip and self.bound_ip.is_loopback)
        own = socket.gethostname().lower()
        self._own = {own, f"{own}.local"} if own else set()

    def allows(self, header: str | None) -> bool:
        host = host_of(header or "")
        if not host:
            return False
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            ip = None
        if ip is not None:
            return self.wildcard or ip == self.bound_ip or (self.loopback and ip.is_loopback)
        if host == "localhost":
            return self.loopback or self.wildcard
        return host in self._own or host in {n.lower().rstrip(".") for n in self._names()}
