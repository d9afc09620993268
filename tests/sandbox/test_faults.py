"""Fault rules: the SPEC grammar, when rules fire, and what each fault does on the wire.

The wire tests run the real sandbox (recorded store) under uvicorn on
127.0.0.1:0 and use plain httpx2 clients, so each fault is seen exactly as
the till's client would see it.
"""

from __future__ import annotations

import email.utils
import json
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from onetill.sandbox.faults import FaultInjector, FaultSpecError, parse_spec
from sandbox_support import OAuthSigner

# --- grammar ----------------------------------------------------------------


def test_spec_from_the_docs_parses_into_two_rules() -> None:
    """The example in the module docstring is valid and means what it says."""
    first, second = parse_spec(
        "POST /orders*:commit_drop@nth=3;GET /products*:status=503,retry_after=2@p=0.1"
    )
    assert (first.methods, first.pattern, first.kind, first.trigger.nth) == (
        frozenset({"POST"}),
        "/orders*",
        "commit_drop",
        3,
    )
    assert (second.kind, second.value, second.params, second.trigger.p) == (
        "status",
        "503",
        {"retry_after": "2"},
        0.1,
    )


def test_rule_without_method_matches_every_method() -> None:
    (rule,) = parse_spec("/products*:delay=100,jitter=20")
    assert rule.methods is None
    assert rule.matches("DELETE", "/wp-json/wc/v3/products/10")


def test_several_methods_are_separated_by_bars() -> None:
    (rule,) = parse_spec("PUT|delete /products/*:html=502")
    assert rule.matches("PUT", "/wp-json/wc/v3/products/10")
    assert rule.matches("DELETE", "/wp-json/wc/v3/products/10")
    assert not rule.matches("GET", "/wp-json/wc/v3/products/10")


def test_pattern_matches_below_wc_v3_and_the_full_path() -> None:
    """`/orders*` means WooCommerce's orders; a full `/wp-json/...` path also works."""
    (short,) = parse_spec("/orders*:reset")
    (full,) = parse_spec("/wp-json/wc-onetill/v1/*:reset")
    assert short.matches("POST", "/wp-json/wc/v3/orders")
    assert short.matches("GET", "/wp-json/wc/v3/orders/12/notes")
    assert not short.matches("GET", "/wp-json/wc/v3/products")
    assert full.matches("GET", "/wp-json/wc-onetill/v1/changes")
    assert not full.matches("GET", "/wp-json/wc/v3/changes")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("/orders", "expected '[METHOD ]PATTERN:KIND"),
        ("/orders:explode", "unknown fault kind 'explode'"),
        ("FETCH /orders:reset", "unknown HTTP method 'FETCH'"),
        ("orders:reset", "must start with '/'"),
        ("/orders:status=200", "HTTP error code 400-599"),
        ("/orders:html=404", "html must be a 5xx status"),
        ("/orders:waf=500", "waf must be 200 or 403"),
        ("/orders:commit_html=404", "commit_html must be a 5xx status"),
        ("/orders:commit_status", "commit_status needs a value"),
        ("/orders:rate=10", "rate must be N/W"),
        ("/orders:rate=10/0", "rate window must be more than 0"),
        ("/orders:delay", "delay needs a value"),
        ("/orders:delay=fast", "delay must be a number"),
        ("/orders:reset=1", "reset takes no value"),
        ("/orders:status=429,after=2", "unknown parameter 'after=2' for status"),
        ("/orders:status=429,retry_after=1,retry_after_date=1", "not both"),
        ("/orders:reset@p=2", "p is 0..1"),
        ("/orders:reset@nth=0", "integers >= 1"),
        ("/orders:reset@when=3", "unknown trigger"),
    ],
)
def test_bad_spec_is_refused_with_the_rule_and_the_reason(spec: str, message: str) -> None:
    with pytest.raises(FaultSpecError) as caught:
        parse_spec("/products:delay=5;" + spec)
    assert message in str(caught.value)
    assert "fault rule 2" in str(caught.value)


def test_empty_spec_cannot_be_added() -> None:
    with pytest.raises(FaultSpecError, match="empty fault spec"):
        FaultInjector().add(" ; ")


