"""Where the real WooCommerce kit is, and how to bring a store up from it.

The kit (``../shared/realstore``, or ``$ONETILL_REALSTORE``) builds WordPress
7.0.4 + WooCommerce 11.0.1 on loopback. Tests marked ``real`` use it; without
the kit (or without root, which its scripts need) they are skipped with one
line saying why. Several checkouts can each run a store side by side:
``ONETILL_REALSTORE_PREFIX`` and ``ONETILL_REALSTORE_HTTP_PORT`` /
``ONETILL_REALSTORE_HTTPS_PORT`` choose where it lives and listens (the
ports only count when the store is first built under that prefix).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def kit_dir() -> Path:
    env = os.environ.get("ONETILL_REALSTORE")
    return Path(env).resolve() if env else (ROOT.parent / "shared" / "realstore").resolve()


def prefix_dir() -> Path:
    env = os.environ.get("ONETILL_REALSTORE_PREFIX")
    return Path(env).resolve() if env else ROOT / ".cache" / "realstore"


def skip_reason() -> str | None:
    """Why the real-store tests cannot run here, or None when they can."""
    kit = kit_dir()
    if not (kit / "up.sh").is_file():
        return f"no real WooCommerce kit at {kit} (set ONETILL_REALSTORE)"
    if os.geteuid() != 0:
        return "the real WooCommerce kit needs root (it runs mariadbd, php-fpm and nginx)"
    return None


@dataclass(frozen=True)
class RealStore:
    """One running store: its URLs, key pairs and the scripts around it."""

    env: dict[str, str]

    def __repr__(self) -> str:
        # Failure reports print fixtures: never the key pairs.
        return f"RealStore(url={self.url!r}, prefix={str(self.prefix)!r})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        # Hypothesis prints dataclasses field by field unless told otherwise.
        printer.text(repr(self))

    @property
    def url(self) -> str:
        return self.env["WOO_URL"]

    @property
    def url_https(self) -> str:
        return self.env["WOO_URL_HTTPS"]

    @property
    def ca_cert(self) -> str:
        return self.env["WOO_CA_CERT"]

    @property
    def key(self) -> str:
        return self.env["WOO_CK"]

    @property
    def secret(self) -> str:
        return self.env["WOO_CS"]

    @property
    def ro_key(self) -> str:
        return self.env["WOO_CK_RO"]

    @property
    def ro_secret(self) -> str:
        return self.env["WOO_CS_RO"]

    @property
    def prefix(self) -> Path:
        return Path(self.env["REALSTORE_PREFIX"])

    @property
    def access_log(self) -> Path:
        return self.prefix / "log" / "nginx-access.log"

    def reset(self) -> None:
        """Restore the clean recorded catalog (no orders, no webhooks); about 0.5 s."""
        subprocess.run([self.env["REAL_RESET"]], check=True, stdout=subprocess.DEVNULL)


def read_env_file(path: Path) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, value = line.removeprefix("export ").partition("=")
        env[name] = value.strip("'\"")
    return env


def bring_up() -> RealStore:
    """Build (first time, about a minute) or start the store; idempotent."""
    run_env = dict(os.environ)
    if port := os.environ.get("ONETILL_REALSTORE_HTTP_PORT"):
        run_env["HTTP_PORT"] = port
    if port := os.environ.get("ONETILL_REALSTORE_HTTPS_PORT"):
        run_env["HTTPS_PORT"] = port
    prefix = prefix_dir()
    prefix.parent.mkdir(parents=True, exist_ok=True)
    out = subprocess.run(
        [str(kit_dir() / "up.sh"), str(prefix)],
        check=True,
        stdout=subprocess.PIPE,
        env=run_env,
        text=True,
    ).stdout
    return RealStore(read_env_file(Path(out.strip().splitlines()[-1])))


def bring_down() -> None:
    subprocess.run([str(kit_dir() / "down.sh"), str(prefix_dir())], check=True)
