"""Card payments: time from "Card" to "paid", and Stripe requests per payment.

    .venv/bin/python benchmarks/bench_card.py [--latency-ms 100] [--payments 20]

Against the emulated Stripe API (a real server on loopback) with every
request delayed by 100 ms, as over a shop's internet link. Three ways a
payment ends:

* the till presents a test card on a simulated reader (the present's
  answer carries the PaymentIntent and its charge, expanded);
* a customer taps 1.5 s after the hand-off and the till polls the reader
  (0.3 s growing to 3 s between reads);
* the same, with Stripe's webhook delivered to a receiver that stores the
  event as the engine does (``pay.events``): the waiting till reads it from
  SQLite and asks Stripe once; it polls the reader less (1 s growing to
  10 s), as it does when the engine receives webhooks.

Fewer requests is better: Stripe rate-limits (and each one is a round trip).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "tests"), str(HERE.parent / "src")]

from onetill.pay.events import WATCHED_EVENTS, receive_event  # noqa: E402
from onetill.store.db import Database  # noqa: E402
from stripe_support import card_payments, priced, stripe_account  # noqa: E402
from till_support import seeded_db  # noqa: E402

TAP_AFTER_S = 1.5


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]


def _webhook_receiver(path: Path, secret: list[str]) -> HTTPServer:
    db = Database(path)

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            status, _ = receive_event(db, body, self.headers.get("Stripe-Signature"), secret[0])
            self.send_response(status)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def run(latency_ms: float, payments: int, taps: int) -> list[tuple[str, str, str, str]]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        db = seeded_db(Path(tmp) / "till.db")
        with stripe_account(latency_ms=latency_ms, reader_timeout_s=60) as account:
            till = card_payments(db, account)
            times, counts = [], []
            for i in range(payments):
                sale = priced(db, "SIMPLE-031" if i % 2 else "SIMPLE-032")
                before, started = till.gateway.requests, time.perf_counter()
                attempt, _ = till.begin(sale.order, sale.lines)
                assert till.pay(attempt.id, test_card="success").paid
                times.append(time.perf_counter() - started)
                counts.append(till.gateway.requests - before)
            rows.append(("simulated reader, till presents the card",
                         f"{statistics.median(times) * 1000:.0f} ms",
                         f"{_pct(times, 0.95) * 1000:.0f} ms",
                         f"{statistics.mean(counts):.1f}"))  # fmt: skip
            secret: list[str] = [""]
            server = _webhook_receiver(Path(tmp) / "till.db", secret)
            try:
                for label, hooks in (("customer taps after 1.5 s, polling", False),
                                     ("customer taps after 1.5 s, webhook", True)):  # fmt: skip
                    if hooks:
                        from onetill.pay import POLL_WITH_WEBHOOKS

                        till.poll_min_s, till.poll_max_s = POLL_WITH_WEBHOOKS
                        url = f"http://127.0.0.1:{server.server_address[1]}/webhooks/stripe"
                        ep = till.gateway.create_webhook_endpoint(url, WATCHED_EVENTS, "bench-we")
                        secret[0] = str(ep["secret"])
                    after, counts = [], []
                    for i in range(taps):
                        sale = priced(db, "SIMPLE-033", qty=i + 1)
                        attempt, _ = till.begin(sale.order, sale.lines)
                        tapped: list[float] = []

                        def tap(tapped: list[float] = tapped) -> None:
                            tapped.append(time.perf_counter())
                            account.control.tap(str(account.reader_id))

                        before = till.gateway.requests
                        timer = threading.Timer(TAP_AFTER_S, tap)
                        timer.start()
                        assert till.pay(attempt.id).paid
                        done = time.perf_counter()
                        timer.join()
                        after.append(done - tapped[0])
                        counts.append(till.gateway.requests - before)
                    rows.append((label, f"{statistics.median(after) * 1000:.0f} ms after the tap",
                                 f"{_pct(after, 0.95) * 1000:.0f} ms",
                                 f"{statistics.mean(counts):.1f}"))  # fmt: skip
            finally:
                server.shutdown()
        db.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--payments", type=int, default=20)
    parser.add_argument("--taps", type=int, default=5)
    args = parser.parse_args()
    rows = run(args.latency_ms, args.payments, args.taps)
    print("## Card payments (bench_card.py)\n")
    print(f"Emulated Stripe API on loopback, every request delayed {args.latency_ms:.0f} ms. "
          f"{args.payments} payments presented by the till, {args.taps} tapped by a 'customer' "
          "per row. Time from \"Card\" (the attempt stored) to \"paid\" (the sale committed), "
          "or from the tap to \"paid\". Requests: every HTTP request to Stripe for one "
          "payment (create, hand-off, then present or reader reads, and any final read).\n")
    print("| payment | median | p95 | Stripe requests per payment |")
    print("|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
