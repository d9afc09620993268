"""Logging for the engine: human lines by default, JSON lines on request.

Secrets (consumer key secret, webhook secret, OAuth signatures) must never
reach a log, whoever formats the record: ``RedactingFilter`` sits on every
handler we install and rewrites the final message (arguments and exception
text included) before any formatter sees it.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import traceback
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, TextIO

__all__ = ["JSONFormatter", "RedactingFilter", "setup_logging"]

REDACTED = "[redacted]"

# Values that are secret whatever their source: query/form parameters and
# headers that carry credentials, and WooCommerce's key formats.
_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(
        r"(?i)\b(consumer_secret|oauth_signature|webhook_secret|secret|password|token)"
        r"(['\"]?\s*[=:]\s*['\"]?)([^\s&'\",}]+)"
    ),
    re.compile(r"(?i)\b(authorization)(['\"]?\s*[=:]\s*['\"]?)([^'\"\r\n]+)"),
    re.compile(r"(?i)\b(x-wc-webhook-signature)(['\"]?\s*[=:]\s*['\"]?)([^\s'\",}]+)"),
    re.compile(r"()()\bcs_[A-Za-z0-9]{8,}"),
)


class RedactingFilter(logging.Filter):
    """Replace known secret values and secret-looking fields by ``[redacted]``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        for s in secrets:
            self.add_secret(s)

    def add_secret(self, value: str | None) -> None:
        # Very short values would redact ordinary words; real secrets are long.
        if value and len(value) >= 6:
            self._secrets.add(value)

    def redact(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, REDACTED)
        for pattern in _PATTERNS:
            text = pattern.sub(_replacement, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not kill logging
            message = str(record.msg)
        record.msg = self.redact(message)
        record.args = None
        if record.exc_info:
            text = "".join(traceback.format_exception(*record.exc_info))
            record.exc_text = self.redact(text.rstrip("\n"))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True


def _replacement(match: re.Match[str]) -> str:
    if match.group(1) or match.group(2):
        return f"{match.group(1)}{match.group(2)}{REDACTED}"
    return REDACTED


class JSONFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, extras."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_text:
            data["exception"] = record.exc_text
        return json.dumps(data, ensure_ascii=False)


_HUMAN_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def setup_logging(
    *, json_lines: bool = False, level: int = logging.INFO, secrets: Iterable[str] = (),
    stream: TextIO | None = None,
) -> RedactingFilter:
    """Send the ``onetill`` and ``uvicorn`` loggers to ``stream`` (stderr).

    Returns the filter so the caller can register secrets learned later.
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    redactor = RedactingFilter(secrets)
    handler.addFilter(redactor)
    if json_lines:
        handler.setFormatter(JSONFormatter())
    else:
        handler.setFormatter(logging.Formatter(_HUMAN_FORMAT, "%H:%M:%S"))
    handler.set_name("onetill-engine")
    # At debug level the HTTP libraries' own lines (every request) are shown too.
    names = ("onetill", "uvicorn", *(("httpx2", "httpcore2") if level <= logging.DEBUG else ()))
    for name in names:
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            if old.get_name() == "onetill-engine":
                logger.removeHandler(old)
        logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = False
    # Access lines are noise on a till (SSE and status polls); warnings only.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    return redactor
