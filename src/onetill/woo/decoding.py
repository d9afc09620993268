"""Fitting WooCommerce's loose JSON to the typed models, and errors that name the culprit.

* Read models: ``null`` where a field has a non-null default takes the
  default (an old plugin's ``"sku": null`` must not drop a product), blank
  money strings become None where allowed, ``"NaN"``/``"INF"`` money is
  refused.
* Errors name the model, the object's id, the field path and what was read
  (``Product id=12 in GET products page 3: field 'regular_price' ...``):
  ``UnreadableAnswerError`` for the store's answers (read models),
  ``PayloadError`` for our own payloads (write models).
* Write models: money must be a finite decimal *string*; WooCommerce answers
  a JSON number with 400, and inside a batch it would not check at all.
"""

from __future__ import annotations

import re
import types
import typing
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import msgspec

from onetill.woo.errors import PayloadError, UnreadableAnswerError

__all__ = ["check_money", "payload_error", "prepare_read"]


@dataclass(frozen=True)
class _FieldRule:
    """How a read model's field treats JSON ``null`` and blank or non-finite money."""

    key: str  # the JSON name
    nullable: bool  # null is a value (else null means "use the default")
    has_default: bool
    money: bool
    blank_is_none: bool
    nested: type[Any] | None  # a Struct, or the element Struct of a list


_NON_FINITE = frozenset({"nan", "snan", "inf", "infinity"})


_RULES: dict[type[Any], tuple[_FieldRule, ...]] = {}


def _rules(model: type[Any]) -> tuple[_FieldRule, ...]:
    cached = _RULES.get(model)
    if cached is not None:
        return cached
    blanks: frozenset[str] = getattr(model, "_blank_money", frozenset())
    rules = []
    for f in msgspec.structs.fields(model):
        args = typing.get_args(f.type)
        members = args if typing.get_origin(f.type) in (typing.Union, types.UnionType) else ()
        nested = None
        if isinstance(f.type, type) and issubclass(f.type, msgspec.Struct):
            nested = f.type
        elif typing.get_origin(f.type) is list and args and isinstance(args[0], type):
            nested = args[0] if issubclass(args[0], msgspec.Struct) else None
        rules.append(
            _FieldRule(
                key=f.encode_name,
                nullable=f.type is Any or type(None) in members,
                has_default=not f.required,
                money=f.type is Decimal or Decimal in members,
                blank_is_none=f.name in blanks,
                nested=nested,
            )
        )
    _RULES[model] = tuple(rules)
    return _RULES[model]


def prepare_read(model: type[Any], data: Any, what: str, object_id: Any) -> Any:
    """WooCommerce's loose JSON made to fit a read model, recursively.

    ``null`` where the model has no use for it (``"sku": null`` from an old
    plugin, ``"meta_data": null``) takes the field's default instead of
    failing the whole object; a blank money string becomes None where the
    model allows it; ``"NaN"``/``"INF"`` money is refused, naming the field.
    """
    if not isinstance(data, dict):
        return data
    fixed = dict(data)
    for rule in _rules(model):
        if rule.key not in fixed:
            continue
        value = fixed[rule.key]
        if value is None and not rule.nullable and rule.has_default:
            del fixed[rule.key]
        elif value == "" and rule.blank_is_none:
            fixed[rule.key] = None
        elif rule.money and isinstance(value, str) and _non_finite(value):
            raise UnreadableAnswerError(
                f"{_subject(model, object_id, what)}: field {rule.key!r}: "
                f"money must be a finite amount, got {value!r}",
                what=what,
                field=rule.key,
                object_id=object_id,
            )
        elif rule.nested is not None and isinstance(value, dict):
            fixed[rule.key] = prepare_read(rule.nested, value, what, object_id)
        elif rule.nested is not None and isinstance(value, list):
            fixed[rule.key] = [prepare_read(rule.nested, v, what, object_id) for v in value]
    return fixed


def _subject(model: type[Any], object_id: Any, what: str) -> str:
    """How an error names the object: ``Product id=7 in GET products page 3``."""
    subject = f"{model.__name__} id={object_id}" if object_id is not None else model.__name__
    return f"{subject} in {what}" if what else subject


def _non_finite(value: str) -> bool:
    return value.strip().lstrip("+-").lower() in _NON_FINITE


def payload_error(
    model: type[Any],
    data: Any,
    what: str,
    exc: Exception,
    cls: type[PayloadError | UnreadableAnswerError] = PayloadError,
) -> PayloadError | UnreadableAnswerError:
    """The error naming field and id: ``PayloadError`` for our payloads,
    ``UnreadableAnswerError`` for the store's answers."""
    text = str(exc)
    field: str | None = None
    if " - at `$" in text:
        text, _, path = text.partition(" - at `$")
        field = path.rstrip("`").lstrip(".") or None
    unknown = re.search(r"unknown field `([^`]+)`", text)
    if unknown:
        field = f"{field}.{unknown.group(1)}" if field else unknown.group(1)
    object_id = data.get("id") if isinstance(data, dict) else None
    location = f" field {field!r}" if field else ""
    return cls(
        f"{_subject(model, object_id, what)}:{location} "
        f"{text[0].lower() + text[1:] if text else 'invalid'}",
        what=what,
        field=field,
        object_id=object_id,
    )


def check_money(model: type[Any], value: Any, data: Any, what: str) -> None:
    """Refuse NaN/infinite money, and money sent as JSON numbers (WooCommerce wants strings)."""
    bad = _bad_money(value, data, "")
    if bad is not None:
        field, raw = bad
        object_id = data.get("id") if isinstance(data, dict) else None
        raise PayloadError(
            f"{_subject(model, object_id, what)}: field {field!r}: "
            f'money must be a finite decimal string such as "5.55", got {raw!r}',
            what=what,
            field=field,
            object_id=object_id,
        )


def _bad_money(value: Any, raw: Any, prefix: str) -> tuple[str, Any] | None:
    if not isinstance(value, msgspec.Struct) or not isinstance(raw, dict):
        return None
    for name in value.__struct_fields__:
        amount = getattr(value, name)
        given = raw.get(name)
        path = f"{prefix}.{name}" if prefix else name
        if isinstance(amount, Decimal):
            is_number = isinstance(given, float | int) and not isinstance(given, bool)
            if is_number or not amount.is_finite():
                return path, given
        elif isinstance(amount, list) and isinstance(given, list):
            for index, (item, item_raw) in enumerate(zip(amount, given, strict=False)):
                found = _bad_money(item, item_raw, f"{path}[{index}]")
                if found is not None:
                    return found
    return None
