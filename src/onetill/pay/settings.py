"""How the till reaches Stripe: the secret key, where the API is, which reader."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["DEFAULT_API_BASE", "StripeSettings"]

DEFAULT_API_BASE = "https://api.stripe.com"


@dataclass(frozen=True)
class StripeSettings:
    """``key`` never appears in ``repr``; ``api_base`` points the library elsewhere
    (the emulator: ``onetill stripe connect --api-base``)."""

    key: str = field(repr=False)
    api_base: str = DEFAULT_API_BASE
    location: str | None = None
    reader: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 15.0

    @property
    def test_mode(self) -> bool:
        return self.key.startswith(("sk_test_", "rk_test_"))