# --- triggers -----------------------------------------------------------------


def _fires(injector: FaultInjector, n: int, method: str = "GET", path: str = "/x") -> list[bool]:
    return [injector.decide(method, path).terminal is not None for _ in range(n)]


def test_nth_fires_on_that_matching_request_only() -> None:
    injector = FaultInjector("GET /x:reset@nth=3")
    injector.decide("POST", "/x")  # does not match: not counted
    assert _fires(injector, 5) == [False, False, True, False, False]


def test_from_fires_on_the_nth_and_every_later_request() -> None:
    assert _fires(FaultInjector("/x:reset@from=2"), 4) == [False, True, True, True]


def test_count_caps_how_often_a_rule_fires() -> None:
    assert _fires(FaultInjector("/x:reset@count=2"), 4) == [True, True, False, False]


def test_probability_is_reproducible_with_the_same_seed() -> None:
    """p= uses a seeded RNG: a failing test run can be replayed exactly."""
    a = _fires(FaultInjector("/x:reset@p=0.3", seed=7), 200)
    b = _fires(FaultInjector("/x:reset@p=0.3", seed=7), 200)
    c = _fires(FaultInjector("/x:reset@p=0.3", seed=8), 200)
    assert a == b
    assert a != c
    assert 30 < sum(a) < 90


@given(
    nth=st.one_of(st.none(), st.integers(1, 8)),
    start=st.one_of(st.none(), st.integers(1, 8)),
    count=st.one_of(st.none(), st.integers(1, 8)),
    requests=st.integers(0, 12),
)
def test_deterministic_triggers_fire_exactly_where_the_grammar_says(
    nth: int | None, start: int | None, count: int | None, requests: int
) -> None:
    named = (("nth", nth), ("from", start), ("count", count))
    conditions = [f"{name}={value}" for name, value in named if value is not None]
    spec = "/x:reset" + ("@" + ",".join(conditions) if conditions else "")
    fired = [i + 1 for i, hit in enumerate(_fires(FaultInjector(spec), requests)) if hit]
    expected = [
        n for n in range(1, requests + 1)
        if (nth is None or n == nth) and (start is None or n >= start)
    ]  # fmt: skip
    assert fired == (expected if count is None else expected[:count])


def test_first_triggered_terminal_rule_wins_and_delays_add_up() -> None:
    injector = FaultInjector("/x:delay=100;/x:status=503;/x:reset;/x:delay=50,jitter=0")
    fired = injector.decide("GET", "/x")
    assert fired.terminal is not None and fired.terminal.kind == "status"
    assert fired.delay_s == pytest.approx(0.150)
    assert [r.fired for r in injector.rules] == [1, 1, 0, 1]


def test_rate_limit_allows_n_per_window_then_says_when_to_come_back() -> None:
    injector = FaultInjector("/x:rate=2/10")
    decisions = [injector.decide("GET", "/x", now=100.0 + t) for t in (0, 1, 2, 9.5, 10.0)]
    assert [d.terminal is not None for d in decisions] == [False, False, True, True, False]
    assert decisions[2].retry_after_s == pytest.approx(8.0)
    assert decisions[3].retry_after_s == pytest.approx(0.5)


def test_rules_are_added_and_cleared_at_runtime() -> None:
    injector = FaultInjector("/x:reset")
    (added,) = injector.add("/y:reset")
    assert added.id == 2
    assert injector.clear(1) == 1
    assert [r.id for r in injector.rules] == [2]
    assert injector.clear() == 1
    assert _fires(injector, 1, path="/y") == [False]


# --- on the wire: the real sandbox server on 127.0.0.1 ----------------------

ORDER = {"status": "completed", "set_paid": True, "line_items": [{"product_id": 10, "quantity": 1}]}


class Wire:
    """Plain httpx2 against a running sandbox, OAuth-signed by the tests' own signer."""

    def __init__(self, server: Any) -> None:
        self.server = server

    def url(self, path: str) -> str:
        return f"{self.server.url}/wp-json/wc/v3/{path}"

    def request(
        self, method: str, path: str, *, timeout: float = 10.0, **kwargs: Any
    ) -> httpx2.Response:
        auth = OAuthSigner(self.server.key, self.server.secret)
        with httpx2.Client(timeout=timeout, auth=auth) as client:
            return client.request(method, self.url(path), **kwargs)

    def post_order(self, **kwargs: Any) -> httpx2.Response:
        return self.request("POST", "orders", json=ORDER, **kwargs)

    def orders(self) -> list[dict[str, Any]]:
        return list(self.server.control.orders())


