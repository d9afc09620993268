"""discover(): WordPress? wc/v3? the plugin? timezone, global variations, version."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from onetill.woo.discovery import timezone_name
from onetill.woo.errors import TransportError
from support import load_fixture

pytestmark = pytest.mark.anyio

INDEX = load_fixture("wp-json-index.json")["response"]["body"]


def store(
    index: Any = INDEX,
    *,
    index_status: int = 200,
    variations: bool = True,
    version: str | None = "11.0.1",
    plain_permalinks: bool = False,
) -> Any:
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        path = request.url.path
        if path == "/" and request.url.params.get("rest_route") == "/" and plain_permalinks:
            return httpx2.Response(200, json=index)
        if path == "/wp-json/":
            if index_status != 200:
                return httpx2.Response(index_status, text="<html><body>Not Found</body></html>")
            return httpx2.Response(200, json=index)
        if path == "/wp-json/wc/v3/variations":
            if variations:
                return httpx2.Response(200, json=[{"id": 311}])
            return httpx2.Response(
                404, json={"code": "rest_no_route", "message": "No route", "data": {"status": 404}}
            )
        if path == "/wp-json/wc/v3/system_status":
            if version is None:
                return httpx2.Response(
                    403,
                    json={
                        "code": "woocommerce_rest_cannot_view",
                        "message": "no",
                        "data": {"status": 403},
                    },
                )
            return httpx2.Response(200, json={"environment": {"version": version}})
        return httpx2.Response(404, text="<html>Not Found</html>")

    handler.seen = seen  # type: ignore[attr-defined]
    return handler


async def test_a_recorded_woocommerce_store_is_recognised(make_client: Any) -> None:
    handler = store()
    async with make_client(handler, url="http://127.0.0.1:8080") as client:
        found = await client.discover()
    assert found.wordpress and found.wc_v3
    assert not found.plugin
    assert found.timezone == "America/New_York" and found.gmt_offset == -5
    assert found.global_variations
    assert found.wc_version == "11.0.1"
    assert found.https is False
    assert found.home == "http://127.0.0.1:8080"
    index_request = handler.seen[0]
    assert "oauth_signature" not in index_request.url.params  # the index is read without keys


async def test_the_companion_plugin_is_detected(make_client: Any) -> None:
    index = {**INDEX, "namespaces": [*INDEX["namespaces"], "wc-onetill/v1"]}
    async with make_client(store(index)) as client:
        assert (await client.discover()).plugin


async def test_old_woocommerce_without_global_variations_or_version_access(
    make_client: Any,
) -> None:
    async with make_client(store(variations=False, version=None)) as client:
        found = await client.discover()
    assert found.wc_v3 and not found.global_variations and found.wc_version is None


async def test_wordpress_without_woocommerce_says_so(make_client: Any) -> None:
    index = {**INDEX, "namespaces": ["oembed/1.0", "wp/v2"]}
    async with make_client(store(index)) as client:
        found = await client.discover()
    assert found.wordpress and not found.wc_v3
    assert "WooCommerce installed and active" in found.problem


async def test_not_wordpress_at_all(make_client: Any) -> None:
    async with make_client(store(index_status=404)) as client:
        found = await client.discover()
    assert not found.wordpress
    assert "no WordPress REST API" in found.problem


async def test_plain_permalinks_are_named(make_client: Any) -> None:
    async with make_client(store(index_status=404, plain_permalinks=True)) as client:
        found = await client.discover()
    assert not found.wordpress
    assert "Permalinks" in found.problem


async def test_a_blocked_rest_api_is_named(make_client: Any) -> None:
    async with make_client(store(index_status=403)) as client:
        found = await client.discover()
    assert "blocked" in found.problem


async def test_a_redirect_to_https_is_named_with_its_target(make_client: Any) -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(301, headers={"Location": "https://shop.test/wp-json/"})

    async with make_client(handler) as client:
        found = await client.discover()
    assert not found.wordpress
    assert "https://shop.test/wp-json/" in found.problem
    assert "connect with the URL the store redirects to" in found.problem


async def test_an_unreachable_host_raises(make_client: Any) -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("Name or service not known", request=request)

    async with make_client(handler) as client:
        with pytest.raises(TransportError, match="cannot reach"):
            await client.discover()


@pytest.mark.parametrize(
    ("tz", "offset", "expected"),
    [
        ("Europe/Berlin", 1, "Europe/Berlin"),
        ("", 0, "UTC"),
        ("", 2, "Etc/GMT-2"),
        ("", -5, "Etc/GMT+5"),
        ("", 5.5, "+05:30"),
        ("", -3.5, "-03:30"),
    ],
)
def test_manual_offsets_become_zone_names(tz: str, offset: float, expected: str) -> None:
    assert timezone_name(tz, offset) == expected
