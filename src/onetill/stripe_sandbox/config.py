"""Settings of one emulated Stripe account."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["DEFAULT_KEY", "StripeSandboxConfig"]

DEFAULT_KEY = "sk_test_onetill_sandbox_0000000000000000"


@dataclass
class StripeSandboxConfig:
    """What ``create_app`` builds.

    ``simulated_reader``: register a location and a simulated S710 with this
    label at start (the demo's reader). ``webhook_url``/``webhook_secret``:
    an endpoint registered at start receiving every event.
    """

    key: str = field(default=DEFAULT_KEY, repr=False)
    latency_ms: float = 0.0
    reader_timeout_s: float = 120.0
    present_delay_s: float = 0.0
    faults: str | None = None
    control: bool = True
    simulated_reader: str | None = None
    webhook_url: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)