@pytest.fixture
def wire(start_sandbox: Callable[..., Any]) -> Callable[..., Wire]:
    def start(faults: str | None = None, **fields: Any) -> Wire:
        return Wire(start_sandbox(faults=faults, **fields))

    return start


def test_the_signed_client_of_these_tests_is_accepted(wire: Callable[..., Wire]) -> None:
    """Baseline for every fault below: without faults the request succeeds."""
    w = wire()
    response = w.request("GET", "products/10")
    assert response.status_code == 200
    assert response.json()["id"] == 10


def test_delay_adds_latency_with_jitter(wire: Callable[..., Wire]) -> None:
    w = wire("GET /products/*:delay=300,jitter=100")
    started = time.monotonic()
    assert w.request("GET", "products/10").status_code == 200
    elapsed = time.monotonic() - started
    assert 0.3 <= elapsed < 2.0
    assert w.request("GET", "products").status_code == 200  # not matched: no delay
    (rule,) = w.server.control.faults()
    assert (rule["matched"], rule["fired"]) == (1, 1)


def test_429_with_retry_after_seconds_is_not_processed(wire: Callable[..., Wire]) -> None:
    w = wire("POST /orders:status=429,retry_after=7@nth=1")
    refused = w.post_order()
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "7"
    assert refused.headers["content-type"].startswith("text/html")
    assert w.orders() == []
    assert w.post_order().status_code == 201
    assert len(w.orders()) == 1


def test_503_with_retry_after_as_an_http_date(wire: Callable[..., Wire]) -> None:
    w = wire("GET /products*:status=503,retry_after_date=120")
    response = w.request("GET", "products")
    assert response.status_code == 503
    moment = email.utils.parsedate_to_datetime(response.headers["retry-after"])
    server_now = email.utils.parsedate_to_datetime(response.headers["date"])
    assert 118 <= (moment - server_now).total_seconds() <= 122


