"""The Card button on the till's Stripe reader, in a real browser.

A real engine (``onetill run``) on a sandbox store, its card payments set up
against the emulated Stripe API with a simulated S710 (as ``onetill stripe
connect --api-base`` would). The test plays the customer: it taps a card at
the reader through the emulator's control API, as a real customer taps the
S710, so the screen runs exactly the flow a shop runs.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from engine.engine_support import EngineProcess
from onetill.config import StripeConfig, save_stripe
from onetill.stripe_sandbox.server import RunningStripeSandbox
from stripe_support import stripe_account
from web.browser_support import (
    TILL_ARGS,
    Till,
    check_accessibility,
    start_till,
    stop_till,
    wait_until,
)

pytestmark = pytest.mark.slow

STORE = ["--products", "20", "--variable", "2", "--seed", "5"]
DECLINED = "4000000000000002"


@pytest.fixture(scope="module")
def stripe() -> Iterator[RunningStripeSandbox]:
    with stripe_account(reader_timeout_s=60) as account:
        yield account


@pytest.fixture(scope="module")
def till(tmp_path_factory: pytest.TempPathFactory, stripe: RunningStripeSandbox) -> Iterator[Till]:
    folder = tmp_path_factory.mktemp("card-till")
    (folder / "home").mkdir()
    save_stripe(folder / "home", StripeConfig(key=stripe.key, api_base=stripe.url,
                                              reader=stripe.reader_id))  # fmt: skip
    running = start_till(folder, STORE)
    try:
        running.engine.wait_status(lambda s: s["initial_sync_done"] and s["state"] == "online", 60)
        yield running
    finally:
        stop_till(running)


def sell_one(page: Page, till: Till, offset: int) -> str:
    """Open the till and scan one in-stock product (a different one per test); its SKU."""
    sku = str(till.local(
        "SELECT sku FROM products WHERE type = 'simple' AND sellable = 1 AND sku != ''"
        " AND CAST(price AS REAL) >= 1 AND stock_quantity >= 5 ORDER BY id LIMIT 1 OFFSET ?",
        offset,
    )[0][0])  # fmt: skip
    page.goto(till.url)
    expect(page.locator("#screen-sell")).to_be_visible(timeout=15000)
    page.locator("#scan").fill(sku)
    page.keyboard.press("Enter")
    expect(page.locator("#lines .line")).to_have_count(1)
    expect(page.locator("#pay-card")).to_be_enabled()
    return sku


def card_waiting(page: Page) -> None:
    page.keyboard.press("F3")
    expect(page.locator("#card-dialog")).to_be_visible()
    expect(page.locator("#card-reader")).to_contain_text("Waiting for the customer's card",
                                                         timeout=10000)  # fmt: skip


def tap(stripe: RunningStripeSandbox, number: str = "4242424242424242") -> None:
    assert stripe.reader_id is not None
    stripe.control.tap(stripe.reader_id, number)


def orders(till: Till) -> list[Any]:
    return till.local("SELECT uuid, transaction_id, card_brand, card_last4 FROM orders")


def test_card_paid_on_the_reader_shows_the_receipt_with_the_card(
    page: Page, till: Till, stripe: RunningStripeSandbox
) -> None:
    """Card -> the reader waits -> the customer taps -> receipt with brand and last 4; the
    order carries the PaymentIntent and reaches the store."""
    before = len(orders(till))
    sell_one(page, till, 0)
    card_waiting(page)
    check_accessibility(page, "card payment")
    tap(stripe)
    expect(page.locator("#receipt-dialog")).to_be_visible(timeout=15000)
    expect(page.locator("#receipt-paid")).to_contain_text("Visa •••• 4242")
    expect(page.locator("#receipt")).to_contain_text("Visa •••• 4242")
    page.keyboard.press("Enter")
    expect(page.locator("#lines .line")).to_have_count(0)
    rows = orders(till)
    assert len(rows) == before + 1
    uuid, intent, brand, last4 = rows[-1]
    assert intent.startswith("pi_") and (brand, last4) == ("visa", "4242")
    wait_until(lambda: till.local("SELECT state FROM orders WHERE uuid = ?", uuid)[0][0]
               == "synced", 20, "the card sale uploaded")  # fmt: skip


def test_declined_card_keeps_the_cart_says_why_and_cash_still_sells(
    page: Page, till: Till, stripe: RunningStripeSandbox
) -> None:
    """A decline records nothing, keeps the cart and says why; Pay cash completes the sale."""
    before = len(orders(till))
    sell_one(page, till, 1)
    card_waiting(page)
    tap(stripe, DECLINED)
    expect(page.locator("#card-error")).to_contain_text("The card was declined", timeout=15000)
    expect(page.locator("#card-retry")).to_be_visible()
    assert len(orders(till)) == before
    page.locator("#card-cash").click()
    expect(page.locator("#pay-dialog")).to_be_visible()
    expect(page.locator("#lines .line")).to_have_count(1)  # the cart was kept
    page.keyboard.press("Enter")
    expect(page.locator("#receipt-dialog")).to_be_visible()
    rows = orders(till)
    assert len(rows) == before + 1 and not rows[-1][1]  # a cash sale, no card on it


def test_cancel_stops_the_reader_and_try_again_uses_the_same_payment(
    page: Page, till: Till, stripe: RunningStripeSandbox
) -> None:
    """Esc cancels on the reader (nothing charged, cart kept); Try again then pays on the
    same PaymentIntent, so the customer can never be charged twice for the cart."""
    before = len(orders(till))
    intents = len(stripe.control.list("payment_intents"))
    sell_one(page, till, 2)
    card_waiting(page)
    page.keyboard.press("Escape")
    expect(page.locator("#card-error")).to_contain_text("Canceled at the till", timeout=15000)
    reader = next(r for r in stripe.control.list("readers") if r["id"] == stripe.reader_id)
    assert reader["action"] is None and len(orders(till)) == before
    page.locator("#card-retry").click()
    expect(page.locator("#card-reader")).to_contain_text("Waiting for the customer's card",
                                                         timeout=10000)  # fmt: skip
    tap(stripe)
    expect(page.locator("#receipt-dialog")).to_be_visible(timeout=15000)
    assert len(orders(till)) == before + 1
    assert len(stripe.control.list("payment_intents")) == intents + 1


def test_a_payment_on_the_reader_when_the_till_died_is_shown_and_resumed(
    page: Page, till: Till, stripe: RunningStripeSandbox
) -> None:
    """kill -9 while the reader waits: after the restart the screen says a card payment is in
    progress; Resume picks it up and the customer's tap records the sale once."""
    before = len(orders(till))
    sell_one(page, till, 3)
    card_waiting(page)
    till.engine.signal(signal.SIGKILL)
    till.engine.wait()
    till.engine = EngineProcess(till.home, *TILL_ARGS)
    till.engine.start()
    till.engine.wait_status(lambda s: s["state"] == "online", 30)
    page.goto(till.url)
    banner = page.locator("#card-pending")
    expect(banner).to_contain_text("Card payment in progress", timeout=15000)
    banner.get_by_role("button", name="Resume").click()
    expect(page.locator("#card-reader")).to_contain_text("Waiting for the customer's card",
                                                         timeout=10000)  # fmt: skip
    tap(stripe)
    expect(page.locator("#receipt-dialog")).to_be_visible(timeout=15000)
    expect(page.locator("#receipt")).to_contain_text("Visa •••• 4242")
    expect(banner).to_be_hidden()
    assert len(orders(till)) == before + 1
