"""WordPress REST error bodies: ``{"code", "message", "data": {"status", ...}}``.

Route code raises :class:`RestError`; ``api.py`` turns it into the JSON body.
Validation errors carry ``data.params`` and ``data.details`` like
``WP_REST_Request::has_valid_params()`` builds them.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "RestError",
    "invalid_id",
    "invalid_param",
    "localized",
    "no_route",
]


class RestError(Exception):
    """An error answer with WordPress's shape."""

    def __init__(self, status: int, code: str, message: str, **data: Any) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.data = data

    def body(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "data": {"status": self.status, **self.data},
        }


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


def invalid_param(name: str, message: str, detail_code: str) -> RestError:
    """``400 rest_invalid_param`` for one parameter, with params and details."""
    return RestError(
        400,
        "rest_invalid_param",
        f"Invalid parameter(s): {name}",
        params={name: message},
        details={name: {"code": detail_code, "message": message, "data": None}},
    )


def invalid_id(resource: str, status: int = 404) -> RestError:
    """``woocommerce_rest_{resource}_invalid_id`` ("Invalid ID.")."""
    return RestError(status, f"woocommerce_rest_{resource}_invalid_id", "Invalid ID.")


def no_route() -> RestError:
    return RestError(
        404, "rest_no_route", "No route was found matching the URL and request method."
    )
