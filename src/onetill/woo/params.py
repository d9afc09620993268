"""Query parameters as WooCommerce (and its OAuth check) reads them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

__all__ = ["encode_params", "merge_query"]


def merge_query(path_query: str, params: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The query given in the path string (``products?status=draft``) followed by ``params``.

    PHP keeps only the last of repeated keys, turns ``key[]`` into an array
    and renames ``.`` and spaces in names to ``_``, while the OAuth signature
    covers every pair as sent: each would be refused as a bad signature, so
    they are refused here, naming the key.
    """
    pairs = parse_qsl(path_query, keep_blank_values=True)
    seen: set[str] = set()
    for key, _value in [*pairs, *params]:
        if "[" in key:
            raise ValueError(f"query parameter {key!r}: send a comma list, not key[]")
        if "." in key or " " in key or not key:
            raise ValueError(
                f"query parameter {key!r}: PHP would rename it (no '.', spaces or empty names)"
            )
        if key in seen:
            raise ValueError(
                f"query parameter {key!r} is given twice (in the path and/or params): "
                "WooCommerce would only see the last one; pass it once"
            )
        seen.add(key)
    return [*pairs, *params]


def encode_params(params: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """Query parameters as WooCommerce wants them.

    Lists become comma lists (``include=10,11``): ``include[]=10`` breaks
    the OAuth signature. Booleans become ``true``/``false``; None is left out.
    """
    out: list[tuple[str, str]] = []
    for key, value in (params or {}).items():
        if "[" in key:
            raise ValueError(f"query parameter {key!r}: send a comma list, not key[]")
        if value is None:
            continue
        if isinstance(value, datetime):
            raise TypeError(
                f"query parameter {key!r} is a datetime: format it with format_gmt_cursor() "
                "and send dates_are_gmt=true"
            )
        if isinstance(value, bool):
            out.append((key, "true" if value else "false"))
        elif isinstance(value, list | tuple | set | frozenset):
            items = sorted(value) if isinstance(value, set | frozenset) else value
            out.append((key, ",".join(str(v) for v in items)))
        else:
            out.append((key, str(value)))
    return out
