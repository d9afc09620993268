"""Stripe's request encoding: ``application/x-www-form-urlencoded`` with brackets.

``metadata[sale]=x`` -> ``{"metadata": {"sale": "x"}}``; ``expand[]=a&expand[]=b``
and ``expand[0]=a`` -> ``{"expand": ["a", "b"]}``. Values stay strings, as
Stripe receives them; each endpoint converts what it needs.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

__all__ = ["FormError", "fingerprint", "parse_form"]

_PART = re.compile(r"\[([^\[\]]*)\]")


class FormError(ValueError):
    """A body Stripe would not accept as form parameters."""


def _split(key: str) -> list[str]:
    head, _, rest = key.partition("[")
    if not head:
        raise FormError(f"invalid parameter name {key!r}")
    parts = [head]
    if rest:
        tail = "[" + rest
        found = _PART.findall(tail)
        if "".join(f"[{p}]" for p in found) != tail:
            raise FormError(f"invalid parameter name {key!r}")
        parts.extend(found)
    return parts


def _listify(node: Any) -> Any:
    """Dicts whose keys are all list markers become lists, in index order."""
    if isinstance(node, dict):
        node = {k: _listify(v) for k, v in node.items()}
        if node and all(isinstance(k, str) and k.startswith("\x00") for k in node):
            return [node[k] for k in sorted(node, key=lambda k: int(k[1:]))]
        return node
    return node


def parse_form(body: bytes | str) -> dict[str, Any]:
    """The nested parameters of a form body (or a query string)."""
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    out: dict[str, Any] = {}
    appended = 0
    for key, value in parse_qsl(text, keep_blank_values=True):
        parts = _split(key)
        node: dict[str, Any] = out
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if part == "" or (part.isdigit() and i > 0):
                # a list position: `[]` appends, `[3]` is index 3
                appended += 1
                part = f"\x00{int(part) if part else 10**9 + appended:012d}"
            if last:
                node[part] = value
            else:
                child = node.setdefault(part, {})
                if not isinstance(child, dict):
                    raise FormError(f"parameter {key!r} is given both as a value and a hash")
                node = child
    result = _listify(out)
    assert isinstance(result, dict)
    return result


def fingerprint(method: str, path: str, params: dict[str, Any]) -> str:
    """What an idempotency key is bound to: the endpoint and the exact parameters."""
    return json.dumps([method, path, params], sort_keys=True, separators=(",", ":"))
