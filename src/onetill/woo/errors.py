"""Every way talking to WooCommerce can fail, as one exception tree.

::

    WooError                      base: anything this package raises
    ├── InsecureTransportError    would send a secret in clear (http:// + query keys)
    ├── TransportError            no usable answer (connect refused, DNS, timeout on a read)
    │   └── CertificateError      TLS certificate not trusted (--ca-file / --insecure)
    ├── AmbiguousWriteError       a POST whose fate is unknown: it may have been applied
    ├── PayloadError              OUR payload is invalid (a write model, a batch item): never sent
    ├── UnreadableAnswerError     the STORE's 2xx answer does not fit what the API promises
    └── ResponseError             the server answered with a non-2xx status
        ├── NotJSONError          ...and a body that is not JSON (HTML login page, WAF, PHP fatal)
        └── WooAPIError           ...with a WordPress/WooCommerce error {code, message, data}
            ├── AuthError         401/403: the keys were not accepted
            └── NoRouteError      rest_no_route: no such route (WooCommerce missing or disabled)

``PayloadError`` and ``UnreadableAnswerError`` are kept apart because they
call for opposite reactions: a payload of ours that is invalid was never
sent (fix the sale, nothing to look up), while an unreadable answer to a
write came back from a store that received the request (look it up).

Errors carry data (status, WooCommerce ``code``, ``message``, ``data``) and a
``hint``: what to do about it. Whether a retry can help is decided in one
place, :func:`onetill.woo.outcome.classify`. URLs kept on errors have the
credentials (``consumer_secret``, ``oauth_*``) removed: error text never holds
a secret.

Nothing here is chosen by the wording of the store's message: WooCommerce
translates it (a German store says "Ungültige Nonce"). Classes follow
status and code; the message is shown to people, never matched.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AmbiguousWriteError",
    "AuthError",
    "CertificateError",
    "InsecureTransportError",
    "NoRouteError",
    "NotJSONError",
    "PayloadError",
    "ResponseError",
    "TransportError",
    "UnreadableAnswerError",
    "WooAPIError",
    "WooError",
]


class WooError(Exception):
    """Base class of every error raised by ``onetill.woo``.

    ``hint`` says what a person can do about it (may be empty).
    """

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} ({self.hint})"
        return self.message


class InsecureTransportError(WooError):
    """Refused to send the consumer secret over plain http."""


class TransportError(WooError):
    """The request got no usable answer.

    ``sent`` is False when the request certainly never left (connection
    refused, DNS failure, pool timeout): safe to resend any request. For a
    POST that may have been sent, :class:`AmbiguousWriteError` is raised
    instead.
    """

    def __init__(
        self, message: str, *, method: str = "", url: str = "", sent: bool = False, hint: str = ""
    ) -> None:
        super().__init__(message, hint=hint)
        self.method = method
        self.url = url
        self.sent = sent


class CertificateError(TransportError):
    """The store's TLS certificate is not trusted here; retrying does not help."""


class AmbiguousWriteError(WooError):
    """A write (POST) that may or may not have been applied by the store.

    Raised on a timeout or connection reset after the request may have
    reached the store; on a 5xx answer to a POST unless it proves the request
    never reached PHP (a proxy can time out while PHP finishes creating the
    order; see ``fate.py``); on a 2xx whose body cannot be read; and on any
    401/403 (a replayed copy of the POST may have got there first: the store
    then says "nonce already used", in its own language, with the same code
    as for a wrong key). Never resend blindly: look the object up first.
    ``status`` is the HTTP status when there was an answer; ``refusal`` the
    error answer itself (an :class:`AuthError` for 401/403).
    """

    def __init__(
        self,
        message: str,
        *,
        method: str = "POST",
        url: str = "",
        status: int | None = None,
        refusal: ResponseError | None = None,
    ) -> None:
        super().__init__(
            message,
            hint="the store may have applied it; look it up before sending it again",
        )
        self.method = method
        self.url = url
        self.status = status
        self.refusal = refusal

    @property
    def keys_refused(self) -> bool:
        """The store refused the keys (401/403), and not because of the till's clock."""
        if self.status not in (401, 403):
            return False
        return not (isinstance(self.refusal, AuthError) and self.refusal.clock_explains)


class _Undecodable(WooError):
    """JSON that does not fit a typed model: says what, which field, which object.

    Never caught as such: its two kinds below call for opposite reactions.
    """

    def __init__(
        self, message: str, *, what: str = "", field: str | None = None, object_id: Any = None
    ) -> None:
        super().__init__(message)
        self.what = what
        self.field = field
        self.object_id = object_id


class PayloadError(_Undecodable):
    """Our own payload does not fit its write model (names the field and object id).

    Raised before anything is sent: nothing reached the store.
    """


class UnreadableAnswerError(_Undecodable):
    """The store answered 2xx, but the body is not what the API promises.

    A read model's field of the wrong type, a batch answer that does not
    account for every item, a plugin lookup that is not a list. Names the
    field and object id when it can. The request did reach the store.
    """


class ResponseError(WooError):
    """The store answered with an error status (or an unusable body)."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        method: str = "",
        url: str = "",
        retry_after: float | None = None,
        hint: str = "",
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.method = method
        self.url = url
        self.retry_after = retry_after


class NotJSONError(ResponseError):
    """The body is not JSON: usually HTML from a login page, WAF, PHP fatal or proxy.

    ``text`` holds the first 200 characters of the visible text.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        text: str,
        method: str = "",
        url: str = "",
        retry_after: float | None = None,
        hint: str = "",
    ) -> None:
        super().__init__(
            message, status=status, method=method, url=url, retry_after=retry_after, hint=hint
        )
        self.text = text


class WooAPIError(ResponseError):
    """A WordPress REST error body: ``{"code", "message", "data": {"status", ...}}``."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: str,
        data: Any = None,
        method: str = "",
        url: str = "",
        retry_after: float | None = None,
        hint: str = "",
    ) -> None:
        super().__init__(
            message, status=status, method=method, url=url, retry_after=retry_after, hint=hint
        )
        self.code = code
        self.data = data


# WooCommerce refuses an OAuth timestamp more than 15 minutes from its own clock.
OAUTH_WINDOW_S = 15 * 60


def outside_oauth_window(clock_off_s: float | None) -> bool:
    """Whether a signed timestamp this far off the store's clock is refused for it.

    Two seconds of slack: ``Date`` has one-second resolution.
    """
    return clock_off_s is not None and abs(clock_off_s) > OAUTH_WINDOW_S + 2


class AuthError(WooAPIError):
    """401/403: the keys were missing, unknown, wrong, or lack permission.

    ``clock_off_s``: for an OAuth-signed request, the signed timestamp minus
    the store's clock as the answer's ``Date`` gave it (None otherwise).
    """

    clock_off_s: float | None = None

    @property
    def clock_explains(self) -> bool:
        """The signed timestamp was outside WooCommerce's window: the till's clock, not the keys."""
        return outside_oauth_window(self.clock_off_s)


class NoRouteError(WooAPIError):
    """``rest_no_route``: the route does not exist at this URL."""
