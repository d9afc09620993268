"""How a request proves who it is to WooCommerce.

* ``http://`` stores: OAuth 1.0a one-legged, HMAC-SHA256, parameters in the
  query string. WooCommerce ignores Basic auth and query keys over plain
  http (the request runs anonymous), and sending the secret in clear would
  leak it anyway.
* ``https://`` stores: Basic auth, or ``consumer_key``/``consumer_secret`` in
  the query string for hosts that strip the ``Authorization`` header.

Both are ``httpx2.Auth`` flows, so every attempt (every retry) is signed
afresh with a new nonce and timestamp: WooCommerce rejects a nonce reused
within 15 minutes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Generator, Iterable
from urllib.parse import quote

import httpx2

from onetill.woo.errors import InsecureTransportError
from onetill.woo.redact import mask_key

__all__ = [
    "BasicAuth",
    "OAuth1",
    "QueryKeyAuth",
    "oauth_base_string",
    "oauth_clock_error",
    "oauth_signature",
    "rfc3986",
]


def rfc3986(text: str) -> str:
    """PHP ``rawurlencode``: UTF-8, everything but ``A-Za-z0-9-_.~`` percent-encoded."""
    return quote(text, safe="~")


def oauth_base_string(method: str, base_url: str, params: Iterable[tuple[str, str]]) -> str:
    """The string WooCommerce signs, built exactly as it rebuilds it on the server.

    Parameters (query + ``oauth_*``, never the JSON body) are sorted by raw
    key in byte order (PHP ``strcmp``), each key and value is
    ``rawurlencode``d, and each ``k=v`` pair is encoded *again* before the
    pairs are joined with ``%26``. ``base_url`` must be the site's home URL
    plus the request path: WooCommerce builds it from ``home_url``, not from
    the ``Host`` header.
    """
    pairs = sorted(params, key=lambda kv: (kv[0].encode("utf-8"), kv[1].encode("utf-8")))
    joined = "%26".join(rfc3986(rfc3986(k) + "=" + rfc3986(v)) for k, v in pairs)
    return f"{method.upper()}&{rfc3986(base_url)}&{joined}"


def oauth_signature(base_string: str, consumer_secret: str, method: str = "HMAC-SHA256") -> str:
    """Base64 HMAC of ``base_string`` keyed with ``consumer_secret + "&"`` (no token)."""
    if method == "HMAC-SHA256":
        digest = hashlib.sha256
    elif method == "HMAC-SHA1":
        digest = hashlib.sha1
    else:
        raise ValueError(f"unsupported OAuth signature method {method!r}")
    mac = hmac.new((consumer_secret + "&").encode("utf-8"), base_string.encode("utf-8"), digest)
    return base64.b64encode(mac.digest()).decode("ascii")


def oauth_clock_error(response: httpx2.Response) -> float | None:
    """Seconds between the OAuth timestamp a request was signed with and the store's clock.

    From the answer's ``Date`` (plus ``Age`` from a cache); None when the
    request was not OAuth-signed or the answer has no readable date. Beyond
    WooCommerce's 15 minutes it explains a 401 by the till's clock, not the keys.
    """
    from onetill.woo.dates import parse_http_date

    try:
        stamp = response.request.url.params.get("oauth_timestamp", "")
    except RuntimeError:  # a response built without its request
        return None
    server = parse_http_date(response.headers.get("date"))
    if server is None or not (stamp.isascii() and stamp.isdigit()):
        return None
    age = response.headers.get("age", "").strip()
    cached = int(age) if age.isascii() and age.isdigit() and len(age) < 10 else 0
    return int(stamp) - (server.timestamp() + cached)


class OAuth1(httpx2.Auth):
    """OAuth 1.0a one-legged signing for plain-http stores.

    ``clock`` returns the Unix time to sign with; the client passes one that
    adds its measured clock-skew correction, because WooCommerce refuses
    timestamps more than 15 minutes away from its own clock.
    """

    def __init__(
        self,
        key: str,
        secret: str,
        *,
        clock: Callable[[], float] = time.time,
        signature_method: str = "HMAC-SHA256",
    ) -> None:
        self._key = key
        self._secret = secret
        self._clock = clock
        self._method = signature_method

    def __repr__(self) -> str:
        return f"OAuth1(key={mask_key(self._key)!r})"

    def auth_flow(
        self, request: httpx2.Request
    ) -> Generator[httpx2.Request, httpx2.Response, None]:
        url = request.url
        # Drop any oauth_* left from an earlier attempt (or echoed by a Link
        # header) so the request carries exactly one fresh signature.
        params = [(k, v) for k, v in url.params.multi_items() if not k.startswith("oauth_")]
        oauth = {
            "oauth_consumer_key": self._key,
            "oauth_nonce": secrets.token_hex(16),
            "oauth_signature_method": self._method,
            "oauth_timestamp": str(int(self._clock())),
        }
        base_url = str(url.copy_with(query=None, fragment=None))
        base = oauth_base_string(request.method, base_url, [*params, *oauth.items()])
        signature = oauth_signature(base, self._secret, self._method)
        query = [*params, *oauth.items(), ("oauth_signature", signature)]
        request.url = url.copy_with(params=httpx2.QueryParams(tuple(query)))
        yield request


class BasicAuth(httpx2.Auth):
    """HTTP Basic ``ck:cs``, refused unless the request goes over https."""

    def __init__(self, key: str, secret: str) -> None:
        token = base64.b64encode(f"{key}:{secret}".encode()).decode("ascii")
        self._header = f"Basic {token}"
        self._key = key

    def __repr__(self) -> str:
        return f"BasicAuth(key={mask_key(self._key)!r})"

    def auth_flow(
        self, request: httpx2.Request
    ) -> Generator[httpx2.Request, httpx2.Response, None]:
        _require_https(request)
        request.headers["Authorization"] = self._header
        yield request


class QueryKeyAuth(httpx2.Auth):
    """``consumer_key``/``consumer_secret`` query parameters, https only.

    For hosts whose proxy strips the ``Authorization`` header. The secret is
    then in the URL: acceptable only because TLS encrypts it.
    """

    def __init__(self, key: str, secret: str) -> None:
        self._key = key
        self._secret = secret

    def __repr__(self) -> str:
        return f"QueryKeyAuth(key={mask_key(self._key)!r})"

    def auth_flow(
        self, request: httpx2.Request
    ) -> Generator[httpx2.Request, httpx2.Response, None]:
        _require_https(request)
        params = [
            (k, v)
            for k, v in request.url.params.multi_items()
            if k not in ("consumer_key", "consumer_secret")
        ]
        params += [("consumer_key", self._key), ("consumer_secret", self._secret)]
        request.url = request.url.copy_with(params=httpx2.QueryParams(tuple(params)))
        yield request


def _require_https(request: httpx2.Request) -> None:
    if request.url.scheme != "https":
        raise InsecureTransportError(
            f"refusing to send the consumer secret in clear to {request.url.host} over http",
            hint="use the store's https:// URL, or let OneTill sign with OAuth over http",
        )
