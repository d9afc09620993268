"""How a sandbox store is set up: keys, catalog, timezone, cost model, faults."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["DEFAULT_KEY", "DEFAULT_SECRET", "SandboxConfig"]

# A well-known pair for tests and the demo; never valid on a real store.
DEFAULT_KEY = "ck_sandbox0000000000000000000000000000000000"
DEFAULT_SECRET = "cs_sandbox0000000000000000000000000000000000"


@dataclass
class SandboxConfig:
    """Everything that shapes one sandbox store.

    ``home_url`` is the site's WordPress home URL: OAuth base strings are
    built from it (not from the ``Host`` header) and ``https`` (``is_ssl()``)
    follows its scheme. A real server replaces it with the URL it bound.
    """

    keys: dict[str, str] = field(default_factory=lambda: {DEFAULT_KEY: DEFAULT_SECRET})
    read_only_keys: dict[str, str] = field(default_factory=dict)
    home_url: str = "http://sandbox.test"
    timezone: str = "America/New_York"
    store_dir: Path | None = None  # a recorded store (layout of tests/fixtures/store/)
    products: int = 0  # generate this many simple products ...
    variable: int = 0  # ... and this many variable ones (2-6 variations each)
    seed: int = 0
    state_file: Path | None = None  # SQLite file: the store survives its own restart
    workers: int | None = None  # concurrent requests served; others queue (None: unbounded)
    latency_ms: float = 0.0  # cost of every request ...
    per_item_ms: float = 0.0  # ... plus this per item returned or written
    faults: str | None = None  # --faults SPEC (see sandbox/faults.py)
    # Serve /__sandbox__/ (loopback clients only). On for the Python API, which
    # only tests and benchmarks use; `onetill sandbox` serves it only with --control.
    control: bool = True
    webhook_delay_s: float = 1.0  # Action Scheduler delay before a delivery
    # WordPress refuses delivery (and ping) URLs on loopback/private addresses
    # except ports 80, 443 and 8080. Off by default so tests can use a port-0
    # receiver on 127.0.0.1; turn it on to see what a real store would do.
    webhook_safe_urls: bool = False
    wc_version: str = "11.0.1"  # below 9.6: /products ignores include_status
    # A sale's stock change saves the product (its date_modified bumps), as on
    # WooCommerce 11; False behaves like the versions with bug #40060.
    stock_bumps_modified: bool = True
    global_variations: bool = True  # GET /wc/v3/variations exists (10.3+)
    clock_offset_s: float = 0.0  # a wrong server clock, as seen in Date and dates
    # The site language: WooCommerce translates its error messages (codes stay
    # English). "de_DE" answers the authentication errors in German.
    locale: str = "en_US"
    # The companion plugin (wc-onetill/v1, docs/companion-api.md) is installed and active.
    plugin: bool = False

    @property
    def https(self) -> bool:
        return self.home_url.startswith("https://")
