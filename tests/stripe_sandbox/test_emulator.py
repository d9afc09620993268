"""The emulated Stripe API answers as Stripe does where the till's safety depends on it."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
import stripe

from onetill.stripe_sandbox.faults import FaultError, parse_faults
from onetill.stripe_sandbox.form import parse_form
from onetill.stripe_sandbox.server import RunningStripeSandbox
from stripe_support import stripe_account
from support import load_fixture

CARD = {"type": "card_present", "card_present[number]": "4242424242424242"}


@pytest.fixture
def account() -> Iterator[RunningStripeSandbox]:
    with stripe_account(reader_timeout_s=0.5) as sandbox:
        yield sandbox


def _api(sb: RunningStripeSandbox) -> httpx2.Client:
    return httpx2.Client(base_url=sb.url, auth=(sb.key, ""), timeout=10.0)


def _intent(c: httpx2.Client, key: str | None = None, amount: int = 1234) -> httpx2.Response:
    headers = {"Idempotency-Key": key} if key else {}
    data = {"amount": str(amount), "currency": "eur", "payment_method_types[]": "card_present"}
    return c.post("/v1/payment_intents", data=data, headers=headers)


def test_form_parsing_reads_stripes_bracket_encoding() -> None:
    """Nested hashes and both list notations decode as Stripe reads them."""
    parsed = parse_form("a=1&metadata[x]=y&expand[]=p&expand[]=q&types[0]=card_present")
    assert parsed == {"a": "1", "metadata": {"x": "y"}, "expand": ["p", "q"],
                      "types": ["card_present"]}  # fmt: skip


def test_objects_have_every_field_of_stripes_published_examples(
    account: RunningStripeSandbox,
) -> None:
    """PaymentIntent, charge, refund, reader, location and event carry the fixtures' fields."""
    shapes = load_fixture("stripe/objects.json")
    with _api(account) as c:
        pi = _intent(c).json()
        rdr = c.post(f"/v1/terminal/readers/{account.reader_id}/process_payment_intent",
                     data={"payment_intent": pi["id"]}).json()  # fmt: skip
        c.post(f"/v1/test_helpers/terminal/readers/{account.reader_id}/present_payment_method",
               data=CARD)  # fmt: skip
        paid = c.get(f"/v1/payment_intents/{pi['id']}", params={"expand[]": "latest_charge"})
        refund = c.post("/v1/refunds", data={"payment_intent": pi["id"], "amount": "100"}).json()
        location = c.get(f"/v1/terminal/locations/{rdr['location']}").json()
        event = c.get("/v1/events").json()["data"][0]
    charge = paid.json()["latest_charge"]
    for name, obj in [("payment_intent", paid.json()), ("charge", charge), ("refund", refund),
                      ("terminal.reader", rdr), ("terminal.location", location),
                      ("event", event)]:  # fmt: skip
        missing = set(shapes[name]) - set(obj)
        assert not missing, f"{name} lacks {sorted(missing)}"
    assert charge["payment_method_details"]["card_present"]["last4"] == "4242"


def test_same_key_same_params_replays_and_different_params_is_refused(
    account: RunningStripeSandbox,
) -> None:
    """An idempotency key gives back the first answer; other parameters get idempotency_error."""
    with _api(account) as c:
        first = _intent(c, "key-1")
        again = _intent(c, "key-1")
        other = _intent(c, "key-1", amount=999)
        fresh = _intent(c, "key-2")
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    assert other.status_code == 400 and other.json()["error"]["type"] == "idempotency_error"
    assert fresh.json()["id"] != first.json()["id"]
    assert len(account.control.list("payment_intents")) == 2


def test_a_reset_after_commit_is_healed_by_the_same_key(account: RunningStripeSandbox) -> None:
    """commit_reset: the intent exists but the answer is lost; the retry gets that intent."""
    account.control.add_faults("POST /v1/payment_intents:commit_reset@nth=1")
    with _api(account) as c:
        with pytest.raises(httpx2.TransportError):
            _intent(c, "k")
        made = account.control.list("payment_intents")
        retried = _intent(c, "k")
    assert len(made) == 1 and retried.json()["id"] == made[0]["id"]


def test_a_503_before_commit_saves_nothing(account: RunningStripeSandbox) -> None:
    """A load balancer's 5xx leaves no intent and no saved answer under the key."""
    account.control.add_faults("POST /v1/payment_intents:status=503@nth=1")
    with _api(account) as c:
        first = _intent(c, "k")
        second = _intent(c, "k")
    assert first.status_code == 503 and second.status_code == 200
    assert "idempotent-replayed" not in second.headers
    assert len(account.control.list("payment_intents")) == 1


def test_wrong_key_is_401_and_the_key_is_not_echoed(account: RunningStripeSandbox) -> None:
    """An unknown key is refused without repeating it in full."""
    bad = "sk_test_this_is_not_the_key_12345678"
    r = httpx2.post(f"{account.url}/v1/payment_intents", auth=(bad, ""), data={"amount": "100"})
    assert r.status_code == 401 and bad not in r.text


