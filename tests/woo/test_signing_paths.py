"""OAuth signatures for stores in a subdirectory, on other ports, and with queries in the path.

``wc_accepts`` re-implements WooCommerce's ``check_oauth_signature()`` from
its PHP source, including how it rebuilds the base URL: the path of
``REQUEST_URI`` minus the site's own path (``get_home_url(null, '/',
'relative')``), appended to ``get_home_url()``. A store installed in
``/shop/`` exercises exactly that.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any
from urllib.parse import quote, unquote_plus, urlsplit

import httpx2
import pytest

from onetill.woo import WooClient

pytestmark = pytest.mark.anyio


def _rawurlencode(text: str) -> str:
    return quote(text.encode("utf-8"), safe="-_.~")


def _php_get(raw_query: str) -> dict[str, str]:
    """$_GET: '+' is a space, %XX decoded, the last of repeated keys wins."""
    out: dict[str, str] = {}
    for part in raw_query.split("&"):
        if part:
            key, _, value = part.partition("=")
            out[unquote_plus(key)] = unquote_plus(value)
    return out


def wc_accepts(request: httpx2.Request, home: str, secret: str) -> bool:
    params = _php_get(request.url.query.decode("ascii"))
    given = params.pop("oauth_signature", "")
    request_path = request.url.raw_path.decode("ascii").split("?")[0]
    wp_base = urlsplit(home).path.rstrip("/") + "/"
    if request_path.startswith(wp_base):
        request_path = request_path[len(wp_base) :]
    base_url = home.rstrip("/") + "/" + request_path.lstrip("/")
    pairs = "%26".join(
        _rawurlencode(_rawurlencode(k) + "=" + _rawurlencode(params[k]))
        for k in sorted(params, key=lambda k: k.encode("utf-8"))
    )
    to_sign = f"{request.method}&{_rawurlencode(base_url)}&{pairs}"
    mac = hmac.new((secret + "&").encode(), to_sign.encode(), hashlib.sha256).digest()
    return hmac.compare_digest(base64.b64encode(mac).decode(), given)


async def _send(url: str, path: str, params: dict[str, Any] | None = None) -> httpx2.Request:
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(200, json=[])

    async with WooClient(url, "ck_k", "cs_s", transport=httpx2.MockTransport(handler)) as client:
        await client.get(path, params)
    return seen[0]


@pytest.mark.parametrize(
    "home",
    [
        "http://127.0.0.1:8080/shop",
        "http://shop.test/wordpress/store",
        "http://shop.test:81",
    ],
)
async def test_a_store_in_a_subdirectory_or_on_another_port_accepts_the_signature(
    home: str,
) -> None:
    request = await _send(home + "/", "products", {"search": "a b+c", "empty": ""})
    assert request.url.path == urlsplit(home).path + "/wp-json/wc/v3/products"
    assert wc_accepts(request, home, "cs_s")
    assert not wc_accepts(request, home, "cs_other")


async def test_a_query_written_in_the_path_is_sent_and_signed() -> None:
    """'products?status=draft' used to lose its query silently (a listing of the wrong items)."""
    request = await _send("http://shop.test/shop", "products?status=draft&search=a+b", {"page": 2})
    received = _php_get(request.url.query.decode("ascii"))
    assert received["status"] == "draft"
    assert received["search"] == "a b"
    assert received["page"] == "2"
    assert wc_accepts(request, "http://shop.test/shop", "cs_s")


async def test_empty_values_and_unicode_in_a_path_query_are_signed_as_sent() -> None:
    request = await _send("http://shop.test", "products/categories?slug=&name=Küche", {"x": ""})
    received = _php_get(request.url.query.decode("ascii"))
    assert (received["slug"], received["name"], received["x"]) == ("", "Küche", "")
    assert wc_accepts(request, "http://shop.test", "cs_s")


@pytest.mark.parametrize(
    ("path", "params", "word"),
    [
        ("products?include=1&include=2", None, "twice"),
        ("products?status=any", {"status": "draft"}, "twice"),
        ("products?include[]=1", None, "comma list"),
        ("products", {"meta.key": "x"}, "rename"),
        ("products?a b=1", None, "rename"),
    ],
)
async def test_queries_php_would_read_differently_are_refused_naming_the_key(
    path: str, params: dict[str, Any] | None, word: str
) -> None:
    """PHP keeps the last repeated key, makes key[] an array, renames 'a.b': no signature match."""
    with pytest.raises(ValueError, match=word):
        await _send("http://shop.test", path, params)


async def test_a_query_in_the_path_reaches_the_sandbox_store(
    sandbox_app: Any, sandbox_config: Any
) -> None:
    key, secret = next(iter(sandbox_config.keys.items()))
    transport = httpx2.ASGITransport(app=sandbox_app)
    async with WooClient(sandbox_config.home_url, key, secret, transport=transport) as client:
        response = await client.get("products?per_page=3&orderby=id&order=asc")
    assert len(response.data) == 3
    ids = [item["id"] for item in response.data]
    assert ids == sorted(ids)
