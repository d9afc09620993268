"""Everything tunable about one engine, in a module of its own.

The engine's parts (``runtime``, ``jobs``) both need it; here, below both,
neither has to import the other for its type.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["EngineSettings"]


@dataclass
class EngineSettings:
    """Everything tunable about one engine. Tests shrink the intervals."""

    home: Path
    host: str = "127.0.0.1"
    port: int = 8000
    delta_interval_s: float = 30.0
    audit_interval_s: float = 3600.0
    probe_min_s: float = 5.0
    probe_max_s: float = 60.0
    # Silence longer than this is checked by a TCP/TLS handshake (no PHP) ...
    idle_probe_s: float = 5.0
    reach_timeout_s: float = 3.0
    # ... or, where handshakes cannot be used, by an API request this often.
    idle_api_probe_s: float = 10.0
    probe_timeout_s: float = 5.0
    # Delta and audit intervals vary by up to this fraction, so that tills
    # sharing a store do not poll in the same second.
    jitter: float = 0.1
    outbox_poll_s: float = 1.0
    grace_s: float = 10.0
    request_timeout_s: float = 30.0
    status_refresh_s: float = 1.0  # the till screen's status bar is never older than this
    drain_batch_size: int = 10
    drain_settle_s: float = 30.0  # wait before looking up an order whose fate is unknown
    # A missing order whose fate was unknown is resent only once its send is this old.
    drain_min_resend_age_s: float = 120.0
    # How often the store's recent till-created orders are scanned for a sale held twice.
    duplicate_scan_interval_s: float = 300.0
