"""``expand[]``: ids replaced by the objects they name, along dotted paths.

``latest_charge`` on a PaymentIntent; ``action.process_payment_intent.
payment_intent.latest_charge`` on a reader (four levels, Stripe's limit);
``data.latest_charge`` applies to each item of a list.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from .errors import StripeError

__all__ = ["expand", "public"]

MAX_DEPTH = 4


def public(obj: Any) -> Any:
    """A deep copy without the emulator's private ``_`` keys."""
    if isinstance(obj, dict):
        return {k: public(v) for k, v in obj.items() if not str(k).startswith("_")}
    if isinstance(obj, list):
        return [public(v) for v in obj]
    return obj


def expand(obj: dict[str, Any], paths: list[str], find: Callable[[str], Any]) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    for path in paths:
        parts = [p for p in str(path).split(".") if p]
        depth = len(parts) - (1 if parts and parts[0] == "data" else 0)
        if not parts or depth > MAX_DEPTH:
            raise StripeError(
                400, f"You cannot expand more than {MAX_DEPTH} levels of a property.",
                param="expand",
            )  # fmt: skip
        _walk(out, parts, find, path)
    return out


def _walk(node: Any, parts: list[str], find: Callable[[str], Any], path: str) -> None:
    if not parts or node is None:
        return
    if isinstance(node, list):
        for item in node:
            _walk(item, parts, find, path)
        return
    if not isinstance(node, dict):
        return
    head, rest = parts[0], parts[1:]
    if head not in node:
        raise StripeError(
            400, f"This property cannot be expanded ({path}).", param="expand"
        )
    value = node[head]
    if isinstance(value, str):
        found = find(value)
        if found is not None:
            value = node[head] = public(found)
    _walk(value, rest, find, path)
