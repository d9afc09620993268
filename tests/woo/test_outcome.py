"""classify(): the one place deciding success / transient / permanent / auth / ambiguous."""

from __future__ import annotations

import httpx2
import pytest

from onetill.woo import Outcome, WooResponse, classify
from onetill.woo.errors import (
    AmbiguousWriteError,
    AuthError,
    CertificateError,
    InsecureTransportError,
    NotJSONError,
    PayloadError,
    TransportError,
    UnreadableAnswerError,
    WooAPIError,
)


def api_error(status: int, code: str = "x", cls: type[WooAPIError] = WooAPIError) -> WooAPIError:
    return cls("boom", status=status, code=code)


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        (
            WooResponse(
                status=201, headers=httpx2.Headers(), data={}, content=b"{}", server_time=None
            ),
            Outcome.SUCCESS,
        ),
        (httpx2.Response(200), Outcome.SUCCESS),
        (httpx2.Response(503), Outcome.TRANSIENT),
        (TransportError("refused", sent=False), Outcome.TRANSIENT),
        (CertificateError("self-signed"), Outcome.PERMANENT),
        (AmbiguousWriteError("timeout after send"), Outcome.AMBIGUOUS),
        (api_error(429), Outcome.TRANSIENT),
        (api_error(500), Outcome.TRANSIENT),
        (api_error(400, "rest_invalid_param"), Outcome.PERMANENT),
        (api_error(404), Outcome.PERMANENT),
        (api_error(410, "woocommerce_rest_already_trashed"), Outcome.PERMANENT),
        (api_error(413), Outcome.PERMANENT),
        (api_error(401, cls=AuthError), Outcome.AUTH),
        (api_error(403, cls=AuthError), Outcome.AUTH),
        (NotJSONError("waf", status=403, text="blocked"), Outcome.AUTH),
        (NotJSONError("proxy", status=502, text="bad gateway"), Outcome.TRANSIENT),
        (NotJSONError("login page", status=200, text="Log in"), Outcome.PERMANENT),
        (PayloadError("bad field"), Outcome.PERMANENT),
        (InsecureTransportError("http"), Outcome.PERMANENT),
        (ValueError("a bug"), Outcome.PERMANENT),
    ],
    ids=lambda v: type(v).__name__ if not isinstance(v, Outcome) else v.value,
)
def test_each_outcome_is_classified(outcome: object, expected: Outcome) -> None:
    assert classify(outcome) is expected


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        (AmbiguousWriteError("timeout after send"), Outcome.AMBIGUOUS),
        (TransportError("refused", sent=False), Outcome.TRANSIENT),
        (TransportError("read timeout", sent=True), Outcome.AMBIGUOUS),
        (CertificateError("self-signed"), Outcome.PERMANENT),
        (api_error(401, cls=AuthError), Outcome.AMBIGUOUS),
        (api_error(403, cls=AuthError), Outcome.AMBIGUOUS),
        (NotJSONError("waf", status=403, text="blocked"), Outcome.AMBIGUOUS),
        (api_error(500), Outcome.AMBIGUOUS),
        (api_error(503), Outcome.AMBIGUOUS),
        (api_error(501), Outcome.TRANSIENT),
        (api_error(429), Outcome.TRANSIENT),
        (api_error(400, "rest_invalid_param"), Outcome.PERMANENT),
        (NotJSONError("login page", status=200, text="Log in"), Outcome.AMBIGUOUS),
        (UnreadableAnswerError("the answer is unreadable"), Outcome.AMBIGUOUS),
        (PayloadError("our payload is invalid: never sent"), Outcome.PERMANENT),
        (InsecureTransportError("http"), Outcome.PERMANENT),
        (OSError("a raw socket error"), Outcome.AMBIGUOUS),
        (ValueError("a bug"), Outcome.AMBIGUOUS),
    ],
    ids=lambda v: type(v).__name__ if not isinstance(v, Outcome) else v.value,
)
def test_after_a_write_left_only_proof_of_refusal_is_not_ambiguous(
    outcome: object, expected: Outcome
) -> None:
    """What ended a POST that may have left: anything that does not prove the store refused
    it or never saw it (an unknown exception, any 401/403, a 5xx from PHP) is AMBIGUOUS."""
    assert classify(outcome, write=True) is expected


def test_classify_refuses_things_that_are_not_outcomes() -> None:
    with pytest.raises(TypeError):
        classify("200")
