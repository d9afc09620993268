"""Bad input at the command line: never a traceback, clear errors, exit 2 for usage errors,
one reading of a code everywhere, and store text that cannot act on the terminal."""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from onetill.cli import cli
from onetill.config import Config, save_config
from onetill.store import open_database
from onetill.store.catalog import apply_items
from support import RECORDED_STORE
from till_support import seeded_db

UNREACHABLE = "http://127.0.0.1:9"  # the discard port: refused at once, never the internet
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@pytest.fixture(autouse=True)
def _no_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")


def make_home(root: Path) -> Path:
    home = root / "till"
    home.mkdir(mode=0o700)
    save_config(home, Config(url=UNREACHABLE, key="ck_x", secret="cs_x", till_id="till-edge"))
    seeded_db(home / "onetill.db").close()
    return home


def run(home: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, [*args, "--home", str(home)])


def no_traceback(result: Result) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in result.output and "internal error" not in result.output


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["product", "999999999999999999999999"], 1, "no product"),
        (["product", "\u00b2"], 1, "no product"),
        (["sell", "99999999999999999999", "--pay", "cash", "--offline"], 1, "unknown barcode"),
        (["sell", "\u00b2", "--pay", "cash", "--offline"], 1, "unknown barcode"),
        (["search", "x", "--limit", "99999999999999999999"], 2, "out of range"),
        (["search", "x", "--limit", "1_0"], 2, "digits 0-9"),
        (["discrepancies", "--limit", "\u0661"], 2, "digits 0-9"),
        (["drain", "--wait", "nan"], 2, "not a number"),
        (["run", "--interval", "inf"], 2, "not a number"),
        (["run", "--port", "+80"], 2, "digits 0-9"),
    ],
)
def test_numbers_from_the_command_line_never_raise(
    tmp_path: Path, args: list[str], code: int, says: str
) -> None:
    """These were OverflowError/ValueError tracebacks, or loose parses of odd digits."""
    result = run(make_home(tmp_path), *args)
    no_traceback(result)
    assert result.exit_code == code, result.output
    assert says in result.output


def test_sell_and_product_read_a_code_the_same_way_and_sell_says_what_it_sold(
    tmp_path: Path,
) -> None:
    """A SKU "11" names the product with that SKU (id 10), not product id 11, in both."""
    home = make_home(tmp_path)
    product = json.loads((RECORDED_STORE / "products.json").read_text())[0]
    with open_database(home) as db, db.write() as conn:
        apply_items(conn, [dict(product, sku="11", date_modified_gmt="2030-01-01T00:00:00")],
                    kind="product", cause="test")  # fmt: skip
    shown = json.loads(run(home, "product", "11", "--json").output)
    assert shown["id"] == 10
    sold = run(home, "sell", "11", "--pay", "cash", "--offline", "--json")
    assert json.loads(sold.output)["items"][0]["id"] == 10
    text = run(home, "sell", "11:2", "--pay", "cash", "--offline")
    assert "sold     2 x 11  Simple Product 001  @ 63.48" in text.output
    assert json.loads(run(home, "product", "12", "--json").output)["id"] == 12  # ids still work


