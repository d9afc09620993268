"""Turning an HTTP answer into data or into the right error.

Real stores do not always answer with WooCommerce's JSON: login pages,
WAF challenges, PHP fatal errors and proxy 502 pages are HTML, and PHP
notices sometimes come printed in front of a good JSON body. This module
tells these apart and builds errors that say what happened and what to do.
"""

from __future__ import annotations

import html
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx2
import msgspec

from onetill.woo.dates import parse_http_date
from onetill.woo.errors import (
    AuthError,
    NoRouteError,
    NotJSONError,
    ResponseError,
    WooAPIError,
)
from onetill.woo.redact import safe_url

log = logging.getLogger("onetill.woo")

__all__ = [
    "WooResponse",
    "decode_json",
    "error_from_response",
    "retry_after_seconds",
    "visible_text",
]


@dataclass(frozen=True)
class WooResponse:
    """A successful (2xx) answer.

    ``data`` is the decoded JSON; ``server_time`` is the ``Date`` header as
    aware UTC (the only clock a polling cursor may come from), None if absent.
    """

    status: int
    headers: httpx2.Headers
    data: Any
    content: bytes = field(repr=False)
    server_time: datetime | None
    url: str = ""


_SCRIPT = re.compile(r"<(script|style|noscript)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")


def visible_text(body: bytes | str, limit: int = 200) -> str:
    """The first ``limit`` characters a browser would show for ``body``."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = _SCRIPT.sub(" ", text)
    text = _TAG.sub(" ", text)
    text = html.unescape(text)
    return _SPACE.sub(" ", text).strip()[:limit]


def decode_json(content: bytes) -> tuple[bool, Any]:
    """``(True, value)`` when ``content`` is JSON, else ``(False, None)``.

    With ``display_errors`` on, PHP prints notices (HTML) in front of the
    JSON WooCommerce then sends, and sometimes after it (at shutdown); the
    JSON among them is still the real answer (for a POST, it is the created
    order), so it is recovered. A JSON value cut short is never "recovered".

    Invalid UTF-8 (a corrupted row, a plugin writing Latin-1) is decoded
    with U+FFFD in its place: one bad byte in one product's name must not
    make a whole page unreadable; the catalog names the item it reached.
    JSON nested deeper than a decoder can follow is not JSON here.
    """
    # A PHP file saved with a UTF-8 byte-order mark prints it before the JSON.
    stripped = content.strip()
    while stripped.startswith(b"\xef\xbb\xbf"):
        stripped = stripped[3:].lstrip()
    if not stripped:
        return False, None
    try:
        return True, msgspec.json.decode(stripped)
    except msgspec.DecodeError:
        pass
    except RecursionError:
        return False, None
    try:
        stripped.decode("utf-8")
    except UnicodeDecodeError:
        try:
            value = msgspec.json.decode(stripped.decode("utf-8", "replace"))
        except (msgspec.DecodeError, RecursionError):
            pass
        else:
            log.warning("an answer from the store held invalid UTF-8: decoded with U+FFFD")
            return True, value
    # Where JSON may start: the top, then each line that starts like JSON
    # (PHP ends every notice with "<br />\n"); bounded work.
    starts = [0] if stripped[:1] in (b"{", b"[") else []
    starts += [m.start() + 1 for m in re.finditer(rb"\n[\[{]", stripped)][:20]
    for start in starts:
        try:
            return True, msgspec.json.decode(stripped[start:])
        except msgspec.DecodeError:
            pass
        found = _json_before_notice(stripped[start:])
        if found is not None:
            return True, found[0]
    return False, None


# What PHP prints right after the output when display_errors is on: an HTML
# notice ("<br />\n<b>Warning</b>: ...") or a plain-text one ("Warning: ...").
_NOTICE = re.compile(r"\s*(<|(PHP )?(Warning|Notice|Deprecated|Fatal error|Parse error)\b)")


def _json_before_notice(body: bytes) -> tuple[Any] | None:
    """A complete JSON value followed only by a PHP notice, as ``(value,)``."""
    text = body.decode("utf-8", "replace")
    try:
        value, end = json.JSONDecoder().raw_decode(text)
    except (ValueError, RecursionError):
        return None
    # Nothing after it means msgspec refused the JSON itself (NaN, ...): no.
    rest = text[end:]
    if not rest.strip() or not _NOTICE.match(rest):
        return None
    return (value,)


def retry_after_seconds(headers: httpx2.Headers, now: datetime) -> float | None:
    """``Retry-After`` (delta-seconds or an HTTP date) as seconds from ``now``."""
    raw = headers.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    # RFC 9110 says whole seconds; some hosts send "1.5". Anything else that
    # is not a date (negative, garbage) is ignored: the backoff still applies.
    if _SECONDS.fullmatch(raw):
        return float(raw)
    when = parse_http_date(raw)
    if when is None:
        return None
    return max(0.0, (when - now).total_seconds())


_SECONDS = re.compile(r"[0-9]{1,10}(\.[0-9]{1,6})?", re.ASCII)


def error_from_response(
    response: httpx2.Response,
    *,
    method: str,
    url: str,
    https: bool,
    auth_mode: str,
    now: datetime,
) -> ResponseError:
    """The error for a non-2xx ``response`` (or a 2xx whose body is not JSON)."""
    status = response.status_code
    retry_after = retry_after_seconds(response.headers, now) if status >= 400 else None
    where = f"{method} {url}"
    if 300 <= status < 400:
        location = response.headers.get("location", "?")
        try:
            # A redirect echoes the query: keys or oauth_* must not reach the text.
            location = safe_url(httpx2.URL(location)) if location != "?" else location
        except (httpx2.InvalidURL, ValueError):
            location = visible_text(location, 200)
        return ResponseError(
            f"HTTP {status}: the store redirected {where} to {location}",
            status=status,
            method=method,
            url=url,
            hint="connect with the URL the store redirects to (http vs https, www or not)",
        )
    ok, body = decode_json(response.content)
    if not ok or (status >= 400 and not (isinstance(body, dict) and "code" in body)):
        text = visible_text(response.content) or "(empty body)"
        return NotJSONError(
            f"HTTP {status} from {where} is not a WooCommerce JSON answer: {text!r}",
            status=status,
            text=text,
            method=method,
            url=url,
            retry_after=retry_after,
            hint=_not_json_hint(status),
        )
    code = str(body.get("code", ""))
    message = str(body.get("message", ""))
    data = body.get("data")
    cls, hint = _classify_api_error(status, code, message, url, https, auth_mode)
    return cls(
        f"HTTP {status} {code}: {message}",
        status=status,
        code=code,
        data=data,
        method=method,
        url=url,
        retry_after=retry_after,
        hint=hint,
    )


def _not_json_hint(status: int) -> str:
    if status in (401, 403):
        return (
            "a firewall, security plugin or login page answered instead of WooCommerce; "
            "allow /wp-json/ through it"
        )
    if status >= 500:
        return "the site or a proxy in front of it failed; check that the site loads in a browser"
    if 200 <= status < 300:
        return "the REST API is blocked or redirected to a page; check that /wp-json/ returns JSON"
    return "something other than WooCommerce answered; check the URL and that /wp-json/ answers"


def _classify_api_error(
    status: int, code: str, message: str, url: str, https: bool, auth_mode: str
) -> tuple[type[WooAPIError], str]:
    """The error class (from status and code only) and a hint for people.

    The hint may follow WooCommerce's English message, since it is only
    wording: on a translated store the generic hint is shown instead. No
    decision (retry, look up, pause, read-only) may depend on it.
    """
    if code == "rest_no_route":
        if "/wc/v3/" in url or url.endswith("/wc/v3"):
            return NoRouteError, (
                "WooCommerce's REST API (wc/v3) was not found at this URL: check that the URL "
                "is the site's address, that WooCommerce is installed and active, and that "
                "permalinks are not set to 'Plain'"
            )
        return NoRouteError, "this route does not exist on the store (plugin missing or inactive?)"
    if status not in (401, 403):
        return WooAPIError, ""
    return AuthError, _auth_hint(status, code, message.lower(), https, auth_mode)


def _auth_hint(status: int, code: str, lowered: str, https: bool, auth_mode: str) -> str:
    if "write permission" in lowered:
        return (
            "the API key is read-only; give it Read/Write permission in WooCommerce > Settings > "
            "Advanced > REST API (a read-only key can only serve a read-only till)"
        )
    if "read permission" in lowered:
        return (
            "the API key is write-only; give it Read/Write permission in WooCommerce > "
            "Settings > Advanced > REST API"
        )
    if code == "woocommerce_rest_authentication_missing_parameter":
        return (
            "part of the OAuth signature did not arrive (a proxy or cache may drop query "
            "parameters); check the URL, or use https"
        )
    if "consumer key is invalid" in lowered:
        return (
            "the consumer key is not known to this store: check --key (it starts with ck_) "
            "or create a key in WooCommerce > Settings > Advanced > REST API"
        )
    if "signature" in lowered and "does not match" in lowered:
        return (
            "the consumer secret is wrong (the OAuth signature did not match): check --secret; "
            "if it is right, use exactly the site's address from WordPress > Settings > General "
            "(WooCommerce signs with the site's home URL)"
        )
    if "consumer secret is invalid" in lowered:
        return "the consumer secret is wrong: check --secret"
    if "timestamp" in lowered:
        return (
            "the till's clock and the store's differ by more than 15 minutes: "
            "set the till's clock (or the server's) right"
        )
    if "nonce" in lowered:
        return "the store saw this request's nonce before; retry in a moment"
    if code.startswith("woocommerce_rest_cannot_") or code == "rest_forbidden":
        if status == 403:
            return (
                "the key's WordPress user may not do this: create the key for an "
                "Administrator or Shop Manager"
            )
        if auth_mode == "oauth":
            return (
                "WooCommerce treated the request as anonymous: the OAuth signature was not "
                "seen (a proxy may drop query parameters) - check the URL and its scheme"
            )
        if not https:
            return (
                "WooCommerce ignored the keys: over plain http they must be sent with "
                "OAuth 1.0a; check the URL scheme (http vs https)"
            )
        if auth_mode == "query":
            return (
                "WooCommerce did not accept the keys: the consumer key is unknown to this "
                "store (check --key) or the query string was dropped"
            )
        return (
            "WooCommerce did not accept the keys: the consumer key is unknown to this store "
            "(check --key), or a proxy strips the Authorization header (try --auth-in-query)"
        )
    return "the store refused the API keys; check --key and --secret"