def test_host_rate_limit_answers_429_after_n_requests(wire: Callable[..., Wire]) -> None:
    w = wire("/products*:rate=3/60")
    statuses = [w.request("GET", "products").status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    limited = w.request("GET", "products")
    assert 1 <= int(limited.headers["retry-after"]) <= 60


@pytest.mark.parametrize(
    ("code", "marker"), [(500, b"critical error on this website"), (502, b"502 Bad Gateway")]
)
def test_html_5xx_page_instead_of_json(wire: Callable[..., Wire], code: int, marker: bytes) -> None:
    w = wire(f"GET /products*:html={code}")
    response = w.request("GET", "products")
    assert response.status_code == code
    assert response.headers["content-type"].startswith("text/html")
    assert marker in response.content


@pytest.mark.parametrize("code", [200, 403])
def test_waf_challenge_is_html_with_status_200_or_403(
    wire: Callable[..., Wire], code: int
) -> None:
    w = wire(f"/orders*:waf={code}")
    response = w.post_order()
    assert response.status_code == code
    assert b"Just a moment..." in response.content
    with pytest.raises(json.JSONDecodeError):
        response.json()
    assert w.orders() == []


def test_malformed_json_follows_a_php_notice_and_the_write_happened(
    wire: Callable[..., Wire],
) -> None:
    w = wire("POST /orders:malformed")
    response = w.post_order()
    assert response.status_code == 201
    assert response.content.startswith(b"<br />")
    with pytest.raises(json.JSONDecodeError):
        response.json()
    assert len(w.orders()) == 1


def test_truncated_json_is_cut_with_a_consistent_content_length(
    wire: Callable[..., Wire],
) -> None:
    w = wire("GET /products:truncated")
    response = w.request("GET", "products")
    assert response.status_code == 200
    assert int(response.headers["content-length"]) == len(response.content)
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_reset_kills_the_connection_before_the_store_sees_the_request(
    wire: Callable[..., Wire],
) -> None:
    w = wire("POST /orders:reset@nth=1")
    with pytest.raises((httpx2.ReadError, httpx2.RemoteProtocolError)):
        w.post_order()
    assert w.orders() == []
    assert w.post_order().status_code == 201


def test_commit_drop_creates_the_order_and_never_answers(wire: Callable[..., Wire]) -> None:
    """The ambiguous write: the client sees a dropped connection, the store has the order."""
    w = wire("POST /orders:commit_drop@nth=1")
    with pytest.raises(httpx2.RemoteProtocolError):
        w.post_order()
    (order,) = w.orders()
    assert order["status"] == "completed"
    assert w.server.control.stock(10)[10] == 6  # 7 in the recorded store, reduced once


@pytest.mark.parametrize(
    ("spec", "code", "marker"),
    [
        ("POST /orders:commit_html=504@nth=1", 504, b"504 Gateway Time-out"),
        ("POST /orders:commit_status=502@nth=1", 502, b"502 Bad Gateway"),
    ],
)
def test_commit_then_proxy_page_saves_the_order_and_answers_html_5xx(
    wire: Callable[..., Wire], spec: str, code: int, marker: bytes
) -> None:
    """PHP slower than the proxy: the client reads the proxy's 5xx HTML page, yet the
    order exists and stock is reduced, so resending blindly would sell twice."""
    w = wire(spec)
    response = w.post_order()
    assert response.status_code == code
    assert response.headers["content-type"].startswith("text/html")
    assert marker in response.content
    assert "location" not in response.headers  # nothing of the store's answer leaks through
    with pytest.raises(json.JSONDecodeError):
        response.json()
    (order,) = w.orders()
    assert order["status"] == "completed"
    assert w.server.control.stock(10)[10] == 6  # 7 in the recorded store, reduced once
    assert w.post_order().status_code == 201  # nth=1: the next attempt is answered
    assert len(w.orders()) == 2


def test_every_attempt_is_either_answered_or_dropped_and_always_committed(
    wire: Callable[..., Wire],
) -> None:
    """Random drops on one keep-alive client: never a 500, and the store has one order
    per attempt, so a client that resends blindly would duplicate exactly the dropped ones."""
    w = wire("POST /orders:commit_drop@p=0.5", seed=3)
    answered = dropped = 0
    with httpx2.Client(timeout=5, auth=OAuthSigner(w.server.key, w.server.secret)) as client:
        for _ in range(20):
            try:
                response = client.post(w.url("orders"), json=ORDER)
            except httpx2.RemoteProtocolError:
                dropped += 1
            else:
                assert response.status_code == 201
                answered += 1
    assert answered and dropped
    assert len(w.orders()) == 20
    assert w.server.control.faults()[0]["fired"] == dropped


def test_resets_never_commit_and_drops_always_do_on_one_keep_alive_client(
    wire: Callable[..., Wire],
) -> None:
    """Mixed random resets and drops: the store holds exactly the answered and dropped writes,
    and the client recovers a fresh connection after each broken one."""
    w = wire("POST /orders:reset@p=0.3;POST /orders:commit_drop@p=0.4", seed=11)
    answered = failed = 0
    with httpx2.Client(timeout=5, auth=OAuthSigner(w.server.key, w.server.secret)) as client:
        for _ in range(30):
            try:
                response = client.post(w.url("orders"), json=ORDER)
            except (httpx2.ReadError, httpx2.RemoteProtocolError):
                failed += 1
            else:
                assert response.status_code == 201
                answered += 1
    resets, drops = (rule["fired"] for rule in w.server.control.faults())
    assert resets and drops
    assert failed == resets + drops
    assert len(w.orders()) == answered + drops


def test_commit_drop_over_https_is_a_dropped_connection_too(
    start_sandbox: Callable[..., Any], tls_cert: tuple[Path, Path]
) -> None:
    cert, key = tls_cert
    srv = start_sandbox(faults="POST /orders:commit_drop", ssl_certfile=cert, ssl_keyfile=key)
    context = ssl.create_default_context(cafile=str(cert))
    client = httpx2.Client(verify=context, auth=(srv.key, srv.secret), timeout=5)
    with client, pytest.raises(httpx2.RemoteProtocolError):
        client.post(f"{srv.url}/wp-json/wc/v3/orders", json=ORDER)
    assert len(srv.control.orders()) == 1


def test_slow_response_outlasts_the_client_timeout_after_the_write(
    wire: Callable[..., Wire],
) -> None:
    w = wire("POST /orders:slow=3@nth=1")
    started = time.monotonic()
    with pytest.raises(httpx2.ReadTimeout):
        w.post_order(timeout=0.5)
    assert time.monotonic() - started < 2.0
    assert len(w.orders()) == 1


def test_slow_response_arrives_when_the_client_waits(wire: Callable[..., Wire]) -> None:
    w = wire("GET /products/10:slow=0.5")
    started = time.monotonic()
    response = w.request("GET", "products/10", timeout=5)
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.5


def test_revoked_key_gets_the_stores_own_401_from_then_on(wire: Callable[..., Wire]) -> None:
    w = wire("/products*:revoke@nth=2")
    assert w.request("GET", "products/10").status_code == 200
    for _ in range(2):
        refused = w.request("GET", "products/10")
        assert refused.status_code == 401
        assert refused.json()["code"] == "woocommerce_rest_authentication_error"
    assert w.request("GET", "orders").status_code == 401  # the key is gone everywhere


def test_wrong_clock_shows_in_the_date_header(wire: Callable[..., Wire]) -> None:
    w = wire("GET /products*:clock=-7200")
    response = w.request("GET", "products/10")
    assert response.status_code == 200
    shown = email.utils.parsedate_to_datetime(response.headers["date"]).timestamp()
    assert abs(shown - (time.time() - 7200)) < 5
    right = w.request("GET", "orders").headers["date"]
    assert abs(email.utils.parsedate_to_datetime(right).timestamp() - time.time()) < 5


def test_faults_added_at_runtime_apply_to_the_next_request(wire: Callable[..., Wire]) -> None:
    w = wire()
    w.server.control.add_faults("GET /products/10:status=503")
    assert w.request("GET", "products/10").status_code == 503
    assert w.server.control.faults()[0]["fired"] == 1
    w.server.control.clear_faults()
    assert w.request("GET", "products/10").status_code == 200


def test_control_routes_are_never_faulted(wire: Callable[..., Wire]) -> None:
    w = wire("*:reset")
    assert w.server.control.orders() == []


# --- in-process: no socket, so connection faults raise what a socket would ---


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("kind", "error", "processed"),
    [
        ("reset", httpx2.ReadError, False),
        ("commit_drop", httpx2.RemoteProtocolError, True),
        ("slow=30", httpx2.ReadTimeout, True),
    ],
)
async def test_in_process_connection_faults_raise_the_transport_error(
    kind: str, error: type[Exception], processed: bool
) -> None:
    from onetill.sandbox import SandboxConfig, create_app
    from support import RECORDED_STORE

    app = create_app(SandboxConfig(store_dir=RECORDED_STORE, faults=f"POST /orders:{kind}"))
    url = "http://sandbox.test/wp-json/wc/v3/orders"
    key, secret = next(iter(app.state.sandbox.config.keys.items()))
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, auth=OAuthSigner(key, secret)) as client:
        with pytest.raises(error):
            await client.post(url, json=ORDER)
    assert len(app.state.sandbox.list_orders()) == (1 if processed else 0)


@pytest.mark.anyio
async def test_in_process_commit_html_answers_the_proxy_page_after_the_write() -> None:
    """Without a socket commit_html still works: the 504 page arrives, the order exists."""
    from onetill.sandbox import SandboxConfig, create_app
    from support import RECORDED_STORE

    app = create_app(SandboxConfig(store_dir=RECORDED_STORE, faults="POST /orders:commit_html=504"))
    url = "http://sandbox.test/wp-json/wc/v3/orders"
    key, secret = next(iter(app.state.sandbox.config.keys.items()))
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, auth=OAuthSigner(key, secret)) as client:
        response = await client.post(url, json=ORDER)
    assert response.status_code == 504
    assert b"504 Gateway Time-out" in response.content
    assert len(app.state.sandbox.list_orders()) == 1
