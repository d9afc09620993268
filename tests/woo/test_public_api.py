"""The names other rooms import from onetill.woo stay put (docs/architecture.md)."""

from __future__ import annotations

import inspect

import onetill.woo
from onetill.woo import WooClient, errors


def test_public_names_are_pinned_and_sorted() -> None:
    assert onetill.woo.__all__ == sorted(onetill.woo.__all__)
    assert set(onetill.woo.__all__) == {
        "BatchItem",
        "BatchResult",
        "Discovery",
        "Outcome",
        "Page",
        "WooClient",
        "WooResponse",
        "classify",
        "format_gmt_cursor",
        "parse_gmt",
    }


def test_every_error_descends_from_one_base_and_is_drawn_in_the_docstring() -> None:
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, errors.WooError)
        assert name in (errors.__doc__ or "")


def test_the_client_constructor_matches_the_contract() -> None:
    params = list(inspect.signature(WooClient).parameters)
    assert params[:8] == [
        "url",
        "key",
        "secret",
        "transport",
        "max_concurrency",
        "timeout",
        "verify",
        "auth_in_query",
    ]
    assert inspect.signature(WooClient).parameters["max_concurrency"].default == 4
