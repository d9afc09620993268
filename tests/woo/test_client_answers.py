"""How WooClient reads answers: HTML instead of JSON, every 401 variant, clock skew, URLs."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import httpx2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from onetill.woo import Outcome, WooClient, classify
from onetill.woo.errors import (
    AmbiguousWriteError,
    AuthError,
    NoRouteError,
    NotJSONError,
    ResponseError,
    WooError,
)
from onetill.woo.responses import decode_json

pytestmark = pytest.mark.anyio

WAF_PAGE = """<!DOCTYPE html><html><head><title>Attention Required!</title>
<style>body{color:red}</style><script>var x = "<b>not visible</b>";</script></head>
<body><h1>Sorry, you have been blocked</h1><p>This website is using a security service
to protect itself &amp; its visitors.</p></body></html>"""


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (403, WAF_PAGE, "Attention Required! Sorry, you have been blocked This website"),
        (200, "<html><body><form id=loginform>Log In</form></body></html>", "Log In"),
        (500, "<b>Fatal error</b>: Uncaught Error: Call to undefined function", "Fatal error"),
        (502, "<html><body><center><h1>502 Bad Gateway</h1></center></body></html>", "502 Bad"),
    ],
)
async def test_html_answers_become_not_json_errors_with_status_and_visible_text(
    make_client: Any, status: int, body: str, expected: str
) -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(status, text=body, headers={"Content-Type": "text/html"})

    async with make_client(handler, max_attempts=1) as client:
        with pytest.raises(NotJSONError) as caught:
            await client.get("products")
    err = caught.value
    assert err.status == status
    assert err.text.startswith(expected)
    assert "<" not in err.text and "not visible" not in err.text and "color:red" not in err.text
    assert len(err.text) <= 200
    assert f"HTTP {status}" in str(err)


async def test_visible_text_is_cut_at_200_characters(make_client: Any) -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(403, text="<p>" + "blocked " * 100 + "</p>")

    async with make_client(handler) as client:
        with pytest.raises(NotJSONError) as caught:
            await client.get("products")
    assert len(caught.value.text) == 200
    assert classify(caught.value) is Outcome.AUTH


async def test_php_notices_before_the_json_are_skipped(make_client: Any) -> None:
    """display_errors on: PHP prints HTML notices, then WooCommerce's JSON; the JSON counts."""
    body = (
        "<br />\n<b>Deprecated</b>:  Creation of dynamic property in <b>/x.php</b> on line "
        '<b>12</b><br />\n{"id": 411, "status": "completed"}'
    )

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(201, text=body)

    async with make_client(handler) as client:
        response = await client.post("orders", json={})
    assert response.data == {"id": 411, "status": "completed"}


async def test_byte_order_marks_before_the_json_are_ignored(make_client: Any) -> None:
    """A plugin file saved with a BOM prints it in front of every REST answer."""

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=b'\xef\xbb\xbf\xef\xbb\xbf[{"id": 1}]')

    async with make_client(handler) as client:
        response = await client.get("products")
    assert response.data == [{"id": 1}]


@pytest.mark.parametrize(
    ("fixture", "cls", "hint_words"),
    [
        ("error-401-no-credentials.json", AuthError, ["OAuth"]),
        ("error-401-basic-over-http-ignored.json", AuthError, ["OAuth"]),
        ("error-401-bad-signature.json", AuthError, ["--secret", "home URL"]),
        ("error-401-read-only-key-write.json", AuthError, ["read-only", "Read/Write"]),
    ],
)
async def test_each_recorded_401_names_the_problem(
    make_client: Any, recorded: Any, fixture: str, cls: type[Exception], hint_words: list[str]
) -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return recorded(fixture)

    async with make_client(handler) as client:
        with pytest.raises(cls) as caught:
            await client.get("products")
    err = caught.value
    assert isinstance(err, AuthError)
    assert err.status == 401
    for word in hint_words:
        assert word in err.hint
    assert classify(err) is Outcome.AUTH


