"""The till screen's card API: start, status while the reader waits, cancel, availability."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from onetill.pay.errors import PaymentStateError
from onetill.pay.service import PaymentService
from onetill.store.db import Database
from onetill.stripe_sandbox.server import RunningStripeSandbox
from stripe_support import card_payments, order_count, priced, stripe_account
from till_support import seeded_db


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = seeded_db(tmp_path / "till.db")
    yield database
    database.close()


@pytest.fixture
def account() -> Iterator[RunningStripeSandbox]:
    with stripe_account(reader_timeout_s=30) as sandbox:
        yield sandbox


def _until(service: PaymentService, pid: str, check: object) -> dict[str, object]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status = service.status(pid)
        if check(status):  # type: ignore[operator]
            return status
        time.sleep(0.02)
    raise AssertionError(service.status(pid))


def test_start_shows_the_reader_waiting_then_paid_after_the_tap(
    db: Database, account: RunningStripeSandbox
) -> None:
    """start() returns at once; status shows what the reader does; a tap makes it paid."""
    service = PaymentService(card_payments(db, account))
    sale = priced(db, "SIMPLE-031")
    started = service.start(sale.order, sale.lines)
    waiting = _until(service, str(started["id"]), lambda s: s["state"] == "processing")
    assert waiting["reader_text"] == "waiting for the customer's card" and waiting["running"]
    account.control.tap(str(account.reader_id))
    paid = _until(service, str(started["id"]), lambda s: s["paid"] and not s["running"])
    assert paid["card_last4"] == "4242" and order_count(db) == 1


def test_cancel_from_the_screen_stops_the_reader(
    db: Database, account: RunningStripeSandbox
) -> None:
    """cancel() while waiting: not paid, the reason for the cashier, nothing recorded."""
    service = PaymentService(card_payments(db, account))
    sale = priced(db, "SIMPLE-031")
    pid = str(service.start(sale.order, sale.lines)["id"])
    _until(service, pid, lambda s: s["state"] == "processing")
    status = service.cancel(pid)
    assert status["state"] == "open" and not status["paid"] and not status["running"]
    assert "Canceled at the till" in str(status["failure_reason"]) and order_count(db) == 0


def test_availability_says_why_card_is_off(db: Database, account: RunningStripeSandbox) -> None:
    """Reader offline: the Card button is disabled with the reason; online: enabled."""
    service = PaymentService(card_payments(db, account), availability_ttl_s=0)
    assert service.availability()["available"] is True
    account.control.set_reader_status(str(account.reader_id), "offline")
    off = service.availability()
    assert off["available"] is False and "offline" in str(off["reason"])


def test_one_payment_at_a_time_on_the_reader(db: Database, account: RunningStripeSandbox) -> None:
    """While the reader waits, the same cart again answers the running payment (no second
    thread, no second PaymentIntent); another cart is refused instead of cancelling it."""
    service = PaymentService(card_payments(db, account))
    sale = priced(db, "SIMPLE-031")
    pid = str(service.start(sale.order, sale.lines)["id"])
    _until(service, pid, lambda s: s["state"] == "processing")
    again = priced(db, "SIMPLE-031")
    assert service.start(again.order, again.lines)["id"] == pid
    other = priced(db, "SIMPLE-032")
    with pytest.raises(PaymentStateError, match="reader is taking another payment"):
        service.start(other.order, other.lines)
    assert len(account.control.list("payment_intents")) == 1
    account.control.tap(str(account.reader_id))
    assert _until(service, pid, lambda s: s["paid"] and not s["running"])["paid"]
    assert order_count(db) == 1
