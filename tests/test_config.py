"""The saved connection: secrets stay private and survive a reload."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from onetill.config import Config, NotConnectedError, home_dir, load_config, save_config


@pytest.fixture(autouse=True)
def _no_real_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    # Never write to a developer's real keyring from a test: force the file fallback.
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")


def test_secret_goes_to_a_file_only_the_owner_can_read(tmp_path: Path) -> None:
    """Without a keyring the secret lands in secrets.json with mode 0600, not in config.json."""
    home = home_dir(tmp_path / "home")
    cfg = Config(url="http://shop.test", key="ck_abc", secret="cs_topsecret")
    assert save_config(home, cfg) == "file"
    mode = stat.S_IMODE((home / "secrets.json").stat().st_mode)
    assert mode == 0o600
    assert "cs_topsecret" not in (home / "config.json").read_text()
    assert json.loads((home / "secrets.json").read_text())["secret"] == "cs_topsecret"


def test_config_round_trips_and_keeps_the_till_id(tmp_path: Path) -> None:
    """What connect saved is what every later command loads."""
    home = home_dir(tmp_path)
    cfg = Config(url="https://shop.test", key="ck_abc", secret="cs_x", webhook_secret="wh_y")
    save_config(home, cfg)
    loaded = load_config(home)
    assert (loaded.url, loaded.key, loaded.secret) == ("https://shop.test", "ck_abc", "cs_x")
    assert loaded.webhook_secret == "wh_y"
    assert loaded.till_id == cfg.till_id


def test_repr_never_shows_secrets() -> None:
    """A logged or printed config never leaks the consumer or webhook secret."""
    cfg = Config(url="http://s", key="ck", secret="cs_leak", webhook_secret="wh_leak")
    assert "cs_leak" not in repr(cfg)
    assert "wh_leak" not in repr(cfg)


def test_unconnected_home_says_what_to_do(tmp_path: Path) -> None:
    """Loading before `onetill connect` names the command to run."""
    with pytest.raises(NotConnectedError, match="onetill connect"):
        load_config(home_dir(tmp_path))


def test_home_dir_follows_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ONETILL_HOME picks the home when --home is not given; --home wins over it."""
    monkeypatch.setenv("ONETILL_HOME", str(tmp_path / "env"))
    assert home_dir() == tmp_path / "env"
    assert home_dir(tmp_path / "flag") == tmp_path / "flag"
