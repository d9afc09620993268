"""WordPress REST error bodies: ``{"code", "message", "data": {"status", ...}}``.

Route code raises :class:`RestError`; ``api.py`` turns it into the JSON body.
Validation errors carry ``data.params`` and ``data.details`` like
``WP_REST_Request::has_valid_params()`` builds them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")

__all__ = [
    "Checks",
    "PhpFatal",
    "RestError",
    "invalid_id",
    "invalid_param",
    "localized",
    "merge_invalid",
    "no_route",
]


class RestError(Exception):
    """An error answer with WordPress's shape."""

    def __init__(
        self, status: int, code: str, message: str, *, bare: bool = False, **data: Any
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.data = data
        # A WP_Error made with the status itself as its data (``new WP_Error(code, msg,
        # 500)``) answers ``"data": 500``, not ``{"status": 500}``.
        self.bare = bare

    def body(self) -> dict[str, Any]:
        data: Any = self.status if self.bare else {"status": self.status, **self.data}
        return {"code": self.code, "message": self.message, "data": data}


# WooCommerce's authentication messages as a German site (de_DE) words them.
# The codes never change with the language; only the messages do.
_GERMAN = {
    "Consumer key is invalid.": "Der Consumer-Key ist ungültig.",
    "Consumer secret is invalid.": "Das Consumer-Secret ist ungültig.",
    "Invalid signature - provided signature does not match.":
        "Ungültige Signatur – die angegebene Signatur stimmt nicht überein.",
    "Invalid timestamp.": "Ungültiger Zeitstempel.",
    "Invalid nonce - nonce has already been used.":
        "Ungültige Nonce – die Nonce wurde bereits verwendet.",
    "The API key provided does not have write permissions.":
        "Der angegebene API-Schlüssel hat keine Schreibberechtigung.",
    "The API key provided does not have read permissions.":
        "Der angegebene API-Schlüssel hat keine Leseberechtigung.",
}


def localized(body: dict[str, Any], locale: str) -> dict[str, Any]:
    """An error body with its message in the site's language (codes unchanged)."""
    if locale != "de_DE" or body.get("message") not in _GERMAN:
        return body
    return {**body, "message": _GERMAN[body["message"]]}


def invalid_param(
    name: str, message: str, detail_code: str, *, where: str | None = None
) -> RestError:
    """``400 rest_invalid_param`` for one parameter, with params and details.

    WordPress 7's ``rest_validate_value_from_schema`` gives a type error the
    data ``{"param": where}`` (the parameter, or the path inside it such as
    ``line_items[0][quantity]``); other checks (enum, bounds, dates) give none.
    """
    data = {"param": where or name} if detail_code == "rest_invalid_type" else None
    return RestError(
        400,
        "rest_invalid_param",
        f"Invalid parameter(s): {name}",
        params={name: message},
        details={name: {"code": detail_code, "message": message, "data": data}},
    )


def invalid_id(resource: str, status: int = 404) -> RestError:
    """``woocommerce_rest_{resource}_invalid_id`` ("Invalid ID.")."""
    return RestError(status, f"woocommerce_rest_{resource}_invalid_id", "Invalid ID.")


def no_route() -> RestError:
    return RestError(
        404, "rest_no_route", "No route was found matching the URL and request method."
    )


def merge_invalid(errors: list[RestError], order: Sequence[str]) -> RestError:
    """One ``400 rest_invalid_param`` naming every invalid parameter, as
    ``WP_REST_Request::has_valid_params`` reports them: in the route's argument order."""
    params: dict[str, Any] = {}
    details: dict[str, Any] = {}
    for err in errors:
        params.update(err.data.get("params", {}))
        details.update(err.data.get("details", {}))
    rank = {name: i for i, name in enumerate(order)}
    names = sorted(params, key=lambda n: rank.get(n, len(rank)))
    return RestError(
        400,
        "rest_invalid_param",
        f"Invalid parameter(s): {', '.join(names)}",
        params={n: params[n] for n in names},
        details={n: details[n] for n in names if n in details},
    )


class Checks:
    """Runs parameter checks and reports every invalid one at once (``done``)."""

    def __init__(self, order: Sequence[str]) -> None:
        self.order = order
        self.errors: list[RestError] = []

    def run(self, check: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        try:
            return check(*args, **kwargs)
        except RestError as err:
            if err.code != "rest_invalid_param":
                raise
            self.errors.append(err)
            return None

    def done(self) -> None:
        if self.errors:
            raise merge_invalid(self.errors, self.order)


class PhpFatal(Exception):
    """An uncaught PHP error: WordPress's "critical error" 500. Unlike a ``RestError`` it is
    not caught per batch item: the whole request dies, with what was saved before it."""

    def __init__(self, message: str, file: str, line: int) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line

    def body(self) -> dict[str, Any]:
        return {
            "code": "internal_server_error",
            "message": (
                "<p>There has been a critical error on this website.</p><p><a href=\""
                "https://wordpress.org/documentation/article/faq-troubleshooting/\">"
                "Learn more about troubleshooting WordPress.</a></p>"
            ),
            "data": {
                "status": 500,
                "error": {"type": 1, "message": self.message, "file": self.file,
                          "line": self.line},
            },
            "additional_errors": [],
        }  # fmt: skip
