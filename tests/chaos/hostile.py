"""Hostile input against the live engine and the till's command line.

* Webhooks: forged (wrong signature), replayed (same delivery twice),
  oversized, slow-drip (a body trickled a byte at a time) and
  hypothesis-generated WooCommerce payloads signed with the real secret (as
  if the store sent nonsense: wrong types, nulls, missing fields, huge
  strings, odd unicode, negative stock, absurd prices, duplicate SKUs,
  parent cycles). Genuine deliveries sent meanwhile must be answered at once.
* The command line: quantities, amounts and codes a cashier could mistype.
* Secrets: a run with debug logging, then every file and log line of the
  till scanned for the consumer secret and the webhook secret.

"Accepted" means: a forged/replayed/oversized/slow delivery applied or
answered 2xx, a generated payload answered 5xx or crashing the engine, a
bad sale recorded. Each counts into ``bad_inputs_accepted``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
import time
from pathlib import Path
from typing import Any

import httpx2

from chaos.procs import Cli, EngineProc

__all__ = ["run_all"]

HUGE = "x" * 200_000


def _sign(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def _headers(body: bytes, secret: str, topic: str, delivery: str) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "x-wc-webhook-topic": topic,
        "x-wc-webhook-resource": topic.split(".")[0],
        "x-wc-webhook-event": topic.split(".")[1],
        "x-wc-webhook-signature": _sign(body, secret),
        "x-wc-webhook-id": "7",
        "x-wc-webhook-delivery-id": delivery,
    }


class _Hooks:
    def __init__(self, engine_url: str, secret: str) -> None:
        self.url = engine_url + "webhooks/woocommerce"
        self.secret = secret
        self.n = 0
        self.client = httpx2.Client(timeout=15, trust_env=False)

    def send(self, body: bytes, *, topic: str = "product.updated", secret: str | None = None,
             delivery: str | None = None) -> httpx2.Response:  # fmt: skip
        self.n += 1
        headers = _headers(
            body, secret or self.secret, topic, delivery or f"chaos-{self.n}-{time.time()}"
        )
        return self.client.post(self.url, content=body, headers=headers)


def _genuine(hooks: _Hooks, product: dict[str, Any]) -> float:
    """A genuine delivery; returns how long its answer took (fails if not 2xx)."""
    started = time.monotonic()
    response = hooks.send(json.dumps(product).encode())
    if response.status_code >= 300:
        raise AssertionError(f"a genuine delivery was answered {response.status_code}")
    return time.monotonic() - started


def _slow_drip(port: int, secret: str, body: bytes, seconds: float, result: list[str]) -> None:
    """Send a delivery's body one byte at a time; record whether it was cut off."""
    head = (
        "POST /webhooks/woocommerce HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nX-WC-Webhook-Topic: product.updated\r\n"
        f"X-WC-Webhook-Signature: {_sign(body, secret)}\r\n"
        f"X-WC-Webhook-Delivery-ID: drip-{time.time()}\r\n"
        "X-WC-Webhook-Resource: product\r\nX-WC-Webhook-Event: updated\r\n\r\n"
    ).encode()
    deadline = time.monotonic() + seconds
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=seconds + 5) as sock:
            sock.sendall(head)
            for i in range(len(body)):
                if time.monotonic() > deadline:
                    break
                sock.sendall(body[i : i + 1])
                sock.settimeout(0.25)
                try:
                    answer = sock.recv(4096)
                except TimeoutError:
                    continue
                result.append("answered " + answer.split(b"\r\n", 1)[0].decode(errors="replace")
                              if answer else "closed")  # fmt: skip
                return
            sock.settimeout(3)
            try:
                answer = sock.recv(4096)
            except TimeoutError:
                answer = None
            result.append("still waiting" if answer is None else
                          ("answered " + answer.split(b"\r\n", 1)[0].decode(errors="replace")
                           if answer else "closed"))  # fmt: skip
    except OSError as exc:
        result.append(f"closed ({exc.__class__.__name__})")


