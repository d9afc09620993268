"""One place that decides what an outcome means: success, retry, give up, pause, or look up.

Everything that retries (the client's own retry loop, the order outbox,
the catalog sync) asks :func:`classify` instead of inspecting statuses.
"""

from __future__ import annotations

import enum
from typing import Any

import httpx2

from onetill.woo.errors import (
    AmbiguousWriteError,
    AuthError,
    CertificateError,
    InsecureTransportError,
    NotJSONError,
    PayloadError,
    ResponseError,
    TransportError,
    UnreadableAnswerError,
    WooError,
)
from onetill.woo.fate import post_was_refused

__all__ = ["Outcome", "classify", "is_transient_status"]


class Outcome(enum.Enum):
    """What to do after a request."""

    SUCCESS = "success"  # done
    TRANSIENT = "transient"  # nothing happened on the store; retry later with backoff
    PERMANENT = "permanent"  # the store refused it for a reason a retry will not change
    AUTH = "auth"  # the keys do not work: pause everything, tell the merchant
    AMBIGUOUS = "ambiguous"  # a write may have happened: look it up before resending


def is_transient_status(status: int) -> bool:
    """Statuses worth retrying: rate limits (429), timeouts (408), server/proxy errors (5xx).

    Core WooCommerce has no rate limiter; 429/503 come from hosts and WAFs.
    """
    return status in (408, 425, 429) or status >= 500


def classify(outcome: Any, *, write: bool = False) -> Outcome:
    """Classify a response (``WooResponse`` or ``httpx2.Response``) or an exception.

    ``write=True`` classifies what a write (a POST) that may have left ended
    with: anything that does not prove the store refused it or never saw it
    is AMBIGUOUS (look it up before any resend). That covers an exception we
    do not know (a raw ``OSError``, a bug), a 401/403 (a copy may have got
    through; WooCommerce's codes do not tell a replayed nonce from a wrong
    key), a 5xx that does not prove the request never reached PHP, a 2xx
    answer that cannot be read (``UnreadableAnswerError``), and a transport
    error raised after the request may have been sent. A ``PayloadError``
    (our own payload did not fit its model) is PERMANENT: it is raised
    before anything is sent.

    * 2xx -> SUCCESS
    * :class:`TransportError` -> TRANSIENT (the request did not get through,
      or was idempotent), except a certificate problem -> PERMANENT
    * :class:`AmbiguousWriteError` -> AMBIGUOUS
    * :class:`AuthError`, or a non-JSON 401/403 (WAF, login page) -> AUTH
    * 408/429/5xx -> TRANSIENT; a non-JSON 2xx -> PERMANENT (something other
      than WooCommerce answered, e.g. a security plugin); other 4xx ->
      PERMANENT
    * anything else (a bug, a bad config) -> PERMANENT
    """
    if isinstance(outcome, BaseException):
        return _classify_write_error(outcome) if write else _classify_error(outcome)
    status = getattr(outcome, "status", None)
    if status is None and isinstance(outcome, httpx2.Response):
        status = outcome.status_code
    if not isinstance(status, int):
        raise TypeError(f"cannot classify {type(outcome).__name__}: not a response or an error")
    if 200 <= status < 300:
        return Outcome.SUCCESS
    return _classify_status(status)


def _classify_error(exc: BaseException) -> Outcome:
    if isinstance(exc, AmbiguousWriteError):
        return Outcome.AMBIGUOUS
    if isinstance(exc, CertificateError):
        return Outcome.PERMANENT
    if isinstance(exc, TransportError):
        return Outcome.TRANSIENT
    if isinstance(exc, AuthError):
        return Outcome.AUTH
    if isinstance(exc, NotJSONError) and 200 <= exc.status < 300:
        return Outcome.PERMANENT
    if isinstance(exc, ResponseError):
        return _classify_status(exc.status)
    if isinstance(exc, WooError):  # insecure transport, bad payload, bad config
        return Outcome.PERMANENT
    if isinstance(exc, httpx2.TimeoutException | httpx2.NetworkError):
        # A raw httpx error that escaped translation: we cannot know whether
        # it was sent, so treat it as the cautious case.
        return Outcome.AMBIGUOUS
    return Outcome.PERMANENT


def _classify_write_error(exc: BaseException) -> Outcome:
    if isinstance(exc, AmbiguousWriteError):
        return Outcome.AMBIGUOUS
    if isinstance(exc, CertificateError):
        return Outcome.PERMANENT  # no connection was ever made
    if isinstance(exc, TransportError):
        return Outcome.AMBIGUOUS if exc.sent else Outcome.TRANSIENT
    if isinstance(exc, ResponseError):
        if 200 <= exc.status < 300 or exc.status in (401, 403):
            return Outcome.AMBIGUOUS
        if exc.status >= 500 and not post_was_refused(exc):
            return Outcome.AMBIGUOUS
        return _classify_status(exc.status)
    if isinstance(exc, UnreadableAnswerError):
        return Outcome.AMBIGUOUS  # the store answered, and the answer was unusable
    if isinstance(exc, PayloadError | InsecureTransportError):
        # Our own payload was invalid, or plain http was refused: raised here,
        # before anything was sent. Nothing reached the store.
        return Outcome.PERMANENT  # refused here, before anything was sent
    return Outcome.AMBIGUOUS


def _classify_status(status: int) -> Outcome:
    if status in (401, 403):
        return Outcome.AUTH
    if is_transient_status(status):
        return Outcome.TRANSIENT
    return Outcome.PERMANENT
