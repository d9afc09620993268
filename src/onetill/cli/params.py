"""Numbers typed on the command line: plain ASCII decimal digits, within sane bounds.

Python's ``int()`` and ``float()`` (and so click's ``INT``/``FLOAT``) accept
``1_000``, ``+2``, Arabic-Indic digits, ``1e3``, ``inf`` and ``nan``: a till
must not read ``--interval nan`` or ``--limit 1_0`` as a number, and a
number past any sane bound is a typo (``--limit 99999999999999999999``
would reach SQLite as an ``OverflowError``). These types say so, as a usage
error (exit code 2).
"""

from __future__ import annotations

import re
from typing import Any

import click

__all__ = ["PLAIN_DECIMAL", "PLAIN_INT", "PlainFloat", "PlainInt", "SafePath"]

PLAIN_INT = re.compile(r"[0-9]+", re.ASCII)
PLAIN_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?", re.ASCII)


class PlainInt(click.ParamType[int]):
    """A whole number written with the digits 0-9 only, between ``low`` and ``high``."""

    name = "integer"

    def __init__(self, low: int, high: int) -> None:
        self.low, self.high = low, high

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str) and len(value) <= 30 and PLAIN_INT.fullmatch(value):
            number = int(value)
        else:
            self.fail(f"{value!r} is not a whole number: type digits 0-9 only, e.g. 20",
                      param, ctx)  # fmt: skip
        if not self.low <= number <= self.high:
            self.fail(f"{number} is out of range: give {self.low} to {self.high}", param, ctx)
        return number

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return f"[{self.low}-{self.high}]"


class PlainFloat(click.ParamType[float]):
    """A number like ``30`` or ``0.5`` (digits 0-9 and one point), between the bounds."""

    name = "number"

    def __init__(self, low: float, high: float) -> None:
        self.low, self.high = low, high

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        given = isinstance(value, int | float) and not isinstance(value, bool)
        typed = isinstance(value, str) and len(value) <= 30 and PLAIN_DECIMAL.fullmatch(value)
        if not (given or typed):
            self.fail(f"{value!r} is not a number: type digits 0-9 and at most one point, "
                      "e.g. 30 or 0.5", param, ctx)  # fmt: skip
        number = float(value)
        if not self.low <= number <= self.high:
            self.fail(f"{value} is out of range: give {self.low:g} to {self.high:g}", param, ctx)
        return number

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return f"[{self.low:g}-{self.high:g}]"


class SafePath(click.Path):
    """``click.Path`` that calls a name the OS cannot take (a NUL byte) a usage error;
    ``click.Path`` lets ``os.stat``'s ``ValueError`` escape."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            return super().convert(value, param, ctx)
        except ValueError as exc:
            if isinstance(exc, click.BadParameter):
                raise
            self.fail(f"{value!r} is not a usable path ({exc})", param, ctx)
