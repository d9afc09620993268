"""Helpers for card payment tests: the emulated Stripe API and a till that pays through it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from onetill.pay import CardPayments, StripeGateway, StripeSettings
from onetill.pos.cart import Cart
from onetill.pos.sale import PreparedSale, prepare_sale
from onetill.pos.tender import Payment
from onetill.store.db import Database
from onetill.stripe_sandbox import StripeSandboxConfig
from onetill.stripe_sandbox.server import RunningStripeSandbox, running_stripe_sandbox

TILL = "till-card"


@contextmanager
def stripe_account(**config: Any) -> Iterator[RunningStripeSandbox]:
    """An emulated Stripe account with a simulated S710, served on 127.0.0.1:0."""
    config.setdefault("simulated_reader", "Test S710")
    with running_stripe_sandbox(StripeSandboxConfig(**config)) as sandbox:
        yield sandbox


def card_payments(
    db: Database, sandbox: RunningStripeSandbox, *, read_timeout_s: float = 15.0, **kw: Any
) -> CardPayments:
    settings = StripeSettings(
        key=sandbox.key, api_base=sandbox.url, reader=sandbox.reader_id,
        read_timeout_s=read_timeout_s,
    )  # fmt: skip
    gateway = StripeGateway(settings, budget_s=kw.pop("budget_s", 20.0))
    return CardPayments(db, gateway, till_id=TILL, reader_id=sandbox.reader_id, **kw)


def priced(db: Database, *codes: str, qty: int = 1) -> PreparedSale:
    """A priced card sale of ``codes`` (nothing recorded)."""
    cart = Cart(db.conn)
    for code in codes:
        cart.add(code, qty)
    return prepare_sale(db, cart, Payment("card"), till_id=TILL)


def orders_paid_by(db: Database, intent_id: str) -> list[Any]:
    with db.lock:
        return db.conn.execute(
            "SELECT uuid, transaction_id, charge_id, card_brand, card_last4, total FROM orders"
            " WHERE transaction_id = ?",
            (intent_id,),
        ).fetchall()


def order_count(db: Database) -> int:
    with db.lock:
        return int(db.conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0])


def home_path(tmp_path: Path) -> Path:
    home = tmp_path / "till"
    home.mkdir(mode=0o700, exist_ok=True)
    return home
