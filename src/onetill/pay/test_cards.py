"""Stripe's test cards, by the name ``--test-card NAME`` takes.

On a simulated reader the till presents the card itself
(``present_payment_method``), so a card sale completes unattended. The
``timeout`` card presents nothing: the reader waits until it times out.
"""

from __future__ import annotations

__all__ = ["TEST_CARDS", "card_number"]

TEST_CARDS: dict[str, str | None] = {
    "success": "4242424242424242",
    "visa": "4242424242424242",
    "visa_debit": "4000056655665556",
    "mastercard": "5555555555554444",
    "amex": "378282246310005",
    "declined": "4000000000000002",
    "generic_decline": "4000000000000002",
    "insufficient_funds": "4000000000009995",
    "lost_card": "4000000000009987",
    "expired_card": "4000000000000069",
    "timeout": None,
}


def card_number(name: str) -> str | None:
    """The number to present for ``name`` (None: present nothing); ValueError if unknown."""
    key = name.strip().lower().replace("-", "_")
    if key not in TEST_CARDS:
        raise ValueError(f"unknown test card {name!r}; one of: {', '.join(sorted(TEST_CARDS))}")
    return TEST_CARDS[key]
