"""Where a till keeps its configuration and secrets.

The home directory is ``--home``, else ``$ONETILL_HOME``, else ``~/.onetill``.
Only ``onetill connect`` (and ``demo``) create it, with mode 0700; every
other command needs a connected home (``connected_home``), so a typo in
``--home`` is an error, not an empty till. Its files (config, secrets,
database with ``-wal``/``-shm``, ``engine.json``) are created 0600; a home
that others can read is reported (``home_warning``).
``config.json`` holds everything but secrets. The consumer secret (and the
webhook secret) go to the OS keyring when one works, else to ``secrets.json``
with mode 0600. Secrets never appear in ``repr`` or error messages.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets as _secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "STRIPE_FILENAME",
    "UI_TOKEN_FILENAME",
    "Config",
    "HomeError",
    "NotConnectedError",
    "StripeConfig",
    "connected_home",
    "home_dir",
    "home_warning",
    "load_config",
    "load_stripe",
    "read_ui_token",
    "save_config",
    "save_stripe",
    "stripe_configured",
    "ui_token",
]

_KEYRING_SERVICE = "onetill"
# The till screen's access token for devices on the LAN (``onetill run --host``).
UI_TOKEN_FILENAME = "ui-token"
_TOKEN_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: typed from a screen


class NotConnectedError(Exception):
    """The home directory has no saved connection yet."""


class HomeError(Exception):
    """The home directory cannot be created or used (a file in the way, no permission)."""


def _home_path(explicit: str | os.PathLike[str] | None) -> Path:
    raw = explicit or os.environ.get("ONETILL_HOME") or Path.home() / ".onetill"
    return Path(raw).expanduser()


def home_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The till's home directory, created with mode 0700 if missing (for ``connect``).

    Raises ``HomeError`` when it cannot be created."""
    path = _home_path(explicit)
    try:
        if not path.is_dir():
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(path, 0o700)  # whatever the umask
    except (OSError, ValueError) as exc:
        raise HomeError(f"cannot use {path} as the till's home: {exc}") from None
    return path


