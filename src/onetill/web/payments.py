"""The card step of a sale, pluggable.

The till screen asks a ``CardPayments`` to take a card payment for the sale's
total before the sale is recorded; what it returns goes on the order
(``transaction_id``, brand, last four digits), exactly as ``onetill sell
--pay card`` records it.

``ManualCard`` (the default) is today's flow: the merchant's own card
terminal takes the payment, and the cashier types its reference (optional)
into the till. A provider the till talks to receives the sale key (the
order's UUID, created once per cart) to use as its idempotency key, so a
retried request never charges twice.

The till's own Stripe reader is ``web.card_terminal.TerminalCard`` (kind
``"terminal"``): its payment takes a while, shows what the reader is doing
and can be cancelled, so it has its own routes (``web.api_card``) and the
sale is recorded by ``onetill.pay`` once Stripe says the card was charged;
its ``charge`` refuses.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from onetill.pos.tender import Payment

__all__ = ["CardPayments", "CardRequest", "ManualCard"]


@dataclass(frozen=True)
class CardRequest:
    """One card payment to take: what the screen sent, and the amount the server priced."""

    sale_key: str  # the order's UUID: an idempotency key for the payment provider
    amount: Decimal
    currency: str
    reference: str = ""  # typed by the cashier (manual terminals)
    brand: str = ""
    last4: str = ""


class CardPayments(Protocol):
    """Takes card payments for the till screen."""

    kind: str  # "manual": reference/brand/last-4 fields; "terminal": the reader's flow
    label: str  # what the pay button says

    async def charge(self, request: CardRequest) -> Payment:
        """Take the payment (or record one taken elsewhere); raise ``TenderError`` when
        it was not taken, saying why. The returned ``Payment`` is recorded on the order."""
        ...


class ManualCard:
    """A card terminal the till does not talk to: record what the cashier enters."""

    kind = "manual"
    label = "Card"

    async def charge(self, request: CardRequest) -> Payment:
        # Validation of the reference, brand and digits is pos.tender.settle's.
        return Payment(
            "card", None, request.reference.strip(), request.brand.strip(), request.last4.strip()
        )
