"""What every ``onetill`` command shares: the ``--home`` option and finding a connected home."""

from __future__ import annotations

from pathlib import Path

import click

from onetill.cli.params import SafePath
from onetill.config import HomeError, NotConnectedError, connected_home, home_dir, home_warning

__all__ = ["connected", "home_option", "usable_home", "warn_if_shared"]

home_option = click.option(
    "--home",
    envvar="ONETILL_HOME",
    type=SafePath(file_okay=False, path_type=Path),
    default=None,
    help="Where the database and config live (default ~/.onetill).",
)


def connected(home: Path | None) -> Path:
    """The connected home ``--home`` names, or a clear error (exit 1); never creates one."""
    try:
        where = connected_home(home)
    except NotConnectedError as exc:
        raise click.ClickException(str(exc)) from None
    warn_if_shared(where)
    return where


def usable_home(home: Path | None) -> Path:
    """The home ``--home`` names, created 0700 if missing, or a clear error (exit 1)."""
    try:
        where = home_dir(home)
    except HomeError as exc:
        raise click.ClickException(str(exc)) from None
    warn_if_shared(where)
    return where


def warn_if_shared(home: Path) -> None:
    """Say so (on stderr) when other users can read the home."""
    warning = home_warning(home)
    if warning:
        click.echo(f"warning: {warning}", err=True)
