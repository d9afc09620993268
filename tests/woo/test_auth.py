"""OAuth 1.0a signing exactly as WooCommerce verifies it; Basic and query keys only over https."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any
from urllib.parse import quote, unquote_plus

import httpx2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from onetill.woo import WooClient
from onetill.woo.auth import BasicAuth, oauth_base_string, oauth_signature
from onetill.woo.errors import InsecureTransportError
from support import load_fixture

VECTORS = load_fixture("oauth-signatures.json")


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: f"{v['method']}-{v['params']}")
def test_signature_matches_the_vectors_a_real_store_accepted(vector: dict[str, Any]) -> None:
    """Every recorded signature (accepted by WooCommerce 11.0.1) is reproduced byte for byte."""
    params = [
        *vector["params"].items(),
        ("oauth_consumer_key", VECTORS["consumer_key"]),
        ("oauth_nonce", vector["oauth_nonce"]),
        ("oauth_signature_method", vector["oauth_signature_method"]),
        ("oauth_timestamp", vector["oauth_timestamp"]),
    ]
    base = oauth_base_string(vector["method"], vector["url"], params)
    signature = oauth_signature(base, VECTORS["consumer_secret"], vector["oauth_signature_method"])
    assert signature == vector["signature"]


# --- an independent model of the server side --------------------------------------


def _php_rawurlencode(text: str) -> str:
    return quote(text.encode("utf-8"), safe="-_.~")


def _php_query(raw: str) -> dict[str, str]:
    """$_GET as PHP builds it: '+' is a space, %XX decoded, the last duplicate wins."""
    out: dict[str, str] = {}
    for part in raw.split("&"):
        if part:
            key, _, value = part.partition("=")
            out[unquote_plus(key)] = unquote_plus(value)
    return out


def wc_accepts(request: httpx2.Request, home_url: str, secret: str) -> bool:
    """WooCommerce's check_oauth_signature(), written from its PHP source."""
    params = _php_query(request.url.query.decode("ascii"))
    given_sig = params.pop("oauth_signature")
    base_uri = _php_rawurlencode(home_url.rstrip("/") + request.url.path)
    joined = "%26".join(
        _php_rawurlencode(_php_rawurlencode(k) + "=" + _php_rawurlencode(params[k]))
        for k in sorted(params, key=lambda k: k.encode("utf-8"))
    )
    string_to_sign = f"{request.method}&{base_uri}&{joined}"
    algo = hashlib.sha256 if params["oauth_signature_method"] == "HMAC-SHA256" else hashlib.sha1
    mac = hmac.new((secret + "&").encode(), string_to_sign.encode("utf-8"), algo).digest()
    return hmac.compare_digest(base64.b64encode(mac).decode(), given_sig)


async def _signed_request(params: dict[str, str], method: str = "GET") -> httpx2.Request:
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(200, json=[])

    async with WooClient(
        "http://127.0.0.1:8080", "ck_k", "cs_s", transport=httpx2.MockTransport(handler)
    ) as client:
        await client.request(method, "products", params, json={} if method == "POST" else None)
    return seen[0]


@pytest.mark.anyio
async def test_the_signed_request_passes_the_servers_check() -> None:
    """A request with tricky characters, as sent on the wire, verifies on the server side."""
    request = await _signed_request({"search": "Simple Product 0+1 ~*é&=", "include": "10,11"})
    assert wc_accepts(request, "http://127.0.0.1:8080", "cs_s")
    assert not wc_accepts(request, "http://127.0.0.1:8080", "cs_wrong")
    # A different home URL (what a mismatched Site Address does) breaks the signature.
    assert not wc_accepts(request, "http://localhost:8080", "cs_s")


@pytest.mark.anyio
async def test_post_signs_query_but_not_the_json_body() -> None:
    request = await _signed_request({}, method="POST")
    assert request.content == b"{}"
    assert wc_accepts(request, "http://127.0.0.1:8080", "cs_s")


_keys = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12).filter(
    lambda k: not k.startswith("oauth_")
)
_values = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", " ", "+", "~", "*", "a b", "1,2,3", "%20", "&=", "é", "日本", "\u00a0"]),
)


@settings(max_examples=60, deadline=None)
@given(params=st.dictionaries(_keys, _values, max_size=5))
def test_any_parameters_survive_the_wire_and_verify(params: dict[str, str]) -> None:
    """Spaces, '+', '~', '*', unicode, commas and empty values all sign as PHP decodes them."""
    import asyncio

    clean = {k: v.replace("\x00", "") for k, v in params.items()}
    request = asyncio.run(_signed_request(clean))
    assert wc_accepts(request, "http://127.0.0.1:8080", "cs_s")
    received = _php_query(request.url.query.decode("ascii"))
    for key, value in clean.items():
        assert received[key] == value


@pytest.mark.anyio
async def test_every_attempt_is_signed_with_a_fresh_nonce(make_client: Any) -> None:
    """A retried GET never reuses a nonce (WooCommerce rejects a nonce seen in 15 minutes)."""
    nonces: list[str] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        nonces.append(request.url.params["oauth_nonce"])
        if len(nonces) < 3:
            return httpx2.Response(503, text="busy")
        return httpx2.Response(200, json=[])

    async with make_client(handler) as client:
        await client.get("products")
    assert len(nonces) == 3
    assert len(set(nonces)) == 3


@pytest.mark.anyio
async def test_https_uses_basic_auth_and_no_oauth(make_client: Any) -> None:
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(200, json=[])

    async with make_client(handler, url="https://shop.test") as client:
        await client.get("products", {"per_page": 1})
    expected = base64.b64encode(b"ck_test:cs_secret").decode()
    assert seen[0].headers["authorization"] == f"Basic {expected}"
    assert "oauth_signature" not in seen[0].url.params
    assert "cs_secret" not in str(seen[0].url)


@pytest.mark.anyio
async def test_query_keys_over_https_for_hosts_that_strip_authorization(make_client: Any) -> None:
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(401, json={"code": "woocommerce_rest_cannot_view", "message": "no"})

    async with make_client(handler, url="https://shop.test", auth_in_query=True) as client:
        with pytest.raises(Exception) as caught:
            await client.get("products")
    assert seen[0].url.params["consumer_key"] == "ck_test"
    assert "authorization" not in seen[0].headers
    # The secret was in the (encrypted) URL but never in the error text.
    assert "cs_secret" not in str(caught.value)


def test_query_keys_over_plain_http_are_refused() -> None:
    with pytest.raises(InsecureTransportError, match="plain http"):
        WooClient("http://shop.test", "ck", "cs_secret", auth_in_query=True)


def test_basic_auth_refuses_to_send_the_secret_over_http() -> None:
    request = httpx2.Request("GET", "http://shop.test/wp-json/wc/v3/products")
    flow = BasicAuth("ck", "cs_secret").auth_flow(request)
    with pytest.raises(InsecureTransportError):
        next(flow)
    assert "authorization" not in request.headers


def test_reprs_never_show_the_secret() -> None:
    client = WooClient("https://shop.test", "ck_key", "cs_topsecret")
    assert "cs_topsecret" not in repr(client)
    assert "cs_topsecret" not in repr(client._auth)
