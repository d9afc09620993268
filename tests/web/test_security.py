"""Who may use the till screen: loopback only by default; a token on the LAN; no forged POSTs."""

from __future__ import annotations

from typing import Any

import pytest

from onetill.config import read_ui_token, ui_token
from onetill.web.security import normalize_token
from web.web_support import TillHost, csrf, post, till_client

pytestmark = pytest.mark.anyio
CART = {"lines": [{"id": 12, "qty": 1}]}


async def test_state_changes_need_the_pages_csrf_token(api: Any) -> None:
    client, token = api
    assert (await client.post("/api/cart", json=CART)).status_code == 403
    wrong = await client.post("/api/cart", json=CART, headers={"x-csrf-token": "0" * 32})
    assert wrong.status_code == 403 and wrong.json()["error"] == "csrf"
    assert (await post(client, "/api/cart", CART, token)).status_code == 200


async def test_a_post_from_another_origin_is_refused_even_with_the_token(api: Any) -> None:
    client, token = api
    for origin in ("http://evil.example", "http://127.0.0.1:9999", "null"):
        response = await client.post("/api/cart", json=CART,
                                     headers={"x-csrf-token": token, "origin": origin})
        assert response.status_code == 403, origin
    same = await client.post("/api/cart", json=CART, headers={
        "x-csrf-token": token, "origin": "http://127.0.0.1:8000"})
    assert same.status_code == 200
    cross = await client.post("/api/cart", json=CART, headers={
        "x-csrf-token": token, "sec-fetch-site": "cross-site"})
    assert cross.status_code == 403


async def test_loopback_mode_refuses_other_host_names(host: TillHost) -> None:
    """A site that rebinds its own name to 127.0.0.1 must not read the till."""
    async with till_client(host, base="http://evil.example:8000") as (client, _):
        response = await client.get("/api/orders")
        assert response.status_code == 403 and "127.0.0.1" in response.json()["message"]
    async with till_client(host, base="http://localhost:8000") as (client, _):
        assert (await client.get("/api/orders")).status_code == 200


async def test_every_answer_keeps_the_page_out_of_frames(api: Any) -> None:
    client, _ = api
    response = await client.get("/")
    assert response.status_code == 200
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert "script-src 'self'" in response.headers["content-security-policy"]


async def test_lan_mode_needs_a_session_from_the_access_token(host: TillHost) -> None:
    token = ui_token(host.home)
    assert read_ui_token(host.home) == token and len(token) == 24
    async with till_client(host, token=token, base="http://192.168.1.20:8000") as (client, _):
        assert (await client.get("/api/orders")).status_code == 401
        page = await client.get("/", headers={"accept": "text/html"})
        assert page.status_code == 303 and page.headers["location"] == "/login"
        assert (await client.get("/login")).status_code == 200
        wrong = await client.post("/login", data={"token": "AAAA-BBBB-CCCC-DDDD-EEEE"})
        assert wrong.status_code == 401 and "not the access token" in wrong.text
        forged = await client.post("/login", data={"token": token},
                                   headers={"origin": "http://evil.example"})
        assert forged.status_code == 403
        typed = token.lower().replace("-", " ")  # as a person types it
        ok = await client.post("/login", data={"token": typed})
        assert ok.status_code == 303
        cookie = ok.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert (await client.get("/api/orders")).status_code == 200
        assert (await post(client, "/api/cart", CART, await csrf(client))).status_code == 200


async def test_lan_mode_accepts_the_token_as_bearer_for_scripts(host: TillHost) -> None:
    token = ui_token(host.home)
    async with till_client(host, token=token, base="http://192.168.1.20:8000") as (client, _):
        status = await client.get("/api/till/status", headers={"authorization": f"Bearer {token}"})
        assert status.status_code == 200
        bad = await client.get("/api/till/status", headers={"authorization": "Bearer nope"})
        assert bad.status_code == 401


async def test_lan_login_is_rate_limited(host: TillHost) -> None:
    token = ui_token(host.home)
    async with till_client(host, token=token, base="http://192.168.1.20:8000") as (client, _):
        for _ in range(10):
            await client.post("/login", data={"token": "wrong"})
        locked = await client.post("/login", data={"token": token})
        assert locked.status_code == 401 and "Too many" in locked.text


async def test_the_webhook_route_needs_no_token_and_no_csrf(host: TillHost) -> None:
    """It is passed to the engine's receiver, which checks the signature itself."""
    token = ui_token(host.home)
    async with till_client(host, token=token, base="http://192.168.1.20:8000") as (client, _):
        response = await client.post("/webhooks/woocommerce", content=b"{}")
        assert response.status_code == 404  # reached the (empty) engine app, not refused


def test_tokens_are_normalized_and_rotated(tmp_path: Any) -> None:
    assert normalize_token(" abcd efgh-ijkl mnop qrst ") == "ABCD-EFGH-IJKL-MNOP-QRST"
    first = ui_token(tmp_path)
    assert ui_token(tmp_path) == first
    assert ui_token(tmp_path, rotate=True) != first
    assert oct((tmp_path / "ui-token").stat().st_mode & 0o777) == "0o600"
