"""`onetill --help` must answer fast: it imports no heavy module."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("httpx2", "starlette", "uvicorn", "msgspec", "sqlite3", "rich", "onetill.woo")


def test_help_imports_nothing_heavy() -> None:
    """Listing the commands must not import the client, the database or the web stack."""
    code = (
        "import sys\n"
        "from onetill.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        f"print('HEAVY=' + ','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert "Commands:" in out
    assert out.strip().splitlines()[-1] == "HEAVY="


def test_help_lists_every_command() -> None:
    """Every command of the design is reachable from `onetill --help`."""
    out = subprocess.run(
        [sys.executable, "-m", "onetill", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for name in ("connect", "sync", "status", "sell", "orders", "drain", "run", "demo", "sandbox"):
        assert f"  {name} " in out
