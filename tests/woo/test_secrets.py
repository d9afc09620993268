"""The key and secret never reach error text, reprs or log lines, whatever the store echoes.

Every kind of error the client raises is produced for a request made with a
known key pair, in each auth mode, and formatted every way a program might
print it (str, repr, a full traceback with its chained causes, attributes).
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Callable
from typing import Any

import httpx2
import pytest

from onetill.woo import WooClient
from onetill.woo.errors import WooError

pytestmark = pytest.mark.anyio

KEY = "ck_" + "4f1c2a9be07d3c5a6b8e9d0f1a2b3c4d5e6f7a8b"
SECRET = "cs_" + "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d"
MODES = {
    "oauth": ("http://shop.test", False),
    "basic": ("https://shop.test", False),
    "query": ("https://shop.test", True),
}


def _echo(request: httpx2.Request) -> str:
    """Everything about the request a careless server could print back."""
    return f"{request.url} {request.headers.get('authorization', '')}"


def _json_error(status: int) -> Callable[[httpx2.Request], httpx2.Response]:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(
            status,
            json={
                "code": "rest_invalid_param",
                "message": f"Invalid parameter(s) in {_echo(request)}",
                "data": {"status": status, "params": {"url": str(request.url)}},
            },
        )

    return handler


def _html(status: int) -> Callable[[httpx2.Request], httpx2.Response]:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(
            status, text=f"<h1>Blocked</h1><p>You asked for {_echo(request)}</p>"
        )

    return handler


def _redirect(request: httpx2.Request) -> httpx2.Response:
    return httpx2.Response(301, headers={"Location": str(request.url).replace("shop.", "www.")})


def _raise(error: type[Exception]) -> Callable[[httpx2.Request], httpx2.Response]:
    def handler(request: httpx2.Request) -> httpx2.Response:
        raise error("connection trouble", request=request)

    return handler


def _nonce(request: httpx2.Request) -> httpx2.Response:
    return httpx2.Response(
        401,
        json={
            "code": "woocommerce_rest_authentication_error",
            "message": "Invalid nonce - nonce has already been used.",
            "data": {"status": 401},
        },
    )


SCENARIOS: dict[str, tuple[str, Callable[[httpx2.Request], httpx2.Response]]] = {
    "redirect echoing the URL": ("GET", _redirect),
    "WAF page echoing the request": ("GET", _html(403)),
    "login page with 200": ("GET", _html(200)),
    "JSON error echoing the URL": ("GET", _json_error(400)),
    "proxy 502 page to a POST": ("POST", _html(502)),
    "unreadable 201 to a POST": ("POST", _html(201)),
    "connection refused": ("GET", _raise(httpx2.ConnectError)),
    "read timeout on a GET": ("GET", _raise(httpx2.ReadTimeout)),
    "read timeout on a POST": ("POST", _raise(httpx2.ReadTimeout)),
    "replayed nonce on a POST": ("POST", _nonce),
}


def _everything_printed(exc: BaseException) -> str:
    parts = ["".join(traceback.format_exception(exc)), repr(exc), str(exc)]
    for value in vars(exc).values():
        parts.append(repr(value))
    return "\n".join(parts)


CASES = [
    (mode, scenario)
    for mode in sorted(MODES)
    for scenario in sorted(SCENARIOS)
    if mode == "oauth" or "nonce" not in scenario  # nonces exist only with OAuth
]


@pytest.mark.parametrize(("mode", "scenario"), CASES)
async def test_no_error_shows_the_key_or_the_secret(
    mode: str, scenario: str, caplog: pytest.LogCaptureFixture
) -> None:
    url, in_query = MODES[mode]
    method, handler = SCENARIOS[scenario]
    caplog.set_level(logging.DEBUG)

    async def no_sleep(delay: float) -> None:
        pass

    async with WooClient(
        url,
        KEY,
        SECRET,
        transport=httpx2.MockTransport(handler),
        auth_in_query=in_query,
        max_attempts=2,
        sleep=no_sleep,
    ) as client:
        with pytest.raises(WooError) as caught:
            await client.request(
                method, "orders", {"search": "x"}, json={} if method == "POST" else None
            )
    printed = _everything_printed(caught.value)
    assert SECRET not in printed
    assert KEY not in printed
    assert SECRET not in caplog.text and KEY not in caplog.text


async def test_the_request_log_line_of_httpx2_carries_no_credentials(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """httpx2 logs each request's full URL at INFO: with keys in the query that was the secret."""
    caplog.set_level(logging.INFO, logger="httpx2")

    def handler(request: httpx2.Request) -> httpx2.Response:
        assert request.url.params["consumer_secret"] == SECRET  # it was sent (over TLS)
        return httpx2.Response(200, json=[])

    async with WooClient(
        "https://shop.test",
        KEY,
        SECRET,
        transport=httpx2.MockTransport(handler),
        auth_in_query=True,
    ) as client:
        await client.get("products", {"sku": "A-1"})
    assert "HTTP Request: GET https://shop.test/wp-json/wc/v3/products?sku=A-1" in caplog.text
    assert SECRET not in caplog.text and KEY not in caplog.text


@pytest.mark.parametrize("mode", sorted(MODES))
def test_reprs_show_neither_key_nor_secret(mode: str) -> None:
    url, in_query = MODES[mode]
    client = WooClient(url, KEY, SECRET, auth_in_query=in_query)
    assert KEY not in repr(client) and KEY not in repr(client._auth)
    assert SECRET not in repr(client) and SECRET not in repr(client._auth)


def test_a_store_url_with_a_password_is_refused_without_echoing_it() -> None:
    with pytest.raises(WooError) as caught:
        WooClient("https://admin:hunter2secret@shop.test", KEY, SECRET)
    assert "hunter2secret" not in str(caught.value) + repr(caught.value)


async def test_debug_logs_of_the_http_stack_on_a_real_socket_hold_no_credentials(
    start_sandbox: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """httpx2 and httpcore2 at DEBUG, over a real connection: no key, secret or signature."""
    srv = start_sandbox()
    caplog.set_level(logging.DEBUG)
    async with WooClient(srv.url, srv.key, srv.secret) as client:
        await client.get("products", {"per_page": 1})
        with pytest.raises(WooError):
            await client.get("no-such-route")
    ours = [r.getMessage() for r in caplog.records if r.name.startswith(("httpx2", "httpcore2"))]
    assert any("HTTP Request: GET" in m for m in ours)  # the stack did log
    text = "\n".join(ours)
    assert srv.key not in text and srv.secret not in text
    assert re.search(r"oauth_(signature|nonce)=(?!\[redacted\])", text) is None
