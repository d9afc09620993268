"""WordPress's REST ``args`` validation, the subset the companion plugin's routes use.

Same order and messages as ``WP_REST_Request::has_valid_params()`` with
``rest_validate_request_arg``: missing required parameters first (one ``400
rest_missing_callback_param`` listing them all), then every given parameter
against its schema (one ``400 rest_invalid_param`` naming each bad one, with
``data.params`` and ``data.details``).
"""

from __future__ import annotations

import re
from typing import Any

from .errors import RestError
from .rest import Call

__all__ = ["validate_args"]

Schema = dict[str, Any]


class _Invalid(Exception):
    def __init__(self, message: str, code: str, data: Any = None) -> None:
        super().__init__(message)
        self.message, self.code, self.data = message, code, data


def validate_args(call: Call, specs: dict[str, Schema]) -> dict[str, Any]:
    """The validated values (defaults filled in), or the error WordPress gives."""
    missing = [n for n, s in specs.items() if s.get("required") is True and call.get(n) is None]
    if missing:
        raise RestError(
            400,
            "rest_missing_callback_param",
            f"Missing parameter(s): {', '.join(missing)}",
            params=missing,
        )
    values: dict[str, Any] = {}
    errors: dict[str, _Invalid] = {}
    for name, spec in specs.items():
        raw = call.get(name)
        if raw is None:
            values[name] = spec.get("default")
            continue
        try:
            values[name] = _check(raw, spec, name)
        except _Invalid as bad:
            errors[name] = bad
    if errors:
        raise RestError(
            400,
            "rest_invalid_param",
            f"Invalid parameter(s): {', '.join(errors)}",
            params={n: e.message for n, e in errors.items()},
            details={
                n: {"code": e.code, "message": e.message, "data": e.data} for n, e in errors.items()
            },
        )
    return values


def _wp_list(items: list[str]) -> str:
    """``wp_sprintf_l``: "a and b", "a, b, and c"."""
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + ", and " + items[-1]


def _check(value: Any, schema: Schema, path: str) -> Any:
    kind = schema.get("type")
    if kind == "integer":
        return _integer(value, schema, path)
    if kind == "string":
        return _string(value, schema, path)
    if kind == "array":
        return _array(value, schema, path)
    if kind == "object":
        return _object(value, schema, path)
    return value


def _integer(value: Any, schema: Schema, path: str) -> int:
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and re.fullmatch(r"\s*-?\d+(\.0*)?\s*", value):
        number = int(float(value))
    if number is None:
        raise _Invalid(f"{path} is not of type integer.", "rest_invalid_type", {"param": path})
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is not None and high is not None and not low <= number <= high:
        message = f"{path} must be between {low} (inclusive) and {high} (inclusive)"
        raise _Invalid(message, "rest_out_of_bounds")
    if low is not None and number < low:
        raise _Invalid(f"{path} must be greater than or equal to {low}", "rest_out_of_bounds")
    if high is not None and number > high:
        raise _Invalid(f"{path} must be less than or equal to {high}", "rest_out_of_bounds")
    return number


def _string(value: Any, schema: Schema, path: str) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"{path} is not of type string.", "rest_invalid_type", {"param": path})
    enum = schema.get("enum")
    if enum is not None and value not in enum:
        raise _Invalid(f"{path} is not one of {_wp_list(list(enum))}.", "rest_not_in_enum")
    low = schema.get("minLength")
    if low is not None and len(value) < low:
        unit = "character" if low == 1 else "characters"
        raise _Invalid(f"{path} must be at least {low} {unit} long.", "rest_too_short")
    high = schema.get("maxLength")
    if high is not None and len(value) > high:
        unit = "character" if high == 1 else "characters"
        raise _Invalid(f"{path} must be at most {high} {unit} long.", "rest_too_long")
    pattern = schema.get("pattern")
    if pattern is not None and not re.search(pattern, value):
        raise _Invalid(f"{path} does not match pattern {pattern}.", "rest_invalid_pattern")
    return value


def _array(value: Any, schema: Schema, path: str) -> list[Any]:
    if isinstance(value, str):
        value = [p for p in re.split(r"[\s,]+", value) if p]  # wp_parse_list
    if not isinstance(value, list):
        raise _Invalid(f"{path} is not of type array.", "rest_invalid_type", {"param": path})
    low, high = schema.get("minItems"), schema.get("maxItems")
    if low is not None and len(value) < low:
        unit = "item" if low == 1 else "items"
        raise _Invalid(f"{path} must contain at least {low} {unit}.", "rest_too_few_items")
    if high is not None and len(value) > high:
        unit = "item" if high == 1 else "items"
        raise _Invalid(f"{path} must contain at most {high} {unit}.", "rest_too_many_items")
    items = schema.get("items")
    if items is None:
        return value
    return [_check(v, items, f"{path}[{i}]") for i, v in enumerate(value)]


def _object(value: Any, schema: Schema, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Invalid(f"{path} is not of type object.", "rest_invalid_type", {"param": path})
    for prop in schema.get("required", []):
        if prop not in value:
            raise _Invalid(f"{prop} is a required property of {path}.", "rest_property_required")
    properties: dict[str, Schema] = schema.get("properties", {})
    out = {}
    for prop, item in value.items():
        if prop in properties:
            out[prop] = _check(item, properties[prop], f"{path}[{prop}]")
        elif schema.get("additionalProperties") is False:
            message = f"{prop} is not a valid property of Object."
            raise _Invalid(message, "rest_additional_properties_forbidden")
        else:
            out[prop] = item
    return out
