"""The WooCommerce REST client: one object per store, safe to share between tasks.

What it takes care of so callers do not have to:

* authentication chosen by scheme (OAuth over http, Basic over https), each
  attempt signed afresh;
* retries of idempotent requests (GET, PUT, DELETE) on transient failures,
  with capped exponential backoff, full jitter and ``Retry-After``
  (``backoff.py``, the one backoff rule);
* never retrying a POST: when its fate is unknown it raises
  :class:`AmbiguousWriteError` and the caller looks the object up first.
  Any 401/403 to a POST is such an unknown fate: WooCommerce words its
  refusals in the site's language, and "nonce already used" (a copy of the
  request got there first) cannot be told from "wrong key" by status or
  code, so no refusal of a write is taken as proof that nothing was made;
* an adaptive limit on requests in flight (see ``limiter.py``);
* the server's clock: ``server_time`` on every response, and
  :meth:`WooClient.server_now`: the store's time as last heard in a
  ``Date`` header, advanced by a monotonic clock, so a step of the till's
  clock changes nothing that is measured with it (OAuth timestamps are
  signed with it too);
* turning every failure into an error of ``onetill.woo.errors``.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx2
import msgspec

from onetill.woo.auth import BasicAuth, OAuth1, QueryKeyAuth, oauth_clock_error
from onetill.woo.backoff import Backoff
from onetill.woo.dates import parse_http_date
from onetill.woo.errors import (
    AmbiguousWriteError,
    AuthError,
    CertificateError,
    InsecureTransportError,
    ResponseError,
    TransportError,
    WooError,
)
from onetill.woo.fate import IDEMPOTENT, translate_transport_error
from onetill.woo.limiter import AdaptiveLimiter
from onetill.woo.outcome import Outcome, classify, is_transient_status
from onetill.woo.params import encode_params, merge_query
from onetill.woo.redact import Redactor, install_log_filter, mask_key, safe_url
from onetill.woo.responses import WooResponse, decode_json, error_from_response
from onetill.woo.store_clock import StoreClock
from onetill.woo.transport import StoreTransport

if TYPE_CHECKING:
    from onetill.woo.batch import BatchResult
    from onetill.woo.discovery import Discovery
    from onetill.woo.pagination import Page

__all__ = ["WooClient"]

CLOCK_SKEW_THRESHOLD_S = 60.0

# httpx2 logs every request's full URL at INFO: keys in the query (https
# with --auth-in-query) or oauth_* must not reach a log.
install_log_filter()


class WooClient:
    """Talks to one WooCommerce store's REST API (``{url}/wp-json/wc/v3/...``).

    ``url`` is the site's home URL (WordPress > Settings > General > Site
    Address): OAuth signatures are computed over it. ``verify`` is True,
    False, a CA bundle path or an ``ssl.SSLContext``. ``transport`` replaces
    the network (``httpx2.MockTransport``, ``httpx2.ASGITransport``).
    """

    def __init__(
        self,
        url: str,
        key: str,
        secret: str,
        transport: httpx2.AsyncBaseTransport | None = None,
        max_concurrency: int = 4,
        timeout: float = 30.0,
        verify: bool | str | ssl.SSLContext = True,
        auth_in_query: bool = False,
        *,
        max_attempts: int = 4,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        max_retry_after: float = 120.0,
        grow_after: int = 8,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        user_agent: str = "OneTill/0.1",
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be at least 1, got {max_concurrency}")
        # Public: a caller deciding when a write whose answer never came can
        # no longer be running on the store (the outbox) needs it.
        self.timeout_s = float(timeout)
        example = "give the site's address with its scheme, e.g. https://shop.example.com"
        try:
            parsed = httpx2.URL(url)
        except (httpx2.InvalidURL, TypeError, ValueError) as exc:
            raise WooError(f"not a store URL: {exc}", hint=example) from None
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise WooError(f"not a store URL: {url!r}", hint=example)
        if parsed.userinfo:
            # It would be sent, and printed in every message naming the URL.
            raise WooError(
                "the store URL holds a user name or password",
                hint="give the address without 'user:password@'; the API keys are the login",
            )
        self.url = str(parsed.copy_with(query=None, fragment=None)).rstrip("/")
        self.key = key
        self._redactor = Redactor(key, secret)
        self.https = parsed.scheme == "https"
        if auth_in_query and not self.https:
            raise InsecureTransportError(
                "refusing to put the consumer secret in the query string of a plain http URL",
                hint="over http OneTill signs with OAuth 1.0a; drop --auth-in-query or use https",
            )
        self.auth_mode = "query" if auth_in_query else ("basic" if self.https else "oauth")
        self._auth: httpx2.Auth
        if self.auth_mode == "oauth":
            self._auth = OAuth1(key, secret, clock=self._signing_clock)
        elif self.auth_mode == "basic":
            self._auth = BasicAuth(key, secret)
        else:
            self._auth = QueryKeyAuth(key, secret)
        if isinstance(verify, str):
            try:
                verify = ssl.create_default_context(cafile=verify)
            except (OSError, ssl.SSLError) as exc:
                raise WooError(
                    f"cannot use {verify!r} as a CA file: {exc}",
                    hint="pass a PEM file holding the certificate that signed the store's",
                ) from None
        self._http = httpx2.AsyncClient(
            # Writes on fresh connections, dead paths cut by the kernel (transport.py).
            transport=transport or StoreTransport(verify),
            verify=verify,
            timeout=httpx2.Timeout(timeout, connect=min(timeout, 10.0)),
            headers={"User-Agent": user_agent, "Accept": "application/json"},
            follow_redirects=False,
            trust_env=False,
        )
        self.max_concurrency = max_concurrency
        self.limiter = AdaptiveLimiter(max_concurrency, grow_after=grow_after)
        self.max_attempts = max(1, max_attempts)
        self.backoff = Backoff(backoff_base, backoff_cap)
        self.max_retry_after = max_retry_after
        self._sleep = sleep
        self._monotonic = monotonic
        #: server clock minus local clock, from the last ``Date`` header seen
        self.clock_skew_s: float | None = None
        #: the till's clock error worth reporting: the skew when over 60 s, else 0
        self.clock_offset_s = 0.0
        # The store's time from the Date headers heard (the till's one model of it).
        self._store_clock = StoreClock(monotonic)
        self._last_date: float | None = None  # the last Date heard (epoch seconds)

    def __repr__(self) -> str:
        return f"WooClient(url={self.url!r}, key={mask_key(self.key)!r}, auth={self.auth_mode!r})"

    async def __aenter__(self) -> WooClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    @property
    def concurrency(self) -> int:
        """The current adaptive limit on requests in flight."""
        return self.limiter.limit

    # -- requests ---------------------------------------------------------

    async def get(self, path: str, params: Mapping[str, Any] | None = None) -> WooResponse:
        return await self.request("GET", path, params)

    async def post(
        self,
        path: str,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> WooResponse:
        """A write; never retried (see :class:`AmbiguousWriteError`)."""
        return await self.request("POST", path, params, json=json, headers=headers)

    async def put(
        self, path: str, json: Any = None, params: Mapping[str, Any] | None = None
    ) -> WooResponse:
        return await self.request("PUT", path, params, json=json)

    async def delete(self, path: str, params: Mapping[str, Any] | None = None) -> WooResponse:
        return await self.request("DELETE", path, params)

    async def request(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        json: Any = None,
        namespace: str | None = "wc/v3",
        authenticate: bool | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> WooResponse:
        """Send one logical request (retried when idempotent) and return its 2xx answer.

        ``path`` is relative to ``/wp-json/{namespace}/``; ``namespace=""``
        is the ``/wp-json/`` index; ``namespace=None`` means ``path`` is
        relative to the site itself (no ``/wp-json/``). Keys are sent only to
        ``wc/...`` and ``wc-...`` namespaces unless ``authenticate`` says
        otherwise: since WooCommerce 11.1 other routes answer an API key with
        401. ``headers`` are added to every attempt (e.g. ``Idempotency-Key``
        for the companion plugin's ``POST orders``; such a POST is still never
        retried here).
        """
        method = method.upper()
        path, _, path_query = path.partition("?")
        url = self._url_for(namespace, path.partition("#")[0])
        query = merge_query(path_query.partition("#")[0], encode_params(params))
        content = msgspec.json.encode(json) if json is not None else None
        if authenticate is None:
            authenticate = namespace is not None and namespace.startswith(("wc/", "wc-"))
        auth = self._auth if authenticate else None
        retryable = method in IDEMPOTENT
        signing_retry_used = False
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._attempt(method, url, query, content, auth, headers)
            except TransportError as exc:
                if not retryable or isinstance(exc, CertificateError):
                    raise
                if attempt >= self.max_attempts:
                    raise
                await self._sleep(self.backoff.delay(attempt))
            except ResponseError as exc:
                if not retryable and classify(exc, write=True) is Outcome.AMBIGUOUS:
                    raise _ambiguous(method, exc) from exc
                if isinstance(exc, AuthError):
                    # A read refused while authenticating (a timestamp out of
                    # the 15-minute window after a clock step, a nonce seen
                    # before) is resent once, signed afresh with the store's
                    # clock as this very answer gave it. The status and the
                    # code say so, never the (translated) message; a dropped
                    # parameter is a setup problem that resending cannot fix.
                    missing = exc.code == MISSING_PARAMETER
                    if self.auth_mode != "oauth" or missing or signing_retry_used:
                        raise
                    signing_retry_used = True
                    continue
                if not (retryable and is_transient_status(exc.status)):
                    raise
                if attempt >= self.max_attempts:
                    raise
                if exc.retry_after is not None and exc.retry_after > self.max_retry_after:
                    raise
                # Retry-After is a minimum; "0" or a date already past must
                # not turn the backoff into a tight loop.
                await self._sleep(self.backoff.delay(attempt, retry_after=exc.retry_after))

    async def _attempt(
        self,
        method: str,
        url: str,
        query: list[tuple[str, str]],
        content: bytes | None,
        auth: httpx2.Auth | None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> WooResponse:
        headers = dict(extra_headers or {})
        if content is not None:
            headers["Content-Type"] = "application/json"
        request = self._http.build_request(
            method,
            url,
            params=httpx2.QueryParams(tuple(query)),
            content=content,
            headers=headers or None,
        )
        shown = self._redactor.text(safe_url(request.url))
        token = await self.limiter.acquire()
        try:
            return await self._exchange(request, method, shown, auth, token)
        except WooError as exc:
            # Whatever the store echoed (a redirect's Location, a WAF page
            # printing the URL) must not carry the keys into error text.
            self._redactor.scrub_error(exc)
            raise

    async def _exchange(
        self,
        request: httpx2.Request,
        method: str,
        shown: str,
        auth: httpx2.Auth | None,
        token: int,
    ) -> WooResponse:
        signal = "neutral"
        try:
            try:
                response = await self._http.send(request, auth=auth or httpx2.USE_CLIENT_DEFAULT)
            except httpx2.HTTPError as exc:
                if isinstance(exc, httpx2.TimeoutException):
                    signal = "overload"
                raise translate_transport_error(exc, method, shown) from exc
            server_time = parse_http_date(response.headers.get("date"))
            now = self._observe_clock(response.headers, server_time)
            status = response.status_code
            if status in (429, 503):
                signal = "overload"
            if 200 <= status < 300:
                ok, data = decode_json(response.content)
                if ok:
                    signal = "ok"
                    return WooResponse(
                        status=status,
                        headers=response.headers,
                        data=data,
                        content=response.content,
                        server_time=server_time,
                        url=shown,
                    )
            error = error_from_response(
                response,
                method=method,
                url=shown,
                https=self.https,
                auth_mode=self.auth_mode,
                now=now,
            )
            if isinstance(error, AuthError):
                error.clock_off_s = oauth_clock_error(response)
            raise error
        finally:
            self.limiter.release(token, signal)

    def _observe_clock(self, headers: httpx2.Headers, server: datetime | None) -> datetime:
        """Measure the till's clock against the server's ``Date``; return 'now' on the server."""
        local = time.time()
        if server is None:
            return self.server_now() or datetime.fromtimestamp(local, UTC)
        # A cache in front of the store (Age: N) serves an old Date: the
        # server's "now" is Date + Age. Without this a cached index page
        # could shift the signing clock and get every request refused.
        age = headers.get("age", "").strip()
        if age.isascii() and age.isdigit():
            server = server + timedelta(seconds=int(age))
        stamp = server.timestamp()
        skew = stamp - local
        self.clock_skew_s = skew
        # Never runs back for Date's one-second rounding (a due time just
        # passed stays passed); follows a store clock that was set back.
        self._store_clock.observe(server)
        self._last_date = stamp
        # Date has one-second resolution and includes latency: only correct
        # a clear error. WooCommerce allows +-15 minutes.
        self.clock_offset_s = round(skew) if abs(skew) > CLOCK_SKEW_THRESHOLD_S else 0.0
        return server

    def server_now(self) -> datetime | None:
        """The store's clock now, from the ``Date`` headers heard (``StoreClock``).

        None until a ``Date`` was heard. A step of the till's clock (NTP
        correcting an RTC kept in local time, a person setting it) changes
        nothing here: ages and due times measured with it cannot jump.
        """
        return self._store_clock.now()

    @property
    def last_heard_at(self) -> datetime | None:
        """The store's time (its ``Date``) of the last answer heard, if any."""
        return None if self._last_date is None else datetime.fromtimestamp(self._last_date, UTC)

    def _signing_clock(self) -> float:
        # WooCommerce allows +-15 minutes around its own clock: sign with it.
        server = self.server_now()
        return server.timestamp() if server is not None else time.time()

    def _url_for(self, namespace: str | None, path: str) -> str:
        if namespace is None:
            return f"{self.url}/{path.lstrip('/')}"
        parts = [self.url, "wp-json"]
        if namespace:
            parts.append(namespace.strip("/"))
        tail = path.strip("/")
        joined = "/".join(parts) + "/"
        return joined + tail if tail else joined

    # -- higher-level helpers (implemented in their own modules) -------------

    def paginate(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        per_page: int = 100,
        fields: Iterable[str] | None = None,
        on_progress: Callable[[int, int], None] | None = None,
        skip_pages: Iterable[int] | None = None,
        namespace: str = "wc/v3",
    ) -> AsyncIterator[Page]:
        """Every page of a collection, in page order (see ``pagination.py``)."""
        from onetill.woo.pagination import paginate

        return paginate(
            self,
            path,
            params,
            per_page=per_page,
            fields=fields,
            on_progress=on_progress,
            skip_pages=skip_pages,
            namespace=namespace,
        )

    async def batch(
        self,
        path: str,
        *,
        create: Iterable[Any] = (),
        update: Iterable[Any] = (),
        delete: Iterable[int] = (),
        chunk: int = 100,
    ) -> BatchResult:
        """``POST {path}/batch`` in chunks of at most ``chunk`` items (see ``batch.py``)."""
        from onetill.woo.batch import batch

        return await batch(self, path, create=create, update=update, delete=delete, chunk=chunk)

    async def discover(self) -> Discovery:
        """What this store is and offers (see ``discovery.py``)."""
        from onetill.woo.discovery import discover

        return await discover(self)


# WooCommerce's code for an OAuth parameter that never arrived (a proxy or a
# cache dropped the query): refused before anything is looked at.
MISSING_PARAMETER = "woocommerce_rest_authentication_missing_parameter"


def _ambiguous(method: str, exc: ResponseError) -> AmbiguousWriteError:
    head = f"{method} {exc.url} answered HTTP {exc.status}"
    if exc.status < 300:
        text = f"{head} but the answer could not be read; it was probably applied"
    elif exc.status in (401, 403):
        why = f"{exc.message}: {exc.hint}" if exc.hint else exc.message
        text = f"{head} (refused: {why}); a copy of it may have been applied"
    else:
        text = f"{head}; the store may have applied it before failing"
    return AmbiguousWriteError(text, method=method, url=exc.url, status=exc.status, refusal=exc)