def test_control_characters_from_the_store_are_escaped_on_the_terminal(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    product = json.loads((RECORDED_STORE / "products.json").read_text())[0]
    hostile = dict(product, name="Mug\x1b[2J\x00\u202eevil", sku="ESC\x1b]0;pwned\x07",
                   date_modified_gmt="2030-01-01T00:00:00")  # fmt: skip
    with open_database(home) as db, db.write() as conn:
        apply_items(conn, [hostile], kind="product", cause="test")
    for args in (["product", "10"], ["search", "Mug"], ["sell", "10", "--pay", "cash",
                                                         "--offline"]):  # fmt: skip
        result = run(home, *args)
        assert result.exit_code == 0, result.output
        assert not RAW_CONTROL.search(result.output), (args, result.output)
        assert "\\x1b" in result.output, args


def test_a_typo_in_home_is_not_connected_here_and_creates_nothing(tmp_path: Path) -> None:
    typo = tmp_path / "tlil"
    commands = [["status"], ["orders"], ["sync"], ["product", "X"], ["drain"],
                ["discrepancies"], ["sell", "X", "--pay", "cash"], ["webhooks", "status"]]
    for args in commands:
        result = CliRunner().invoke(cli, [*args, "--home", str(typo)])
        no_traceback(result)
        assert result.exit_code == 1 and "not connected here" in result.output, args
        assert not typo.exists(), args


def test_home_is_private_and_a_shared_home_is_warned_about(
    tmp_path: Path, start_sandbox: Any
) -> None:
    srv = start_sandbox()
    home = tmp_path / "new" / "home"
    old = os.umask(0o022)
    try:
        connect = CliRunner().invoke(cli, ["connect", srv.url, "--key", srv.key, "--secret",
                                           srv.secret, "--home", str(home)])  # fmt: skip
        assert connect.exit_code == 0, connect.output
        assert run(home, "sync").exit_code == 0
        assert stat.S_IMODE(home.stat().st_mode) == 0o700
        with open_database(home) as db, db.write() as conn:  # -wal/-shm exist while open
            conn.execute("UPDATE products SET name = name WHERE id = 10")
            for name in ("config.json", "secrets.json", "onetill.db", "onetill.db-wal",
                         "onetill.db-shm"):  # fmt: skip
                assert stat.S_IMODE((home / name).stat().st_mode) == 0o600, name
    finally:
        os.umask(old)
    assert "warning" not in run(home, "status").output
    os.chmod(home, 0o777)
    warned = run(home, "status")
    assert "can be read by other users (mode 777)" in warned.output
    assert "chmod 700" in warned.output


# --- every command, fed whatever hypothesis makes up -------------------------------------

HOSTILE = [
    "--json", "--limit", "--pay", "cash", "card", "--tendered", "--offline", "--txn", "--reason",
    "--full", "--audit", "--pending", "--failed", "--settle", "--wait", "--home", "--help",
    "1_000", "\u0661\u0660\u0660", "+2", "99999999999999999999", "\u00b2", "nan", "inf", "-1",
    "1e3", "0", "\x1b[2J", "\x00", "SIMPLE-001", "SIMPLE-001:+2", "SIMPLE-001:99999", ":", "",
    "10", "--interval", "--port", "\u202e",
]  # fmt: skip
TOKENS = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=10))
# Commands that start servers get one unusable option, so they stop at the parser.
NEVER_START = {"run": ["--port", "x"], "demo": ["--port", "x"], "sandbox": ["--port", "x"]}
COMMANDS = [
    ["product"], ["search"], ["status"], ["sell"], ["orders"], ["retry"], ["void"],
    ["discrepancies"], ["drain"], ["sync"], ["webhooks", "status"], ["webhooks", "register"],
    ["run"], ["demo"], ["sandbox"],
]  # fmt: skip


@pytest.fixture(scope="module")
def fuzz_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    return make_home(tmp_path_factory.mktemp("fuzz"))


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c))
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(args=st.lists(TOKENS, max_size=4))
def test_any_input_to_any_command_is_an_error_message_never_a_traceback(
    fuzz_home: Path, command: list[str], args: list[str]
) -> None:
    full = [*command, *NEVER_START.get(command[0], []), *args]
    if "--home" not in args:
        full += ["--home", str(fuzz_home)]
    result = CliRunner().invoke(cli, full)
    no_traceback(result)
    assert result.exit_code in (0, 1, 2), (full, result.output)
    if "Usage:" in result.output and "Error:" in result.output:
        assert result.exit_code == 2, (full, result.output)
    assert not RAW_CONTROL.search(result.output), (full, result.output)


@settings(max_examples=15, deadline=None)
@given(url=st.sampled_from(["noscheme", "ftp://x", UNREACHABLE, "http://[::1]:9",
                            "http://user:pw@127.0.0.1:9", f"{UNREACHABLE}/wp-json/wc/v3"]),
       suffix=st.text(max_size=8), extra=st.lists(TOKENS, max_size=3))  # fmt: skip
def test_connect_with_any_input_is_an_error_message_never_a_traceback(
    tmp_path_factory: pytest.TempPathFactory, url: str, suffix: str, extra: list[str]
) -> None:
    home = tmp_path_factory.mktemp("connect")
    args = ["connect", url + suffix, "--key", "ck_x", "--secret", "cs_x", "--timeout", "2",
            *extra, "--home", str(home)]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    no_traceback(result)
    assert result.exit_code in (0, 1, 2, 3, 4, 5, 6), (args, result.output)
    assert not RAW_CONTROL.search(result.output), (args, result.output)