def connected_home(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The home of a connected till; never creates one.

    Raises ``NotConnectedError`` ("not connected here") when ``explicit``
    (or ``$ONETILL_HOME``, or ``~/.onetill``) holds no connection: a
    mistyped ``--home`` must not silently become an empty till.
    """
    path = _home_path(explicit)
    try:
        found = (path / "config.json").is_file()
        what = "does not exist" if not path.exists() else "holds no OneTill connection"
    except (OSError, ValueError) as exc:  # a NUL in the name, a path too long ...
        found, what = False, f"cannot be used ({exc})"
    if not found:
        raise NotConnectedError(
            f"not connected here: {path} {what}; check --home (or ONETILL_HOME), or connect "
            f"this home with `onetill connect URL --key CK --secret CS --home {path}`"
        )
    return path


def home_warning(home: Path) -> str | None:
    """A warning when users other than the owner can read or enter the home."""
    try:
        mode = home.stat().st_mode & 0o777
    except OSError:
        return None
    if not mode & 0o077:
        return None
    return (
        f"{home} can be read by other users (mode {mode:o}): it holds the store's keys and "
        f"every sale; run `chmod 700 {home}`"
    )


@dataclass
class Config:
    """A saved connection to one WooCommerce store.

    ``secret`` and ``webhook_secret`` are excluded from ``repr`` so that a
    logged or printed config never leaks them.
    """

    url: str
    key: str
    secret: str = field(repr=False)
    read_only: bool = False
    ca_file: str | None = None
    insecure: bool = False
    auth_in_query: bool = False
    till_id: str = field(default_factory=lambda: "till-" + _secrets.token_hex(4))
    timezone: str = "UTC"
    gmt_offset: float = 0.0
    plugin: bool = False
    global_variations: bool = True
    wc_version: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)
    extra: dict[str, Any] = field(default_factory=dict)

    def public_dict(self) -> dict[str, Any]:
        """Everything but the secrets: safe to write to config.json or print."""
        data = asdict(self)
        data.pop("secret")
        data.pop("webhook_secret")
        return data


def _keyring() -> Any | None:
    """The keyring module when a real backend works here, else None."""
    try:
        import keyring
        from keyring.backends import fail
    except ImportError:
        return None
    try:
        backend = keyring.get_keyring()
    except Exception:
        return None
    if isinstance(backend, fail.Keyring) or "fail" in type(backend).__module__:
        return None
    return keyring


def _secret_file(home: Path) -> Path:
    return home / "secrets.json"


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by the owner only, atomically."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _store_secrets(home: Path, key: str, values: dict[str, str | None]) -> str:
    kr = _keyring()
    if kr is not None:
        try:
            for name, value in values.items():
                if value is not None:
                    account = f"{home}:{key}:{name}"
                    kr.set_password(_KEYRING_SERVICE, account, value)
                    # A no-op backend ("null" keyring) accepts and forgets:
                    # only a secret that reads back counts as stored.
                    if kr.get_password(_KEYRING_SERVICE, account) != value:
                        raise RuntimeError("keyring did not keep the secret")
            return "keyring"
        except Exception:  # a keyring that exists but refuses: fall back to the file
            pass
    clean = {k: v for k, v in values.items() if v is not None}
    _write_private(_secret_file(home), json.dumps(clean))
    return "file"


def _load_secrets(home: Path, key: str, where: str) -> dict[str, str]:
    if where == "keyring":
        kr = _keyring()
        if kr is None:
            raise NotConnectedError(
                f"the secret for {home} is in an OS keyring that is not available now; "
                "run `onetill connect` again"
            )
        out: dict[str, str] = {}
        for name in ("secret", "webhook_secret"):
            value = kr.get_password(_KEYRING_SERVICE, f"{home}:{key}:{name}")
            if value is not None:
                out[name] = value
        return out
    path = _secret_file(home)
    if not path.exists():
        return {}
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        with contextlib.suppress(OSError):
            os.chmod(path, 0o600)
    data = json.loads(path.read_text(encoding="utf-8"))
    return {k: str(v) for k, v in data.items()}


def save_config(home: Path, config: Config) -> str:
    """Save ``config`` under ``home``; returns where the secret went ('keyring'|'file')."""
    where = _store_secrets(
        home, config.key, {"secret": config.secret, "webhook_secret": config.webhook_secret}
    )
    data = config.public_dict()
    data["secret_store"] = where
    _write_private(home / "config.json", json.dumps(data, indent=2, sort_keys=True))
    return where


def load_config(home: Path) -> Config:
    """Load the saved connection; raises NotConnectedError with what to do."""
    path = home / "config.json"
    if not path.exists():
        raise NotConnectedError(
            f"no store is connected in {home}: run "
            "`onetill connect URL --key CK --secret CS` first"
        )
    data = json.loads(path.read_text(encoding="utf-8"))
    where = data.pop("secret_store", "file")
    found = _load_secrets(home, data["key"], where)
    if "secret" not in found:
        raise NotConnectedError(
            f"the consumer secret for {home} is missing; run `onetill connect` again"
        )
    known = {f for f in Config.__dataclass_fields__}
    extra = {k: v for k, v in data.items() if k not in known}
    kwargs = {k: v for k, v in data.items() if k in known}
    cfg = Config(secret=found["secret"], webhook_secret=found.get("webhook_secret"), **kwargs)
    cfg.extra.update(extra)
    return cfg


def read_ui_token(home: Path) -> str | None:
    """The saved access token of the till screen, if one was made."""
    try:
        text = (home / UI_TOKEN_FILENAME).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return text or None


def ui_token(home: Path, *, rotate: bool = False) -> str:
    """The till screen's access token (made once, kept in a 0600 file; ``rotate`` makes a
    new one, which signs every device out). 20 characters, about 100 bits."""
    if not rotate:
        existing = read_ui_token(home)
        if existing is not None:
            return existing
    raw = "".join(_secrets.choice(_TOKEN_ALPHABET) for _ in range(20))
    token = "-".join(raw[i : i + 4] for i in range(0, 20, 4))
    _write_private(home / UI_TOKEN_FILENAME, token)
    return token


# --- Stripe (card payments) --------------------------------------------------
# Kept apart from the store connection: `onetill connect` rewrites config.json
# and secrets.json, and must not lose the card setup (nor the reverse).

STRIPE_FILENAME = _STRIPE_FILE = "stripe.json"
_STRIPE_SECRETS = "stripe-secrets.json"


def stripe_configured(home: Path) -> bool:
    """Whether card payments on a Stripe reader were set up in ``home`` (working or not)."""
    return (home / _STRIPE_FILE).exists()


@dataclass
class StripeConfig:
    """The Stripe account and reader of this till. Secrets stay out of ``repr``."""

    key: str = field(repr=False)
    api_base: str = "https://api.stripe.com"
    location: str | None = None
    reader: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)
    webhook_endpoint: str | None = None

    @property
    def key_hint(self) -> str:
        """The key as Stripe's dashboard shows it: mode and last four characters."""
        mode = "test" if "_test_" in self.key else "live"
        return f"{self.key[:3]}{mode}_...{self.key[-4:]}"