@pytest.mark.parametrize(
    ("number", "decline"),
    [("4000000000000002", "generic_decline"), ("4000000000009995", "insufficient_funds")],
)
def test_declined_cards_fail_the_action_and_leave_the_intent_chargeable(
    account: RunningStripeSandbox, number: str, decline: str
) -> None:
    """A decline: action failed (card_declined), intent requires_payment_method, no money."""
    rid = account.reader_id
    with _api(account) as c:
        pi = _intent(c).json()
        c.post(f"/v1/terminal/readers/{rid}/process_payment_intent",
               data={"payment_intent": pi["id"]})  # fmt: skip
        rdr = c.post(f"/v1/test_helpers/terminal/readers/{rid}/present_payment_method",
                     data={"card_present[number]": number}).json()  # fmt: skip
        after = c.get(f"/v1/payment_intents/{pi['id']}").json()
    assert rdr["action"]["status"] == "failed" and rdr["action"]["failure_code"] == "card_declined"
    assert after["status"] == "requires_payment_method"
    assert after["last_payment_error"]["decline_code"] == decline


def test_reader_offline_busy_and_timeout(account: RunningStripeSandbox) -> None:
    """Offline and busy readers refuse with their codes; an unanswered action times out."""
    rid = account.reader_id
    assert rid is not None
    with _api(account) as c:
        a, b = _intent(c).json(), _intent(c).json()
        account.control.set_reader_status(rid, "offline")
        offline = c.post(f"/v1/terminal/readers/{rid}/process_payment_intent",
                         data={"payment_intent": a["id"]})  # fmt: skip
        account.control.set_reader_status(rid, "online")
        c.post(f"/v1/terminal/readers/{rid}/process_payment_intent",
               data={"payment_intent": a["id"]})  # fmt: skip
        busy = c.post(f"/v1/terminal/readers/{rid}/process_payment_intent",
                      data={"payment_intent": b["id"]})  # fmt: skip
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            action = c.get(f"/v1/terminal/readers/{rid}").json()["action"]
            if action["status"] != "in_progress":
                break
            time.sleep(0.05)
    assert offline.json()["error"]["code"] == "terminal_reader_offline"
    assert busy.json()["error"]["code"] == "terminal_reader_busy"
    assert action["status"] == "failed" and action["failure_code"] == "terminal_reader_timeout"


def test_webhooks_are_signed_as_stripe_signs_them(account: RunningStripeSandbox) -> None:
    """Each event reaches the endpoint with a Stripe-Signature the official library accepts."""
    received: list[tuple[bytes, str]] = []
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((body, self.headers["Stripe-Signature"]))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with _api(account) as c:
            url = f"http://127.0.0.1:{server.server_address[1]}/hook"
            ep = c.post("/v1/webhook_endpoints",
                        data={"url": url, "enabled_events[]": "payment_intent.created"}).json()
            _intent(c)
        deadline = time.monotonic() + 5
        while not received and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        server.shutdown()
        server.server_close()
    body, header = received[0]
    stripe.WebhookSignature.verify_header(body.decode(), header, ep["secret"])
    t = header.split(",")[0].split("=")[1]
    mac = hmac.new(ep["secret"].encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    assert f"v1={mac}" in header and json.loads(body)["type"] == "payment_intent.created"


def test_refund_beyond_the_charge_is_refused(account: RunningStripeSandbox) -> None:
    """Refunds add up to at most the captured amount (amount_too_large), then already refunded."""
    rid = account.reader_id
    with _api(account) as c:
        pi = _intent(c).json()
        c.post(f"/v1/terminal/readers/{rid}/process_payment_intent",
               data={"payment_intent": pi["id"]})  # fmt: skip
        c.post(f"/v1/test_helpers/terminal/readers/{rid}/present_payment_method", data=CARD)
        too_much = c.post("/v1/refunds", data={"payment_intent": pi["id"], "amount": "5000"})
        whole = c.post("/v1/refunds", data={"payment_intent": pi["id"]})
        again = c.post("/v1/refunds", data={"payment_intent": pi["id"]})
    assert too_much.json()["error"]["code"] == "amount_too_large"
    assert whole.json()["amount"] == 1234
    assert again.json()["error"]["code"] == "charge_already_refunded"


def test_fault_specs_are_checked() -> None:
    """A malformed fault rule is refused with what was wrong."""
    assert parse_faults("GET /v1/terminal/readers/*:commit_slow=2@first=3")[0].first == 3
    with pytest.raises(FaultError, match="unknown action"):
        parse_faults("GET /v1/x:explode")


def test_manual_capture_waits_for_capture(account: RunningStripeSandbox) -> None:
    """capture_method=manual: the card is authorised (requires_capture) until captured."""
    rid = account.reader_id
    with _api(account) as c:
        pi = c.post("/v1/payment_intents", data={
            "amount": "2000", "currency": "usd", "payment_method_types[]": "card_present",
            "capture_method": "manual"}).json()  # fmt: skip
        c.post(f"/v1/terminal/readers/{rid}/process_payment_intent",
               data={"payment_intent": pi["id"]})  # fmt: skip
        c.post(f"/v1/test_helpers/terminal/readers/{rid}/present_payment_method", data=CARD)
        held = c.get(f"/v1/payment_intents/{pi['id']}").json()
        captured = c.post(f"/v1/payment_intents/{pi['id']}/capture").json()
        twice = c.post(f"/v1/payment_intents/{pi['id']}/capture")
    assert held["status"] == "requires_capture" and held["amount_capturable"] == 2000
    assert captured["status"] == "succeeded" and captured["amount_received"] == 2000
    assert twice.json()["error"]["code"] == "payment_intent_unexpected_state"
