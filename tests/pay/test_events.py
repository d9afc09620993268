"""Stripe webhooks at the engine: verified over the raw body, stored once, stale ones refused."""

from __future__ import annotations

import json
import time
from pathlib import Path

from onetill.pay.events import receive_event
from onetill.store.db import Database
from onetill.stripe_sandbox.webhooks import signature_header

SECRET = "whsec_test_0123456789abcdef"


def _event(event_id: str = "evt_1") -> bytes:
    reader = {"id": "tmr_1", "object": "terminal.reader",
              "action": {"status": "succeeded", "type": "process_payment_intent",
                         "process_payment_intent": {"payment_intent": "pi_1"}}}  # fmt: skip
    return json.dumps({"id": event_id, "object": "event", "type":
                       "terminal.reader.action_succeeded", "data": {"object": reader}}).encode()


def test_a_signed_event_is_stored_once_and_names_reader_and_intent(tmp_path: Path) -> None:
    """Verified with Stripe-Signature; the replay of the same event id is a duplicate."""
    db = Database(tmp_path / "till.db")
    body = _event()
    first = receive_event(db, body, signature_header(body, SECRET), SECRET)
    again = receive_event(db, body, signature_header(body, SECRET), SECRET)
    rows = db.conn.execute("SELECT id, reader_id, intent_id FROM stripe_events").fetchall()
    db.close()
    assert (first, again) == ((200, "stored"), (200, "duplicate"))
    assert [tuple(r) for r in rows] == [("evt_1", "tmr_1", "pi_1")]


def test_forged_altered_or_stale_events_are_refused(tmp_path: Path) -> None:
    """Wrong secret, a body changed after signing, a signature older than 5 minutes: 400."""
    db = Database(tmp_path / "till.db")
    body = _event()
    wrong = receive_event(db, body, signature_header(body, "whsec_other"), SECRET)
    altered = receive_event(db, body.replace(b"tmr_1", b"tmr_2"),
                            signature_header(body, SECRET), SECRET)  # fmt: skip
    stale = receive_event(db, body, signature_header(body, SECRET, int(time.time()) - 600), SECRET)
    count = db.conn.execute("SELECT COUNT(*) FROM stripe_events").fetchone()[0]
    db.close()
    assert wrong[0] == altered[0] == stale[0] == 400 and count == 0
