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
