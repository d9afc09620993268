"""Card payments on a simulated reader: paid once, or nothing recorded with the reason."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from onetill.pay import CardPayments
from onetill.store.card_payments import get_payment
from onetill.store.db import Database
from onetill.store.orders import get_order
from onetill.stripe_sandbox.server import RunningStripeSandbox
from stripe_support import card_payments, order_count, orders_paid_by, priced, stripe_account
from till_support import seeded_db, stock_of


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = seeded_db(tmp_path / "till.db")
    yield database
    database.close()


@pytest.fixture
def account() -> Iterator[RunningStripeSandbox]:
    with stripe_account(reader_timeout_s=1.0) as sandbox:
        yield sandbox


def _wait_for(predicate: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.02)
    raise AssertionError("condition not reached")


def test_happy_path_records_the_sale_with_the_intent_and_charge(
    db: Database, account: RunningStripeSandbox
) -> None:
    """Paid: one sale, transaction_id = PaymentIntent, charge id, brand, last 4; 3 requests."""
    payments = card_payments(db, account)
    sale = priced(db, "SIMPLE-031", qty=2)
    stock_before = stock_of(db, 40)
    attempt, settled = payments.begin(sale.order, sale.lines)
    result = payments.pay(attempt.id, test_card="success")
    assert result.paid and not settled
    intent = next(x for x in account.control.list("payment_intents") if x["id"] == result.intent_id)
    assert intent["status"] == "succeeded" and intent["amount"] == 5576
    assert intent["currency"] == "eur" and intent["payment_method_types"] == ["card_present"]
    assert intent["metadata"]["onetill_sale_uuid"] == sale.order.uuid
    assert intent["metadata"]["onetill_till_id"] == "till-card"
    order = get_order(db.conn, sale.order.uuid)
    assert (order.transaction_id, order.charge_id) == (intent["id"], intent["latest_charge"])
    assert (order.card_brand, order.card_last4, order.payment_method) == ("visa", "4242",
                                                                          "onetill_card")
    assert order.state == "pending_sync" and stock_of(db, 40) == stock_before - 2
    assert payments.gateway.requests == 3  # create, process, present (answer expanded)


@pytest.mark.parametrize(
    ("card", "code", "words"),
    [
        ("declined", "card_declined", "declined"),
        ("insufficient_funds", "card_declined", "insufficient funds"),
        ("timeout", "terminal_reader_timeout", "timed out"),
    ],
)
def test_a_card_not_charged_records_nothing_and_says_why(
    db: Database, account: RunningStripeSandbox, card: str, code: str, words: str
) -> None:
    """Decline, insufficient funds, reader timeout: no sale, stock untouched, plain reason."""
    payments = card_payments(db, account)
    sale = priced(db, "SIMPLE-031")
    stock_before = stock_of(db, 40)
    attempt, _ = payments.begin(sale.order, sale.lines)
    result = payments.pay(attempt.id, test_card=card)
    assert not result.paid and result.state == "open"
    assert result.failure_code == code and words in result.reason
    assert order_count(db) == 0 and stock_of(db, 40) == stock_before
    intents = account.control.list("payment_intents")
    assert [i["status"] for i in intents] == ["requires_payment_method"]


def test_retry_of_the_same_cart_reuses_the_intent(
    db: Database, account: RunningStripeSandbox
) -> None:
    """After a decline the same cart pays on the same PaymentIntent: never two charges."""
    payments = card_payments(db, account)
    sale = priced(db, "SIMPLE-031")
    first, _ = payments.begin(sale.order, sale.lines)
    assert not payments.pay(first.id, test_card="declined").paid
    again = priced(db, "SIMPLE-031")
    second, settled = payments.begin(again.order, again.lines)
    result = payments.pay(second.id, test_card="success")
    assert second.id == first.id and not settled and result.paid
    assert len(account.control.list("payment_intents")) == 1
    assert len(orders_paid_by(db, str(result.intent_id))) == 1


def test_another_cart_cancels_the_previous_open_intent(
    db: Database, account: RunningStripeSandbox
) -> None:
    """A different cart after a decline: the old PaymentIntent is cancelled at Stripe."""
    payments = card_payments(db, account)
    sale = priced(db, "SIMPLE-031")
    first, _ = payments.begin(sale.order, sale.lines)
    payments.pay(first.id, test_card="declined")
    other = priced(db, "SIMPLE-032")
    second, settled = payments.begin(other.order, other.lines)
    assert [s.state for s in settled] == ["canceled"]
    statuses = {i["id"]: i["status"] for i in account.control.list("payment_intents")}
    assert statuses[str(settled[0].intent_id)] == "canceled"
    assert payments.pay(second.id, test_card="success").paid


def test_cashier_cancel_stops_the_reader_and_charges_nothing(
    db: Database, account: RunningStripeSandbox
) -> None:
    """Cancel while the reader waits: its action is cleared, no sale, reason shown."""
    payments = card_payments(db, account)
    sale = priced(db, "SIMPLE-031")
    attempt, _ = payments.begin(sale.order, sale.lines)
    results = []
    worker = threading.Thread(target=lambda: results.append(payments.pay(attempt.id)))
    worker.start()
    _wait_for(lambda: payments.get(attempt.id).state == "processing")
    payments.request_cancel(attempt.id)
    worker.join(10)
    result = results[0]
    assert not result.paid and result.failure_code == "canceled"
    assert "Canceled at the till" in result.reason and order_count(db) == 0
    reader = account.control.list("readers")[0]
    assert reader["action"] is None


def test_reader_offline_and_busy_are_refused_with_their_reason(
    db: Database, account: RunningStripeSandbox
) -> None:
    """Offline, then busy with another payment: not handed over, nothing recorded."""
    rid = str(account.reader_id)
    payments = card_payments(db, account)
    sale = priced(db, "SIMPLE-031")
    attempt, _ = payments.begin(sale.order, sale.lines)
    account.control.set_reader_status(rid, "offline")
    offline = payments.pay(attempt.id, test_card="success")
    account.control.set_reader_status(rid, "online")
    other = card_payments(db, account)
    other.till_id = "till-other"
    rival = priced(db, "SIMPLE-032")
    rival_attempt, _ = other.begin(rival.order, rival.lines)
    rival_thread = threading.Thread(target=other.pay, args=(rival_attempt.id,), daemon=True)
    rival_thread.start()
    _wait_for(lambda: other.get(rival_attempt.id).state == "processing")
    busy = payments.pay(attempt.id, test_card="success")
    other.request_cancel(rival_attempt.id)
    rival_thread.join(10)
    assert not rival_thread.is_alive()
    assert offline.failure_code == "terminal_reader_offline" and "offline" in offline.reason
    assert busy.failure_code == "terminal_reader_busy" and "busy" in busy.reason
    assert order_count(db) == 0


def test_restart_finds_the_payment_in_progress_then_records_it_once(
    db: Database, account: RunningStripeSandbox, tmp_path: Path
) -> None:
    """Another till process finds the payment in progress; once the customer taps, both it
    and the first process see it paid, and the sale is recorded once."""
    account.control.configure(reader_timeout_s=60)
    payments = card_payments(db, account)
    sale = priced(db, "SIMPLE-031")
    attempt, _ = payments.begin(sale.order, sale.lines)
    worker = threading.Thread(target=payments.pay, args=(attempt.id,), daemon=True)
    worker.start()
    _wait_for(lambda: payments.get(attempt.id).state == "processing")
    # "Restart": a new till process with its own database connection.
    restarted_db = Database(tmp_path / "till.db")
    restarted = card_payments(restarted_db, account)
    first = restarted.recover()
    assert [r.state for r in first] == ["processing"]
    account.control.tap(str(account.reader_id))
    second = restarted.recover()
    worker.join(10)
    third = restarted.recover()
    assert [r.state for r in second] == ["paid"] and third == []
    assert payments.get(attempt.id).state == "paid"
    assert len(orders_paid_by(restarted_db, str(second[0].intent_id))) == 1
    assert order_count(restarted_db) == 1
    restarted_db.close()


def test_a_charge_whose_answer_was_lost_is_read_back_from_stripe(
    db: Database, account: RunningStripeSandbox
) -> None:
    """present_payment_method charges, then the connection resets: the till keeps going on
    new connections and reads the outcome from Stripe; one sale."""
    account.control.add_faults(
        "POST /v1/test_helpers/terminal/readers/*/present_payment_method:commit_reset@nth=1;"
        "GET /v1/terminal/readers/*:reset@nth=1"
    )
    payments = card_payments(db, account)
    sale = priced(db, "SIMPLE-031")
    attempt, _ = payments.begin(sale.order, sale.lines)
    result = payments.pay(attempt.id, test_card="success")
    assert result.paid and payments.gateway.renewals >= 1
    charges = [c for c in account.control.list("charges") if c["status"] == "succeeded"]
    assert len(charges) == 1 and len(orders_paid_by(db, str(result.intent_id))) == 1


def test_a_silent_network_path_is_left_for_new_connections(
    db: Database, account: RunningStripeSandbox
) -> None:
    """Reads that go silent (Wi-Fi to cellular) time out; fresh connections finish the job."""
    account.control.add_faults("GET /v1/terminal/readers/*:commit_slow=3@first=2")
    payments = card_payments(db, account, read_timeout_s=0.5)
    sale = priced(db, "SIMPLE-031")
    attempt, _ = payments.begin(sale.order, sale.lines)
    threading.Timer(0.3, lambda: account.control.tap(str(account.reader_id))).start()
    result = payments.pay(attempt.id)
    assert result.paid and payments.gateway.renewals >= 1


def test_stripe_unreachable_records_nothing(db: Database, tmp_path: Path) -> None:
    """No Stripe at all: card is unavailable in plain words; nothing recorded; attempt kept."""
    with stripe_account() as account:
        payments = card_payments(db, account, budget_s=0.5)
    sale = priced(db, "SIMPLE-031")
    attempt, _ = payments.begin(sale.order, sale.lines)
    result = payments.pay(attempt.id, test_card="success")
    assert not result.paid and "can't be reached" in result.reason
    assert order_count(db) == 0
    assert get_payment(db.conn, attempt.id).state == "starting"


def test_recording_is_exactly_once_even_if_asked_twice(
    db: Database, account: RunningStripeSandbox
) -> None:
    """A paid attempt resolved again (a second till process, a retry) adds no second sale."""
    payments = card_payments(db, account)
    sale = priced(db, "SIMPLE-031")
    attempt, _ = payments.begin(sale.order, sale.lines)
    assert payments.pay(attempt.id, test_card="success").paid
    twin = CardPayments(db, payments.gateway, till_id="till-card", reader_id=account.reader_id)
    assert twin.resolve(attempt.id).state == "paid"
    assert twin.pay(attempt.id).paid and order_count(db) == 1