def save_stripe(home: Path, config: StripeConfig) -> str:
    """Save the Stripe setup; the key (and webhook secret) go to the keyring or a 0600 file."""
    values = {"key": config.key, "webhook_secret": config.webhook_secret}
    where = "file"
    kr = _keyring()
    if kr is not None:
        try:
            for name, value in values.items():
                if value is not None:
                    account = f"{home}:stripe:{name}"
                    kr.set_password(_KEYRING_SERVICE, account, value)
                    if kr.get_password(_KEYRING_SERVICE, account) != value:
                        raise RuntimeError("keyring did not keep the secret")
            where = "keyring"
        except Exception:
            where = "file"
    if where == "file":
        clean = {k: v for k, v in values.items() if v is not None}
        _write_private(home / _STRIPE_SECRETS, json.dumps(clean))
    public = {k: v for k, v in asdict(config).items() if k not in values}
    public["secret_store"] = where
    _write_private(home / _STRIPE_FILE, json.dumps(public, indent=2, sort_keys=True))
    return where


def load_stripe(home: Path) -> StripeConfig:
    """The saved Stripe setup; raises NotConnectedError saying what to run."""
    path = home / _STRIPE_FILE
    if not path.exists():
        raise NotConnectedError(
            f"card payments are not set up in {home}: run "
            "`onetill stripe connect --key sk_...` first"
        )
    data = json.loads(path.read_text(encoding="utf-8"))
    where = data.pop("secret_store", "file")
    found: dict[str, str] = {}
    if where == "keyring":
        kr = _keyring()
        if kr is None:
            raise NotConnectedError(
                "the Stripe key is in an OS keyring that is not available now; run "
                "`onetill stripe connect` again"
            )
        for name in ("key", "webhook_secret"):
            value = kr.get_password(_KEYRING_SERVICE, f"{home}:stripe:{name}")
            if value is not None:
                found[name] = value
    elif (home / _STRIPE_SECRETS).exists():
        found = json.loads((home / _STRIPE_SECRETS).read_text(encoding="utf-8"))
    if "key" not in found:
        raise NotConnectedError("the Stripe key is missing; run `onetill stripe connect` again")
    known = {f for f in StripeConfig.__dataclass_fields__} - {"key", "webhook_secret"}
    return StripeConfig(
        key=found["key"], webhook_secret=found.get("webhook_secret"),
        **{k: v for k, v in data.items() if k in known},
    )  # fmt: skip
