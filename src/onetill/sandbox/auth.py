"""WooCommerce's REST authentication, server side (``class-wc-rest-authentication.php``).

Written independently of ``onetill.woo`` on purpose: the sandbox is the other
side of the wire, so a signing bug in the client must not be mirrored here.

Rules (WooCommerce 11):
- Keys only authenticate routes under ``wc/`` or ``wc-*`` namespaces.
- Over ``https`` (``is_ssl()``): Basic auth or ``?consumer_key=&consumer_secret=``.
  Over plain ``http`` both are ignored: the request runs anonymous.
- OAuth 1.0a one-legged (HMAC-SHA1/SHA256), parameters in the query, the
  form body or an ``Authorization: OAuth`` header. Base string:
  ``METHOD&rawurlencode(home_url + path)&`` + the sorted parameters, each
  ``rawurlencode(rawurlencode(k) = rawurlencode(v))`` joined by ``%26``; the
  HMAC key is ``secret + "&"``. JSON bodies are not signed.
- ``oauth_timestamp`` within +-15 minutes; used nonces are remembered per
  timestamp (WooCommerce keys its nonce list by timestamp) for 15 minutes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import quote, unquote

from .errors import RestError

__all__ = ["Caller", "KeyRing", "is_key_route", "sign", "signature_base_string"]

NONCE_WINDOW_S = 15 * 60
_REQUIRED = (
    "oauth_consumer_key",
    "oauth_timestamp",
    "oauth_nonce",
    "oauth_signature",
    "oauth_signature_method",
)
_HEADER_PARAM = re.compile(r'(oauth_[a-z_-]*)=(?:"([^"]*)"|([^,]*))')


@dataclass(frozen=True)
class Caller:
    """Who made a request: a consumer key, or nobody (anonymous)."""

    key: str | None = None
    read_only: bool = False

    @property
    def anonymous(self) -> bool:
        return self.key is None


def _rawurlencode(value: str) -> str:
    # PHP rawurlencode: RFC 3986 unreserved characters stay, everything else is %XX.
    return quote(value, safe="-_.~")


def signature_base_string(method: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """The OAuth base string exactly as WooCommerce builds it (``oauth_signature`` excluded)."""
    pairs = sorted(
        ((k, v) for k, v in params if k != "oauth_signature"),
        key=lambda kv: (kv[0].encode(), kv[1].encode()),
    )
    query = "%26".join(_rawurlencode(f"{_rawurlencode(k)}={_rawurlencode(v)}") for k, v in pairs)
    return f"{method.upper()}&{_rawurlencode(url)}&{query}"


def sign(base: str, secret: str, method: str) -> str:
    algo = hashlib.sha1 if method == "HMAC-SHA1" else hashlib.sha256
    return base64.b64encode(hmac.new(f"{secret}&".encode(), base.encode(), algo).digest()).decode()


def is_key_route(route: str) -> bool:
    """API keys only reach ``wc/...`` and ``wc-*`` namespaces (route without ``/wp-json``)."""
    return route.startswith("/wc/") or route.startswith("/wc-")


def _auth_error(message: str) -> RestError:
    return RestError(401, "woocommerce_rest_authentication_error", message)


@dataclass
class KeyRing:
    """The store's API keys, revocations and used nonces."""

    # repr=False: secrets never end up in a log line or a traceback.
    keys: dict[str, str] = field(repr=False)
    read_only_keys: dict[str, str] = field(default_factory=dict, repr=False)
    _nonces: dict[str, dict[int, str]] = field(default_factory=dict, repr=False)

    def secret_of(self, key: str) -> tuple[str, bool] | None:
        if key in self.keys:
            return self.keys[key], False
        if key in self.read_only_keys:
            return self.read_only_keys[key], True
        return None

    def revoke(self, key: str) -> None:
        """The key stops working (as if deleted in WooCommerce > Settings > REST API)."""
        self.keys.pop(key, None)
        self.read_only_keys.pop(key, None)

    def authenticate(
        self,
        *,
        method: str,
        url: str,
        https: bool,
        query: list[tuple[str, str]],
        form: list[tuple[str, str]],
        headers: Mapping[str, str],
        now: int,
    ) -> Caller:
        """Authenticate one request to a key route, or raise the 401 WooCommerce sends.

        ``url`` is ``home_url + path`` (the signed base URL), never the Host header.
        """
        if https:
            caller = self._basic(query, headers)
            if caller is not None:
                return caller
        oauth = self._oauth_params(query, form, headers)
        if oauth is None:
            return Caller()
        params, header_params = oauth
        missing = [p for p in _REQUIRED if not dict(header_params + params).get(p)]
        if missing:
            raise RestError(
                401,
                "woocommerce_rest_authentication_missing_parameter",
                f"Missing OAuth parameter {', '.join(missing)}",
            )
        merged = dict(params + header_params)
        found = self.secret_of(merged["oauth_consumer_key"])
        if found is None:
            raise _auth_error("Consumer key is invalid.")
        secret, read_only = found
        sig_method = merged["oauth_signature_method"]
        if sig_method not in ("HMAC-SHA1", "HMAC-SHA256"):
            raise _auth_error("Invalid signature - signature method is invalid.")
        base = signature_base_string(method, url, params + header_params)
        if not hmac.compare_digest(sign(base, secret, sig_method), merged["oauth_signature"]):
            raise _auth_error("Invalid signature - provided signature does not match.")
        self._check_timestamp_and_nonce(merged, now)
        return Caller(merged["oauth_consumer_key"], read_only)

    def _basic(self, query: list[tuple[str, str]], headers: Mapping[str, str]) -> Caller | None:
        header = headers.get("authorization", "")
        key = secret = None
        if header[:6].lower() == "basic ":
            try:
                key, _, secret = base64.b64decode(header[6:].strip()).decode().partition(":")
            except ValueError:
                key = None
        if key is None:
            q = dict(query)
            if "consumer_key" in q and "consumer_secret" in q:
                key, secret = q["consumer_key"], q["consumer_secret"]
        if key is None:
            return None
        found = self.secret_of(key)
        if found is None:
            raise _auth_error("Consumer key is invalid.")
        if not hmac.compare_digest(found[0].encode(), (secret or "").encode()):
            raise _auth_error("Consumer secret is invalid.")
        return Caller(key, found[1])

    @staticmethod
    def _oauth_params(
        query: list[tuple[str, str]], form: list[tuple[str, str]], headers: Mapping[str, str]
    ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]] | None:
        # WooCommerce signs array_merge($_GET, $_POST): PHP keeps the last
        # value of a repeated query key, and a form field overrides a query one.
        params = _php_signed_params(list(query) + list(form))
        header = headers.get("authorization", "").strip()
        header_params: list[tuple[str, str]] = []
        if header[:6].lower() == "oauth ":
            for name, quoted, bare in _HEADER_PARAM.findall(header[6:]):
                header_params.append((name, unquote(quoted or bare)))
        if not header_params and not any(k.startswith("oauth_") for k, _ in params):
            return None
        return params, header_params

    def _check_timestamp_and_nonce(self, params: dict[str, str], now: int) -> None:
        try:
            ts = int(params["oauth_timestamp"])
        except ValueError:
            ts = 0
        if ts < now - NONCE_WINDOW_S or ts > now + NONCE_WINDOW_S:
            raise _auth_error("Invalid timestamp.")
        used = self._nonces.setdefault(params["oauth_consumer_key"], {})
        nonce = params["oauth_nonce"]
        if nonce in used.values():
            raise _auth_error("Invalid nonce - nonce has already been used.")
        used[ts] = nonce
        for old in [t for t in used if t < now - NONCE_WINDOW_S]:
            del used[old]


def _php_signed_params(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The parameters WooCommerce signs, as PHP parsed them.

    PHP keeps the last value of a repeated key and turns ``key[]=a&key[]=b``
    into an array, which WooCommerce signs as ``key[0]=a``, ``key[1]=b``: a
    client that signs ``key[]`` as sent gets "Invalid signature" (the reason
    to send comma lists).
    """
    merged: dict[str, str | list[str]] = {}
    for key, value in pairs:
        if key.endswith("[]"):
            base = key[:-2]
            current = merged.get(base)
            if isinstance(current, list):
                current.append(value)
            else:
                merged[base] = [value]
        else:
            merged[key] = value
    out: list[tuple[str, str]] = []
    for key, kept in merged.items():
        if isinstance(kept, list):
            out.extend((f"{key}[{i}]", item) for i, item in enumerate(kept))
        else:
            out.append((key, kept))
    return out
