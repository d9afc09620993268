"""The request/answer types route handlers use, and WordPress's parameter rules.

A handler takes a :class:`Call` and returns a :class:`Reply` (or raises
``RestError``). ``api.py`` does the HTTP part: auth, JSON, headers.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .auth import Caller
from .errors import RestError, invalid_param

if TYPE_CHECKING:
    from .state import SandboxStore

__all__ = [
    "Call",
    "Handler",
    "Reply",
    "Route",
    "bool_param",
    "id_list",
    "int_param",
    "require",
]

_PERMISSION = {
    "list": ("woocommerce_rest_cannot_view", "Sorry, you cannot list resources."),
    "read": ("woocommerce_rest_cannot_view", "Sorry, you cannot view this resource."),
    "create": ("woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources."),
    "edit": ("woocommerce_rest_cannot_edit", "Sorry, you are not allowed to edit this resource."),
    "delete": (
        "woocommerce_rest_cannot_delete",
        "Sorry, you are not allowed to delete this resource.",
    ),
    "batch": (
        "woocommerce_rest_cannot_batch",
        "Sorry, you are not allowed to batch manipulate this resource.",
    ),
}


@dataclass
class Call:
    """One REST request as a handler sees it."""

    store: SandboxStore
    method: str
    route: str  # the path after /wp-json, e.g. /wc/v3/products/10
    query: list[tuple[str, str]]  # in request order, as sent (used for Link headers)
    params: dict[str, Any]  # query params (``x[]`` collected into lists) + form body
    body: Any  # the decoded JSON body, or None
    caller: Caller
    args: dict[str, str] = field(default_factory=dict)  # groups of the route pattern
    headers: Mapping[str, str] = field(default_factory=dict)  # case-insensitive in api.py

    def get(self, name: str, default: Any = None) -> Any:
        """A parameter from the JSON body, else the query/form (WordPress's merge order)."""
        if isinstance(self.body, dict) and name in self.body:
            return self.body[name]
        return self.params.get(name, default)

    @property
    def json(self) -> dict[str, Any]:
        return self.body if isinstance(self.body, dict) else {}


@dataclass
class Reply:
    """A handler's answer: status, JSON body, extra headers."""

    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Call], Reply | Awaitable[Reply]]


@dataclass
class Route:
    """A route pattern (relative to /wp-json) and its handler per HTTP method."""

    pattern: str
    methods: dict[str, Handler]
    regex: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        self.regex = re.compile(f"^{self.pattern}/?$")

    @property
    def allow(self) -> str:
        order = ["GET", "POST", "PUT", "PATCH", "DELETE"]
        return ", ".join(m for m in order if m in self.methods)


def require(call: Call, action: str) -> None:
    """The permission check: anonymous callers get WooCommerce's 401."""
    if call.caller.anonymous:
        code, message = _PERMISSION[action]
        raise RestError(401, code, message)


def int_param(
    call: Call,
    name: str,
    default: int | None,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int | None:
    """An integer query parameter with WordPress's bounds messages."""
    raw = call.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(str(raw))
    except ValueError:
        raise invalid_param(name, f"{name} is not of type integer.", "rest_invalid_type") from None
    if minimum is not None and maximum is not None and not minimum <= value <= maximum:
        msg = f"{name} must be between {minimum} (inclusive) and {maximum} (inclusive)"
        raise invalid_param(name, msg, "rest_out_of_bounds")
    if minimum is not None and value < minimum:
        msg = f"{name} must be greater than or equal to {minimum}"
        raise invalid_param(name, msg, "rest_out_of_bounds")
    return value


def bool_param(call: Call, name: str) -> bool | None:
    raw = call.get(name)
    if raw is None:
        return None
    if raw in (True, "true", "1", 1):
        return True
    if raw in (False, "false", "0", 0, ""):
        return False
    raise invalid_param(name, f"{name} is not of type boolean.", "rest_invalid_type")


def id_list(call: Call, name: str) -> list[int] | None:
    """``include=10,11`` or ``include[]=10`` (``wp_parse_id_list``: ``absint`` of each
    item, so anything that is not a number is 0, never an error)."""
    raw = call.get(name)
    if raw is None or raw == "" or raw == []:
        return None
    items = raw if isinstance(raw, list) else re.split(r"[\s,]+", str(raw))
    out = []
    for x in items:
        text = str(x).strip()
        if text:
            digits = re.match(r"[+-]?\d+", text)
            out.append(abs(int(digits.group())) if digits else 0)
    return out