@pytest.mark.parametrize(
    ("message", "code", "words"),
    [
        ("Consumer key is invalid.", "woocommerce_rest_authentication_error", ["--key"]),
        ("Consumer secret is invalid.", "woocommerce_rest_authentication_error", ["--secret"]),
        ("Invalid timestamp.", "woocommerce_rest_authentication_error", ["clock"]),
        (
            "Missing OAuth parameter oauth_nonce",
            "woocommerce_rest_authentication_missing_parameter",
            ["proxy"],
        ),
        (
            "The API key provided does not have read permissions.",
            "woocommerce_rest_authentication_error",
            ["Read/Write"],
        ),
        (
            "Sorry, you are not allowed to create resources.",
            "woocommerce_rest_cannot_create",
            ["Administrator"],
        ),
    ],
)
async def test_other_auth_failures_say_what_to_check(
    make_client: Any, message: str, code: str, words: list[str]
) -> None:
    status = 403 if code == "woocommerce_rest_cannot_create" else 401

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(
            status, json={"code": code, "message": message, "data": {"status": status}}
        )

    async with make_client(handler) as client:
        with pytest.raises(AuthError) as caught:
            await client.get("products")
    for word in words:
        assert word in caught.value.hint


async def test_anonymous_401_over_https_points_at_the_key_or_a_stripping_proxy(
    make_client: Any, recorded: Any
) -> None:
    """Over https an unknown key runs anonymous (cannot_view): say so and offer --auth-in-query."""

    async with make_client(
        lambda r: recorded("error-401-no-credentials.json"), url="https://s.test"
    ) as c:
        with pytest.raises(AuthError) as caught:
            await c.get("products")
    assert "--auth-in-query" in caught.value.hint
    assert "--key" in caught.value.hint


async def test_no_route_on_wc_v3_says_woocommerce_was_not_found(
    make_client: Any, recorded: Any
) -> None:
    async with make_client(lambda r: recorded("error-no-route.json")) as client:
        with pytest.raises(NoRouteError) as caught:
            await client.get("products")
    text = str(caught.value)
    assert "WooCommerce's REST API (wc/v3) was not found" in text
    assert "permalinks" in text and "active" in text
    assert classify(caught.value) is Outcome.PERMANENT


async def test_a_redirect_is_not_followed_and_names_the_target(make_client: Any) -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(
            301, headers={"Location": "https://shop.test/wp-json/wc/v3/products"}
        )

    async with make_client(handler) as client:
        with pytest.raises(ResponseError) as caught:
            await client.get("products")
    assert "https://shop.test/wp-json/wc/v3/products" in str(caught.value)


async def test_errors_never_carry_credentials(make_client: Any) -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(404, json={"code": "x", "message": "nope", "data": {"status": 404}})

    async with make_client(handler) as client:
        with pytest.raises(ResponseError) as caught:
            await client.get("products", {"sku": "A"})
    assert "oauth_" not in caught.value.url and "oauth_" not in str(caught.value)
    assert "sku=A" in caught.value.url


# --- the server's clock --------------------------------------------------------------


async def test_server_time_comes_from_the_date_header(make_client: Any) -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, json=[], headers={"Date": "Thu, 26 Nov 2026 15:39:29 GMT"})

    async with make_client(handler) as client:
        response = await client.get("products")
    assert response.server_time == datetime(2026, 11, 26, 15, 39, 29, tzinfo=UTC)


async def test_a_skewed_till_clock_is_corrected_when_signing(make_client: Any) -> None:
    """Server 20 min ahead: the next signature uses the server's time (WooCommerce allows 15)."""
    timestamps: list[int] = []
    server_now = time.time() + 1200

    def handler(request: httpx2.Request) -> httpx2.Response:
        timestamps.append(int(request.url.params["oauth_timestamp"]))
        date = format_datetime(datetime.fromtimestamp(server_now, UTC), usegmt=True)
        return httpx2.Response(200, json=[], headers={"Date": date})

    async with make_client(handler) as client:
        await client.get("products")
        await client.get("products")
    assert client.clock_skew_s == pytest.approx(1200, abs=5)
    assert client.clock_offset_s == pytest.approx(1200, abs=5)
    assert abs(timestamps[1] - server_now) < 5
    assert abs(timestamps[0] - (server_now - 1200)) < 5


