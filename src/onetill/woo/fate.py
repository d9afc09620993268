"""What a failed request tells about its fate: never sent, refused, or unknown.

WooCommerce has no idempotency: the same ``POST /orders`` twice makes two
orders and reduces stock twice. So a write is only called "not applied" when
that is provable, and everything else becomes :class:`AmbiguousWriteError`
(the outbox then looks the order up before any resend):

* provably unsent: no connection was made or assigned (connect refused or
  timed out, DNS, TLS, pool timeout). httpcore raises these only before the
  first byte of a request is written;
* provably refused: statuses sent by something in front of PHP that never
  forwards the request (see ``UNFORWARDED_5XX``), 429, a 503 with
  ``Retry-After``, authentication failures other than a replayed nonce;
* anything after a byte may have left (write/read errors and timeouts, a
  connection closed unanswered, even on a reused keep-alive connection:
  httpx2 never resends on its own) is unknown.
"""

from __future__ import annotations

import ssl

import httpx2

from onetill.woo.errors import (
    AmbiguousWriteError,
    CertificateError,
    ResponseError,
    TransportError,
    WooError,
)

__all__ = [
    "IDEMPOTENT",
    "NOT_SENT",
    "UNFORWARDED_5XX",
    "post_was_refused",
    "translate_transport_error",
]

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# A 5xx answer to a POST proves nothing: PHP (500), a proxy that gave up
# waiting (502/504, Cloudflare 520/522/524) or a cache in front of the site
# (Varnish's 503 "Backend fetch failed" after a first-byte timeout) can all
# answer after WooCommerce saved the order. Only these are sent by something
# in front of PHP that never forwarded the request: method or HTTP version
# refused (501/505), Cloudflare unable to reach the origin (521, 523, 525,
# 526, 530). A 503 carrying Retry-After (maintenance mode, a host's rate
# limiter) is a refusal too; see ``post_was_refused``.
UNFORWARDED_5XX = frozenset({501, 505, 521, 523, 525, 526, 530})
# httpx errors raised before a single byte of the request left.
NOT_SENT = (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout, httpx2.ProxyError)


def post_was_refused(exc: ResponseError) -> bool:
    """A 5xx on a POST that proves the request never reached WooCommerce."""
    if exc.status in UNFORWARDED_5XX:
        return True
    return exc.status == 503 and exc.retry_after is not None


def _untrusted_certificate(exc: BaseException) -> bool:
    """Whether the TLS handshake refused the store's certificate (by type, not by text)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLCertVerificationError):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def translate_transport_error(exc: httpx2.HTTPError, method: str, url: str) -> WooError:
    """The error for a request that got no answer: unsent, untrusted TLS, ambiguous or sent."""
    host = httpx2.URL(url).host
    if isinstance(exc, NOT_SENT):
        text = str(exc) or type(exc).__name__
        if _untrusted_certificate(exc):
            return CertificateError(
                f"the TLS certificate of {host} is not trusted: {text}",
                method=method,
                url=url,
                hint="pass --ca-file with the store's CA certificate, or --insecure "
                "for a test store",
            )
        return TransportError(
            f"cannot reach {host}: {text}",
            method=method,
            url=url,
            sent=False,
            hint="check the URL, the network, and that the store is online",
        )
    detail = str(exc) or type(exc).__name__
    if method not in IDEMPOTENT:
        return AmbiguousWriteError(
            f"{method} {url} got no answer ({detail}) after it may have reached the store",
            method=method,
            url=url,
        )
    return TransportError(
        f"{method} {url} got no answer: {detail}",
        method=method,
        url=url,
        sent=True,
        hint="the store is slow or the connection dropped; try again later",
    )
