"""The card payment errors, one tree (rooted at :class:`PayError`)::

    PayError                      anything this room raises; .message is for the cashier
    ├── NotConfiguredError        no Stripe key / no reader chosen (say what to run)
    ├── PaymentStateError         an action the payment's state does not allow
    └── StripeError               Stripe answered with an error, or could not be reached
        ├── StripeUnreachableError  no answer (connection refused/reset, timeout)
        └── StripeAPIError          an error object: .status, .type, .code, .decline_code
            └── StripeAuthError       the key was refused (401/403)

Decisions (retry, give up, tell the cashier) come from :func:`classify`,
which reads the HTTP status, Stripe's ``type`` and ``code``, never the
message. Messages never carry the secret key: the library's own texts
name the key only masked, and ours never name it.
"""

from __future__ import annotations

import enum

__all__ = [
    "NotConfiguredError",
    "Outcome",
    "PayError",
    "PaymentStateError",
    "StripeAPIError",
    "StripeAuthError",
    "StripeError",
    "StripeUnreachableError",
    "classify",
]


class PayError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotConfiguredError(PayError):
    """Card payments are not set up (no key, no reader)."""


class PaymentStateError(PayError):
    """The payment is not in a state that allows this."""


class StripeError(PayError):
    """Stripe answered with an error or could not be reached."""


class StripeUnreachableError(StripeError):
    """No answer from Stripe: the request may or may not have been done."""


class StripeAPIError(StripeError):
    def __init__(
        self,
        message: str,
        *,
        status: int,
        type: str = "",
        code: str = "",
        decline_code: str = "",
        retry_hint: bool | None = None,
        body: dict[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.type = type
        self.code = code
        self.decline_code = decline_code
        self.retry_hint = retry_hint  # Stripe-Should-Retry, when Stripe said
        self.body = body or {}

    def param_error(self) -> str | None:
        """The parameter Stripe named as wrong, if any."""
        err = self.body.get("error")
        param = err.get("param") if isinstance(err, dict) else None
        return str(param) if param else None


class StripeAuthError(StripeAPIError):
    """The secret key was refused."""


class Outcome(enum.Enum):
    """What to do after a Stripe request failed."""

    RETRY = "retry"  # nothing or something happened: the same request, same key, again
    REFUSED = "refused"  # Stripe said no for a reason a retry will not change
    AUTH = "auth"  # the key does not work


def classify(exc: BaseException) -> Outcome:
    """The one place that decides whether a failed Stripe request is retried.

    Every write carries an idempotency key, so a request whose fate is
    unknown (no answer, a 5xx, a 409 ``idempotency_key_in_use``, 429) is
    simply sent again with the same key: Stripe answers with the saved
    result if the first one got through.
    """
    if isinstance(exc, StripeUnreachableError):
        return Outcome.RETRY
    if isinstance(exc, StripeAuthError):
        return Outcome.AUTH
    if isinstance(exc, StripeAPIError):
        if exc.retry_hint is not None and exc.status != 400:
            return Outcome.RETRY if exc.retry_hint else Outcome.REFUSED
        if exc.status in (409, 429) or exc.status >= 500:
            return Outcome.RETRY
        if exc.code == "lock_timeout":
            return Outcome.RETRY
        return Outcome.REFUSED
    return Outcome.REFUSED