async def test_a_small_skew_is_measured_but_not_corrected(make_client: Any) -> None:
    date = format_datetime(datetime.fromtimestamp(time.time() + 20, UTC), usegmt=True)
    async with make_client(lambda r: httpx2.Response(200, json=[], headers={"Date": date})) as c:
        await c.get("products")
    assert c.clock_skew_s == pytest.approx(20, abs=3)
    assert c.clock_offset_s == 0


def _stale_timestamp_store(server_now: float, seen: list[int]) -> Any:
    """A store an hour behind the till that refuses timestamps outside its 15 minutes."""

    def handler(request: httpx2.Request) -> httpx2.Response:
        stamp = int(request.url.params["oauth_timestamp"])
        seen.append(stamp)
        date = format_datetime(datetime.fromtimestamp(server_now, UTC), usegmt=True)
        if abs(stamp - server_now) > 900:
            return httpx2.Response(
                401,
                json={
                    "code": "woocommerce_rest_authentication_error",
                    "message": "Ungültiger Zeitstempel.",  # a German store
                    "data": {"status": 401},
                },
                headers={"Date": date},
            )
        return httpx2.Response(201, json={"id": 5}, headers={"Date": date})

    return handler


async def test_a_read_refused_for_its_timestamp_is_resent_once_with_the_stores_time(
    make_client: Any,
) -> None:
    """A 401 to a read, signed an hour off the store's clock: resent once, signed with the
    store's time from that answer's Date; decided without reading the (German) message."""
    seen: list[int] = []
    server_now = time.time() - 3600
    async with make_client(_stale_timestamp_store(server_now, seen)) as client:
        response = await client.get("orders")
    assert response.data == {"id": 5}
    assert len(seen) == 2 and abs(seen[1] - server_now) < 5


async def test_a_write_refused_for_its_timestamp_is_ambiguous_but_not_refused_keys(
    make_client: Any,
) -> None:
    """The same 401 to a POST is never resent (any refusal of a write may hide a copy that
    got through), and the answer's Date shows the till's clock, not the keys, was wrong."""
    seen: list[int] = []
    async with make_client(_stale_timestamp_store(time.time() - 3600, seen)) as client:
        with pytest.raises(AmbiguousWriteError) as caught:
            await client.post("orders", json={})
    assert len(seen) == 1
    refusal = caught.value.refusal
    assert isinstance(refusal, AuthError) and refusal.clock_explains
    assert refusal.clock_off_s == pytest.approx(3600, abs=5)
    assert not caught.value.keys_refused


# --- what goes on the wire ---------------------------------------------------------


async def test_lists_are_sent_as_comma_lists_and_bools_as_words(make_client: Any) -> None:
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(200, json=[])

    async with make_client(handler) as client:
        await client.get("products", {"include": [10, 11, 12], "dates_are_gmt": True, "x": None})
    params = seen[0].url.params
    assert params["include"] == "10,11,12"
    assert params["dates_are_gmt"] == "true"
    assert "x" not in params
    with pytest.raises(ValueError, match="comma list"):
        await client.get("products", {"include[]": 10})


async def test_the_wp_json_index_is_fetched_without_keys(make_client: Any) -> None:
    """WooCommerce 11.1+ answers an API key on non-wc routes with 401: send none there."""
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(200, json={"namespaces": []})

    async with make_client(handler) as client:
        await client.request("GET", "", namespace="")
        await client.request("GET", "items", namespace="wc-onetill/v1")
    assert seen[0].url.path == "/wp-json/"
    assert "oauth_signature" not in seen[0].url.params
    assert seen[1].url.path == "/wp-json/wc-onetill/v1/items"
    assert "oauth_signature" in seen[1].url.params


async def test_extra_headers_reach_the_plugin_route_and_a_post_is_not_retried(
    make_client: Any,
) -> None:
    """An Idempotency-Key header goes with the signed request; a 5xx POST is not resent."""
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(500, json={"code": "x", "message": "boom", "data": {}})

    async with make_client(handler) as client:
        with pytest.raises(AmbiguousWriteError):
            await client.post("orders", json={"a": 1}, headers={"Idempotency-Key": "k-1234567"})
    assert len(seen) == 1
    assert seen[0].headers["Idempotency-Key"] == "k-1234567"
    assert seen[0].headers["Content-Type"] == "application/json"
    assert "oauth_signature" in seen[0].url.params


