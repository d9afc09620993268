"""Cash works offline and gives change; card needs the store and records its details."""

from __future__ import annotations

from decimal import Decimal

import pytest

from onetill.pos.tender import Payment, PaymentMethods, TenderError, parse_amount, settle

TOTAL = Decimal("63.48")


def test_cash_gives_change_offline() -> None:
    """Cash with no network: 100.00 for 63.48 gives 36.52 change."""
    tender = settle(Payment("cash", Decimal("100")), TOTAL, online=False)
    assert (tender.tendered, tender.change) == (Decimal("100.00"), Decimal("36.52"))
    assert tender.payment_method == "onetill_cash"


def test_exact_cash_when_nothing_tendered() -> None:
    """No tendered amount means exact cash: no change."""
    tender = settle(Payment("cash"), TOTAL, online=False)
    assert tender.change == Decimal("0.00")


def test_tendered_less_than_total_is_refused() -> None:
    """Too little cash: a clear error with the amount to take."""
    with pytest.raises(TenderError, match=r"less than the total 63\.48"):
        settle(Payment("cash", Decimal("50")), TOTAL, online=False)


def test_card_offline_is_refused() -> None:
    """A card sale while the store is unreachable is refused, suggesting cash."""
    with pytest.raises(TenderError, match="reachable"):
        settle(Payment("card", transaction_id="pi_3Q0abcdEFGH12345"), TOTAL, online=False)


def test_card_records_transaction_brand_and_last4() -> None:
    """Online card: the Stripe id, brand and last four digits are kept; no change."""
    tender = settle(
        Payment("card", transaction_id="pi_3Q0abcdEFGH12345", card_brand="Visa", card_last4="4242"),
        TOTAL,
        online=True,
        methods=PaymentMethods(card_id="stripe_terminal", card_title="Card (Stripe)"),
    )
    assert (tender.transaction_id, tender.card_brand, tender.card_last4) == (
        "pi_3Q0abcdEFGH12345", "visa", "4242",
    )  # fmt: skip
    assert (tender.payment_method, tender.change) == ("stripe_terminal", Decimal("0.00"))


@pytest.mark.parametrize(
    ("payment", "message"),
    [
        (Payment("card", card_last4="42"), "4 digits"),
        (Payment("card", card_brand="bitcoin"), "brand"),
        (Payment("card", transaction_id="pi_"), "Stripe"),
        (Payment("card", transaction_id="pi 123; drop"), "characters"),
        (Payment("cash", Decimal("100"), transaction_id="ch_123456789"), "cash"),
        (Payment("voucher"), "unknown payment method"),
    ],
)
def test_malformed_payments_are_refused(payment: Payment, message: str) -> None:
    """Each malformed payment gets an error naming the problem."""
    with pytest.raises(TenderError, match=message):
        settle(payment, TOTAL, online=True)


@pytest.mark.parametrize("text", ["abc", "-5", "1.234", "NaN"])
def test_parse_amount_refuses_non_amounts(text: str) -> None:
    """Typed amounts must be positive numbers with the store's decimals."""
    with pytest.raises(TenderError):
        parse_amount(text)


def test_parse_amount_accepts_plain_numbers() -> None:
    """20 and 20.50 are amounts."""
    assert parse_amount("20") == Decimal("20")
    assert parse_amount(" 20.50 ") == Decimal("20.50")


@pytest.mark.parametrize("text", ["99999999999999999999", "1000000000"])
def test_parse_amount_refuses_absurdly_large_amounts_clearly(text: str) -> None:
    """An amount too large to be cash handed over (or to quantize) is a TenderError naming
    the amount, never a raw decimal.InvalidOperation that would crash `sell`."""
    with pytest.raises(TenderError, match="too large"):
        parse_amount(text)


@pytest.mark.parametrize(
    "text", ["1_000", "+5", "\u0661\u0660\u0660", "1e3", "1e400", "５", "20,50", "0x10", "Infinity"]
)
def test_parse_amount_takes_only_plain_ascii_decimals(text: str) -> None:
    """Decimal() reads 1_000, +5, Arabic-Indic or full-width digits and 1e3; a cashier typing
    them made a slip, and the till says so instead of guessing."""
    with pytest.raises(TenderError, match="digits 0-9"):
        parse_amount(text)
