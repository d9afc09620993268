"""Keeping the consumer key and secret out of error text, reprs and log lines.

The credentials travel in places a store (or something in front of it) can
echo back: query-string keys in a redirect's ``Location`` or a WAF page that
prints the requested URL, a Basic token in a debug page. Every error the
client raises passes through :meth:`Redactor.scrub_error`, and the
``httpx2`` request log line (INFO, with the full URL) is rewritten by
:class:`UrlLogFilter` before any handler sees it.
"""

from __future__ import annotations

import base64
import logging
import re
from typing import Any
from urllib.parse import quote, quote_plus

import httpx2

from onetill.woo.errors import WooError

__all__ = [
    "REDACTED",
    "Redactor",
    "UrlLogFilter",
    "install_log_filter",
    "mask_key",
    "safe_url",
    "scrub_query_credentials",
]

REDACTED = "[redacted]"
_SECRET_PARAMS = ("consumer_key", "consumer_secret")


def safe_url(url: httpx2.URL | str) -> str:
    """``url`` without credentials or OAuth parameters: safe for messages and logs."""
    parsed = httpx2.URL(url) if isinstance(url, str) else url
    params = [
        (k, v)
        for k, v in parsed.params.multi_items()
        if not k.startswith("oauth_") and k not in _SECRET_PARAMS
    ]
    clean = parsed.copy_with(params=httpx2.QueryParams(tuple(params)) if params else None)
    if clean.userinfo:
        clean = clean.copy_with(username=None, password=None)
    return str(clean)


def mask_key(key: str) -> str:
    """A consumer key as reprs show it: enough to tell two keys apart, not to use one."""
    return f"{key[:3]}...{key[-4:]}" if len(key) > 10 else "..."


class Redactor:
    """Replaces a key pair, in every form it is sent in, by ``[redacted]``."""

    def __init__(self, key: str, secret: str) -> None:
        token = base64.b64encode(f"{key}:{secret}".encode()).decode("ascii")
        forms = {token}
        for value in (secret, key):
            forms.update({value, quote(value, safe=""), quote_plus(value)})
        # Longest first, so a form that contains another is replaced whole.
        self._forms = sorted((f for f in forms if len(f) >= 4), key=len, reverse=True)

    def text(self, value: str) -> str:
        for form in self._forms:
            value = value.replace(form, REDACTED)
        return value

    def data(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.data(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.data(v) for v in value]
        return value

    def scrub_error(self, error: WooError) -> WooError:
        """``error`` with the credentials removed from everything it would print."""
        error.message = self.text(error.message)
        error.hint = self.text(error.hint)
        error.args = (error.message,)
        for name in ("text", "url"):
            value = getattr(error, name, None)
            if isinstance(value, str):
                setattr(error, name, self.text(value))
        if hasattr(error, "data"):
            error.data = self.data(error.data)
        return error


# A credential in any query string: WooCommerce's Link header echoes the
# request's own query (oauth_*, or the keys themselves with --auth-in-query).
_QUERY_CREDENTIAL = re.compile(r"((?:oauth_[a-z_]+|consumer_key|consumer_secret)=)[^&\s>'\"]*")
_LOGGERS = (
    "httpx2",
    "httpcore2.http11",
    "httpcore2.http2",
    "httpcore2.connection",
    "httpcore2.proxy",
    "httpcore2.socks",
)


def scrub_query_credentials(text: str) -> str:
    """``text`` with the values of credential query parameters replaced."""
    return _QUERY_CREDENTIAL.sub(rf"\1{REDACTED}", text)


class UrlLogFilter(logging.Filter):
    """Strips credentials from the HTTP stack's log records, whoever formats them.

    ``httpx2`` logs every request's full URL at INFO; ``httpcore2`` logs the
    response headers at DEBUG, including the ``Link`` header in which
    WooCommerce echoes the request's query.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(_scrub_arg(a) for a in record.args)
        if isinstance(record.msg, str) and "=" in record.msg:
            record.msg = scrub_query_credentials(record.msg)
        return True


def _scrub_arg(value: object) -> object:
    if isinstance(value, httpx2.URL):
        return safe_url(value)
    if isinstance(value, str | bytes):
        text = value if isinstance(value, str) else value.decode("latin-1")
        return scrub_query_credentials(text)
    return value


def install_log_filter() -> None:
    """Attach :class:`UrlLogFilter` once to each logger of the HTTP stack."""
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, UrlLogFilter) for f in logger.filters):
            logger.addFilter(UrlLogFilter())