def test_an_unreadable_ca_file_is_a_clear_error(tmp_path: Any) -> None:
    bad = tmp_path / "not-a-cert.pem"
    bad.write_text("hello")
    with pytest.raises(WooError, match="CA file"):
        WooClient("https://shop.test", "ck", "cs_x", verify=str(bad))


@pytest.mark.parametrize(
    "body",
    [
        '{"id": 412, "status": "completed"}\n<br />\n<b>Deprecated</b>:  Function x is '
        "deprecated in <b>/wp/load.php</b> on line <b>6078</b><br />\n",
        '<br />\n<b>Notice</b>: early<br />\n{"id": 412, "status": "completed"}<br />\n'
        "<b>Warning</b>: late<br />\n",
    ],
    ids=["notice after", "notices around"],
)
async def test_php_notices_after_the_json_do_not_hide_a_created_order(
    make_client: Any, body: str
) -> None:
    """display_errors at shutdown prints after WooCommerce's JSON: the order was created."""

    async with make_client(lambda request: httpx2.Response(201, text=body)) as client:
        response = await client.post("orders", json={})
    assert response.data == {"id": 412, "status": "completed"}


async def test_a_json_answer_cut_short_is_never_taken_for_a_whole_one(make_client: Any) -> None:
    from onetill.woo.errors import AmbiguousWriteError

    body = '{"id": 413, "line_items": [{"id": 1}, {"id"'
    async with make_client(lambda request: httpx2.Response(201, text=body)) as client:
        with pytest.raises(AmbiguousWriteError):
            await client.post("orders", json={})


async def test_a_cut_pretty_printed_list_is_not_mistaken_for_its_first_item(
    make_client: Any,
) -> None:
    """A word like 'Notice' inside the cut-off rest is data, not a PHP notice after the JSON."""
    from onetill.woo.errors import AmbiguousWriteError

    body = '[\n{"id": 1},\n{"id": 2, "name": "Notice board"},\n{"id": 3, "na'
    async with make_client(lambda request: httpx2.Response(201, text=body)) as client:
        with pytest.raises(AmbiguousWriteError):
            await client.post("orders/batch", json={})


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)
_NOTICE_HTML = "<br />\n<b>Deprecated</b>:  Creation of dynamic property in <b>/x.php</b><br />\n"


@settings(max_examples=80, deadline=None)
@given(value=st.dictionaries(st.text(max_size=6), _json_values, min_size=1, max_size=5))
def test_a_body_cut_anywhere_never_decodes_but_notices_around_a_whole_one_do(
    value: dict[str, Any],
) -> None:
    """Recovering JSON from PHP noise must never turn a truncated answer into a 'success'."""
    body = json.dumps(value, separators=(",", ":")).encode()
    assert decode_json(_NOTICE_HTML.encode() + body + b"\n" + _NOTICE_HTML.encode()) == (
        True,
        value,
    )
    for cut in range(1, len(body)):
        for prefix in (b"", _NOTICE_HTML.encode()):
            assert decode_json(prefix + body[:cut]) == (False, None), body[:cut]


async def test_the_stores_time_never_runs_back_for_dates_one_second_coarse(
    make_client: Any,
) -> None:
    """Date is cut to whole seconds: a second answer whose Date is 0.9 s behind what the
    client already knows leaves the store's time moving forward (a due time just passed
    stays passed); a Date far behind (the store's clock was set back) is followed."""
    tick = [100.0]
    dates = iter([1_000_000.0, 1_000_000.0, 990_000.0])

    def handler(request: httpx2.Request) -> httpx2.Response:
        date = format_datetime(datetime.fromtimestamp(next(dates), UTC), usegmt=True)
        return httpx2.Response(200, json=[], headers={"Date": date})

    async with make_client(handler, monotonic=lambda: tick[0]) as client:
        await client.get("products")  # Date 1_000_000 heard at 100.0
        tick[0] = 100.9
        await client.get("products")  # the same Date heard at 100.9
        known = client.server_now()
        assert known is not None and known.timestamp() == pytest.approx(1_000_000.9)
        tick[0] = 101.0
        await client.get("products")  # a Date ten thousand seconds back
        back = client.server_now()
    assert back is not None and back.timestamp() == pytest.approx(990_000.0)
