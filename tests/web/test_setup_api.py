"""The connect form and new keys: the checks and messages of `onetill connect`, then saved."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from onetill.config import load_config
from onetill.store.sync_state import get_state, set_state
from web.web_support import TillHost, csrf, post, seeded_home, till_client

pytestmark = pytest.mark.anyio


async def test_first_run_connect_reports_wrong_keys_and_saves_good_ones(
    tmp_path: Path, sandbox_server: Any
) -> None:
    home = tmp_path / "fresh"
    seeded_home(home, connected=False)
    host = TillHost(home, None)
    try:
        async with till_client(host) as (client, _):
            session = (await client.get("/api/session")).json()
            assert session["connected"] is False
            token = await csrf(client)
            wrong = await post(client, "/api/setup/connect", {
                "url": sandbox_server.url, "key": sandbox_server.key, "secret": "cs_wrong"}, token)
            assert wrong.status_code == 400
            assert wrong.json()["message"].startswith("the store refused the keys")
            assert "cs_wrong" not in wrong.text
            no_scheme = await post(client, "/api/setup/connect", {
                "url": "shop.example", "key": "ck", "secret": "cs"}, token)
            assert "has no scheme" in no_scheme.json()["message"]
            not_pem = await post(client, "/api/setup/connect", {
                "url": sandbox_server.url, "key": "ck", "secret": "cs", "ca_pem": "hello"}, token)
            assert "not a PEM certificate" in not_pem.json()["message"]
            ok = await post(client, "/api/setup/connect", {
                "url": sandbox_server.url + "/wp-json/wc/v3", "key": sandbox_server.key,
                "secret": sandbox_server.secret}, token)
            assert ok.status_code == 200, ok.text
            assert ok.json()["store"]["url"] == sandbox_server.url
            assert host.configs and host.configs[0].secret == sandbox_server.secret
            assert load_config(home).url == sandbox_server.url
            again = await post(client, "/api/setup/connect", {
                "url": sandbox_server.url, "key": "k", "secret": "s"}, token)
            assert again.status_code == 409
    finally:
        host.close()


async def test_new_keys_lift_a_paused_queue(tmp_path: Path, sandbox_server: Any) -> None:
    home = tmp_path / "till"
    config = seeded_home(home)
    assert config is not None
    config.url = sandbox_server.url
    host = TillHost(home, config)
    with host.db.write() as conn:
        set_state(conn, "outbox.paused", "WooCommerce rejected the API keys")
    try:
        async with till_client(host) as (client, _):
            token = await csrf(client)
            bad = await post(client, "/api/setup/keys",
                             {"key": sandbox_server.key, "secret": "cs_nope"}, token)
            assert bad.status_code == 400 and get_state(host.db.conn, "outbox.paused")
            good = await post(client, "/api/setup/keys",
                              {"key": sandbox_server.key, "secret": sandbox_server.secret}, token)
            assert good.status_code == 200 and good.json()["resumed"] is True
            assert not get_state(host.db.conn, "outbox.paused")
            assert host.configs[-1].till_id == "till-web"  # the till keeps its identity
    finally:
        host.close()


async def test_the_demo_panel_does_not_exist_for_a_real_store(api: Any) -> None:
    client, token = api
    assert (await client.get("/api/session")).json()["demo"] is False
    for path, body in (("/api/demo/store", {"online": False}), ("/api/demo/order", {})):
        response = await post(client, path, body, token)
        assert response.status_code == 404 and "onetill demo" in response.json()["message"]