def webhook_attacks(
    engine: EngineProc, secret: str, sample: dict[str, Any]
) -> tuple[dict[str, int], list[str]]:
    hooks = _Hooks(engine.url, secret)
    tried = accepted = 0
    problems: list[str] = []
    genuine = dict(sample)
    # Forged: a wrong secret, no signature, a signature of another body.
    for forged in ("wrong-secret", "", None):
        tried += 1
        body = json.dumps({**genuine, "name": "FORGED"}).encode()
        if forged is None:
            headers = _headers(b"{}", secret, "product.updated", f"forged-{time.time()}")
            response = hooks.client.post(hooks.url, content=body, headers=headers)
        else:
            response = hooks.send(body, secret=forged or "x")
        if response.status_code < 400:
            accepted += 1
            problems.append(f"a forged delivery ({forged!r}) was answered {response.status_code}")
    # Replayed: the same delivery twice; the second must be ignored.
    body = json.dumps(genuine).encode()
    first = hooks.send(body, delivery="replay-1")
    again = hooks.send(body, delivery="replay-1")
    tried += 1
    if again.status_code >= 300 or again.json().get("outcome") != "duplicate":
        accepted += 1
        problems.append(f"a replayed delivery was answered {again.status_code} {again.text[:80]}")
    if first.status_code >= 300:
        problems.append(f"a genuine delivery was answered {first.status_code}")
    # Oversized.
    tried += 1
    big = json.dumps({**genuine, "description": "y" * (2 * 1024 * 1024)}).encode()
    response = hooks.send(big)
    if response.status_code != 413:
        accepted += 1
        problems.append(f"an oversized delivery was answered {response.status_code}, not 413")
    # Slow drips beside genuine deliveries.
    drips: list[str] = []
    threads = [
        threading.Thread(
            target=_slow_drip,
            args=(engine.port, secret, json.dumps(genuine).encode(), 13.0, drips),
            daemon=True,
        )
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    time.sleep(1.0)
    waits = [_genuine(hooks, genuine) for _ in range(5)]
    if max(waits) > 2.0:
        problems.append(f"genuine deliveries waited {max(waits):.1f} s beside slow drips")
    for t in threads:
        t.join(40)
    tried += len(threads)
    for outcome in drips:
        if not outcome.startswith(("answered HTTP/1.1 408", "closed", "answered HTTP/1.1 400")):
            accepted += 1
            problems.append(f"a slow-drip delivery was not cut off: {outcome}")
    hooks.client.close()
    return {"webhooks_tried": tried, "webhooks_accepted": accepted,
            "genuine_max_wait_ms": round(max(waits) * 1000)}, problems  # fmt: skip


def generated_payloads(
    engine: EngineProc, secret: str, sample: dict[str, Any], examples: int, log_path: Path
) -> tuple[dict[str, int], list[str]]:
    """Hypothesis-generated product payloads, signed as the store would: never a 5xx or a crash."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    hooks = _Hooks(engine.url, secret)
    counts = {"generated_tried": 0, "generated_malformed": 0, "generated_5xx": 0}
    unreported: list[int] = []
    skus = [str(sample.get("sku") or "SKU")]
    odd = st.sampled_from(["", " ", "\u0000", "\ufeff", "\u202e", "é" * 50, "😀" * 100, HUGE,
                           "\ud800", "NaN", "INF", "-1", "1e400", "99999999999999999999.999",
                           "0x10", "١٢٣", *skus])  # fmt: skip
    values = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70),
                       st.floats(allow_nan=True), odd, st.lists(st.integers(), max_size=3),
                       st.dictionaries(st.text(max_size=5), st.integers(), max_size=3))  # fmt: skip
    fields = [
        "name", "sku", "price", "regular_price", "sale_price", "stock_quantity",
        "manage_stock", "status", "type", "parent_id", "tax_class", "tax_status",
        "date_modified_gmt", "variations", "purchasable", "global_unique_id",
        "date_on_sale_from_gmt", "date_on_sale_to_gmt", "categories", "meta_data",
    ]  # fmt: skip

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(
        item_id=st.integers(900_000, 900_050),
        changes=st.dictionaries(st.sampled_from(fields), values, max_size=6),
        missing=st.lists(st.sampled_from(fields), max_size=4),
        cycle=st.booleans(),
    )
    def one(item_id: int, changes: dict[str, Any], missing: list[str], cycle: bool) -> None:
        now = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
        data = {**sample, "id": item_id, "date_modified_gmt": now}
        data.update(changes)
        for name in missing:
            data.pop(name, None)
        if cycle:
            data.update(type="variation", parent_id=item_id + 1)
        counts["generated_tried"] += 1
        body = json.dumps(data, default=str).encode("utf-8", "surrogatepass")
        response = hooks.send(body)
        assert response.status_code < 500, (
            f"engine answered {response.status_code}: {response.text[:200]}"
        )
        if response.json().get("outcome") == "malformed":
            counts["generated_malformed"] += 1
            unreported.append(item_id)
        assert engine.status() is not None, "the engine stopped answering"

    problems: list[str] = []
    try:
        one()
    except Exception as exc:  # hypothesis re-raises the shrunk failure
        problems.append(f"a generated payload broke the engine: {exc}")
        counts["generated_5xx"] += 1
    hooks.client.close()
    text = log_path.read_text(encoding="utf-8", errors="replace") if log_path.exists() else ""
    missing_ids = sorted({i for i in unreported if str(i) not in text})
    if missing_ids:
        problems.append(
            f"malformed payloads not reported with their id in the log: {missing_ids[:10]}"
        )
    return counts, problems


BAD_SALES = [
    ["{sku}:0"], ["{sku}:-1"], ["{sku}:abc"], ["{sku}:1000000000000"], ["{sku}:1.5"],
    ["NO-SUCH-SKU:1"], ["{sku}:1", "--tendered", "-5"], ["{sku}:1", "--tendered", "NaN"],
    ["{sku}:1", "--tendered", "1e400"], ["{sku}:1", "--tendered", "0.001"], [":1"], ["{sku}:"],
    ["\u202e{sku}:1"], ["{sku}:1", "--pay", "card"],
]  # fmt: skip


def bad_sales(
    home: Path, run_dir: Path, sku: str, count_orders: Any
) -> tuple[dict[str, int], list[str]]:
    problems = []
    tried = accepted = 0
    for template in BAD_SALES:
        args = [a.replace("{sku}", sku) for a in template]
        if "--pay" not in args:
            args += ["--pay", "cash"]
        before = count_orders()
        code, out = Cli(home, ["sell", *args, "--offline"], run_dir / "bad-input.log").run()
        tried += 1
        if code == 0 or count_orders() != before or "Traceback" in out:
            accepted += 1
            problems.append(f"onetill sell {' '.join(args)} was accepted or crashed: {out[-200:]}")
    return {"cli_tried": tried, "cli_accepted": accepted}, problems


def _screen_sales(item_id: int) -> list[tuple[str, Any]]:
    """Bodies for ``POST /api/sales`` that must each be refused with nothing recorded."""

    def sale(**kw: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "sale_key": f"chaos-bad-{time.time_ns()}",
            "lines": [{"id": item_id, "qty": 1}],
            "payment": {"method": "cash"},
            "expected_total": "0.00",  # wrong for any real price: refused if all else passes
        }
        body.update(kw)
        return body

    line = {"id": item_id, "qty": 1}
    return [
        ("json", sale(lines=[{**line, "qty": 0}])),
        ("json", sale(lines=[{**line, "qty": -1}])),
        ("json", sale(lines=[{**line, "qty": 10**12}])),
        ("json", sale(lines=[{**line, "qty": 1.5}])),
        ("json", sale(lines=[{**line, "qty": "1"}])),
        ("json", sale(lines=[{"id": 999_999_999, "qty": 1}])),
        ("json", sale(lines=[{"id": 2**70, "qty": 1}])),
        ("json", sale(lines=[])),
        ("json", sale(payment={"method": "bitcoin"})),
        ("json", sale(payment={"method": "cash", "tendered": "-5"})),
        ("json", sale(payment={"method": "cash", "tendered": "NaN"})),
        ("json", sale(payment={"method": "cash", "tendered": "1e400"})),
        ("json", sale(payment={"method": "cash", "tendered": "0.001"})),
        ("json", sale(expected_total="abc")),
        ("json", sale(expected_total="0.00")),
        ("json", sale(surprise=1)),
        ("json", {"lines": [line], "payment": {"method": "cash"}}),
        ("raw", b"not json at all"),
        ("raw", b"[" * 5000 + b"]" * 5000),
        ("raw", b'{"sale_key": "' + b"x" * 2_000_000 + b'"}'),
    ]


def bad_screen_sales(
    engine_url: str, item_id: int, count_orders: Any
) -> tuple[dict[str, int], list[str]]:
    """Hostile sales sent to the till screen's JSON API (as a page of the screen would)."""
    problems = []
    tried = accepted = 0
    with httpx2.Client(base_url=engine_url, timeout=30, trust_env=False) as http:
        csrf = http.get("api/session").json()["csrf"]
        headers = {"x-csrf-token": csrf, "content-type": "application/json"}
        for kind, body in _screen_sales(item_id):
            before = count_orders()
            content = body if kind == "raw" else json.dumps(body).encode()
            answer = http.post("api/sales", content=content, headers=headers)
            tried += 1
            if answer.status_code < 400 or answer.status_code >= 500 or count_orders() != before:
                accepted += 1
                shown = content[:120].decode(errors="replace")
                problems.append(
                    f"POST /api/sales {shown!r} answered {answer.status_code}: {answer.text[:160]}"
                )
    return {"screen_tried": tried, "screen_accepted": accepted}, problems


def secret_scan(home: Path, run_dir: Path, secrets_: list[str]) -> list[str]:
    """No till file or log other than the secret store holds a secret."""
    problems = []
    paths = [p for p in home.rglob("*") if p.is_file() and p.name != "secrets.json"]
    paths += [p for p in run_dir.glob("*.log") if p.name not in ("sandbox.log",)]
    for path in paths:
        data = path.read_bytes()
        for secret in secrets_:
            if secret and secret.encode() in data:
                problems.append(f"{path.relative_to(run_dir)} holds a secret ({secret[:6]}...)")
    return problems


def run_all(
    world: Any, config: Any, *, examples: int, engine_args: list[str]
) -> tuple[dict[str, Any], list[str]]:
    """Every hostile-input check against the running till; (figures, problems)."""
    import sqlite3

    from onetill.config import load_config

    figures: dict[str, Any] = {}
    problems: list[str] = []
    world.ensure_engine()
    engine: EngineProc = world.engine
    deadline = time.monotonic() + 60
    while engine.status() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    cfg = load_config(world.home)
    sample = _sample_product(world)
    f1, p1 = webhook_attacks(engine, cfg.webhook_secret or "", sample)
    f2, p2 = generated_payloads(engine, cfg.webhook_secret or "", sample, examples, engine.log)
    db_path = world.home / "onetill.db"

    def count_orders() -> int:
        conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        try:
            return int(conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0])
        finally:
            conn.close()

    f3, p3 = bad_sales(
        world.home, world.run_dir, str(sample.get("sku") or sample["id"]), count_orders
    )
    f4, p4 = bad_screen_sales(engine.url, int(sample["id"]), count_orders)
    figures.update(f1, **f2, **f3, **f4)
    figures["bad_inputs_tried"] = (f1["webhooks_tried"] + f2["generated_tried"] + f3["cli_tried"]
                                   + f4["screen_tried"])  # fmt: skip
    figures["bad_inputs_accepted"] = (f1["webhooks_accepted"] + f2["generated_5xx"]
                                      + f3["cli_accepted"] + f4["screen_accepted"])  # fmt: skip
    problems += p1 + p2 + p3 + p4
    # A short run with debug logging: sales, uploads, a webhook registration.
    world.engine.terminate()
    debug = EngineProc(world.home, engine.port, [*engine_args, "--log-level", "debug"],
                       world.run_dir / "engine-debug.log")  # fmt: skip
    debug.start()
    try:
        for _ in range(3):
            world.sale_local([[0.3, 1]])
        Cli(world.home, ["webhooks", "register", engine.url], world.run_dir / "debug-cli.log").run()
        Cli(world.home, ["drain"], world.run_dir / "debug-cli.log").run()
        time.sleep(3)
    finally:
        debug.terminate()
        world.engine.start()
    cfg = load_config(world.home)
    for till in world.tills:
        cfg = load_config(till.home)
        problems += secret_scan(till.home, world.run_dir, [cfg.secret, cfg.webhook_secret or ""])
    return figures, problems


def _sample_product(world: Any) -> dict[str, Any]:
    """A real product of the store, as a webhook would carry it."""
    from chaos.runner import store_catalog

    catalog, _ = store_catalog(world.proxy_url)
    for item in world.alive(sold=True):
        obj = catalog.get(item.id)
        if obj is not None and obj.get("type") == "simple":
            return obj
    return next(o for o in catalog.values() if o.get("type") == "simple")
