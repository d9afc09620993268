"""Authentication as WooCommerce 11 does it: OAuth 1.0a over http, Basic over https."""

from __future__ import annotations

import asyncio
import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from onetill.sandbox.config import DEFAULT_KEY, DEFAULT_SECRET, SandboxConfig
from onetill.sandbox.state import SandboxStore
from sandbox_support import Clock, OAuthSigner, oauth_signature, store_client
from support import RECORDED_STORE, load_fixture

pytestmark = pytest.mark.anyio
VECTORS = load_fixture("oauth-signatures.json")
PRODUCTS = "/wp-json/wc/v3/products"


def _basic(key: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()}


def _store(clock: Clock | None = None, **kw: object) -> SandboxStore:
    config = SandboxConfig(store_dir=RECORDED_STORE, **kw)  # type: ignore[arg-type]
    return SandboxStore.from_config(config, clock=clock)


@pytest.mark.parametrize("n", range(len(VECTORS["vectors"])))
async def test_signature_accepted_by_the_real_store_is_accepted(n: int) -> None:
    """Each signature a real store accepted (fixed timestamp) is accepted by the sandbox."""
    v = VECTORS["vectors"][n]
    clock = Clock(int(v["oauth_timestamp"]) + 60)
    store = _store(
        clock,
        keys={VECTORS["consumer_key"]: VECTORS["consumer_secret"]},
        home_url="http://127.0.0.1:8080",
    )
    params = {
        **v["params"],
        "oauth_consumer_key": VECTORS["consumer_key"],
        "oauth_signature_method": v["oauth_signature_method"],
        "oauth_timestamp": v["oauth_timestamp"],
        "oauth_nonce": v["oauth_nonce"],
        "oauth_signature": v["signature"],
    }
    path = v["url"].removeprefix("http://127.0.0.1:8080")
    async with store_client(store, auth=None, home_url="http://127.0.0.1:8080") as c:
        body = {"update": []} if v["method"] == "POST" else None
        r = await c.request(v["method"], path, params=params, json=body)
        assert r.status_code == 200, r.text
        tampered = {**params, "oauth_nonce": "f" * 32}  # same signature, another nonce
        r = await c.request(v["method"], path, params=tampered, json=body)
        assert r.status_code == 401
        assert r.json()["message"] == "Invalid signature - provided signature does not match."


async def test_timestamp_window_is_fifteen_minutes_either_way() -> None:
    """oauth_timestamp must lie within +-15 min of the server clock."""
    clock = Clock(1_795_707_684)
    store = _store(clock)
    for skew, status in [(-14 * 60, 200), (14 * 60, 200), (-16 * 60, 401), (16 * 60, 401)]:
        auth = OAuthSigner(DEFAULT_KEY, DEFAULT_SECRET, clock=lambda s=skew: clock() + s)
        async with store_client(store, auth=auth) as c:
            r = await c.get(PRODUCTS)
        assert r.status_code == status, (skew, r.text)
        if status == 401:
            assert r.json()["message"] == "Invalid timestamp."


async def test_a_skewed_server_clock_moves_the_window() -> None:
    """set_clock_offset: a till signing with true time is rejected by a store 20 min ahead."""
    clock = Clock(1_795_707_684)
    store = _store(clock)
    store.set_clock_offset(20 * 60)
    auth = OAuthSigner(DEFAULT_KEY, DEFAULT_SECRET, clock=clock)
    async with store_client(store, auth=auth) as c:
        r = await c.get(PRODUCTS)
    assert (r.status_code, r.json()["message"]) == (401, "Invalid timestamp.")
    assert "Thu, 26 Nov 2026" in r.headers["date"]
    assert store.now() == 1_795_707_684 + 1200


async def test_replayed_nonce_is_refused() -> None:
    """The same signed request sent twice: the second gets the nonce error."""
    store = _store()
    async with store_client(store, auth=None) as c:
        first = await c.get(
            PRODUCTS, auth=OAuthSigner(DEFAULT_KEY, DEFAULT_SECRET, clock=store.now)
        )
        assert first.status_code == 200
        r = await c.get(str(first.request.url))
    assert r.status_code == 401
    assert r.json()["message"] == "Invalid nonce - nonce has already been used."


async def test_oauth_in_the_authorization_header_works() -> None:
    """OAuth parameters may come in an ``Authorization: OAuth`` header instead of the query."""
    store = _store()
    signed = OAuthSigner(DEFAULT_KEY, DEFAULT_SECRET, clock=store.now)
    async with store_client(store, auth=None) as c:
        req = c.build_request("GET", PRODUCTS, params={"per_page": "2"})
        req = next(signed.auth_flow(req))
        oauth = {k: v for k, v in req.url.params.multi_items() if k.startswith("oauth_")}
        header = "OAuth " + ", ".join(f'{k}="{v}"' for k, v in oauth.items())
        r = await c.get(PRODUCTS, params={"per_page": "2"}, headers={"Authorization": header})
    assert r.status_code == 200
    assert len(r.json()) == 2


async def test_basic_auth_and_query_keys_are_ignored_over_http() -> None:
    """Over plain http Basic and ?consumer_key= run anonymous: 401 cannot_view."""
    store = _store()
    async with store_client(store, auth=None) as c:
        r1 = await c.get(PRODUCTS, headers=_basic(DEFAULT_KEY, DEFAULT_SECRET))
        r2 = await c.get(
            PRODUCTS, params={"consumer_key": DEFAULT_KEY, "consumer_secret": DEFAULT_SECRET}
        )
        r3 = await c.post("/wp-json/wc/v3/orders", json={})
    for r in (r1, r2):
        assert (r.status_code, r.json()["code"]) == (401, "woocommerce_rest_cannot_view")
    assert (r3.status_code, r3.json()["code"]) == (401, "woocommerce_rest_cannot_create")


async def test_basic_auth_and_query_keys_work_over_https() -> None:
    """With an https home_url Basic and the query pair authenticate; a wrong secret is a 401."""
    store = _store(home_url="https://shop.test")
    async with store_client(store, auth=None) as c:
        ok1 = await c.get(PRODUCTS, headers=_basic(DEFAULT_KEY, DEFAULT_SECRET))
        ok2 = await c.get(
            PRODUCTS, params={"consumer_key": DEFAULT_KEY, "consumer_secret": DEFAULT_SECRET}
        )
        bad = await c.get(PRODUCTS, headers=_basic(DEFAULT_KEY, "cs_wrong"))
        unknown = await c.get(PRODUCTS, headers=_basic("ck_nobody", "cs_wrong"))
    assert ok1.status_code == ok2.status_code == 200
    assert bad.json() == {
        "code": "woocommerce_rest_authentication_error",
        "message": "Consumer secret is invalid.",
        "data": {"status": 401},
    }
    assert unknown.json()["message"] == "Consumer key is invalid."
    assert "cs_wrong" not in bad.text


async def test_read_only_key_reads_but_cannot_write() -> None:
    """A read-only key lists products, and any write is 401 'does not have write permissions'."""
    store = _store(read_only_keys={"ck_ro": "cs_ro"})
    async with store_client(store, auth=OAuthSigner("ck_ro", "cs_ro", clock=store.now)) as c:
        assert (await c.get(PRODUCTS)).status_code == 200
        r = await c.put(f"{PRODUCTS}/10", json={"regular_price": "1.00"})
    assert r.status_code == 401
    assert r.json()["message"] == "The API key provided does not have write permissions."
    assert store.products[10].data["regular_price"] == "63.48"


async def test_revoked_key_stops_working() -> None:
    """revoke_key: the next request with that key is 'Consumer key is invalid.'."""
    store = _store()
    async with store_client(store) as c:
        assert (await c.get(PRODUCTS)).status_code == 200
        store.revoke_key(DEFAULT_KEY)
        r = await c.get(PRODUCTS)
    assert (r.status_code, r.json()["message"]) == (401, "Consumer key is invalid.")


async def test_index_needs_no_key_and_keys_only_reach_wc_namespaces() -> None:
    """/wp-json/ answers anonymously (keys are only checked on wc/ and wc-* routes)."""
    store = _store()
    async with store_client(store, auth=None) as c:
        r = await c.get(
            "/wp-json/",
            params={
                "_fields": "namespaces,gmt_offset,timezone_string",
                "oauth_consumer_key": "ck_garbage",
            },
        )
    assert r.status_code == 200
    assert set(r.json()) == {"namespaces", "gmt_offset", "timezone_string"}
    assert "wc/v3" in r.json()["namespaces"]


async def test_form_encoded_body_parameters_are_part_of_the_signature() -> None:
    """WooCommerce signs form fields: a signed form POST works, a field changed later is a 401."""
    store = _store()
    signer = OAuthSigner(DEFAULT_KEY, DEFAULT_SECRET, clock=store.now)
    async with store_client(store, auth=None) as c:
        form = {"name": "Form product", "regular_price": "3.00"}
        ok = await c.post(PRODUCTS, data=form, auth=signer)
        req = c.build_request("POST", PRODUCTS, data=form)
        signed = next(signer.auth_flow(req))
        tampered = await c.post(str(signed.url), data={**form, "regular_price": "0.01"})
    assert ok.status_code == 201, ok.text
    assert (ok.json()["name"], ok.json()["regular_price"]) == ("Form product", "3.00")
    assert tampered.status_code == 401


_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=0, max_size=12)


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(st.sampled_from(["search", "sku", "x_note", "a", "Z"]), _TEXT, max_size=3))
def test_any_query_values_signed_independently_are_accepted(params: dict[str, str]) -> None:
    """Spaces, '+', '&', '=', '~', '*' and non-ASCII in the query: the signature still verifies."""
    store = SandboxStore.from_config(SandboxConfig(products=3))

    async def go() -> int:
        async with store_client(store) as c:
            return (await c.get(PRODUCTS, params={**params, "per_page": "1"})).status_code

    assert asyncio.run(go()) == 200


async def test_a_repeated_query_key_is_signed_with_its_last_value() -> None:
    """PHP's $_GET keeps the last of a repeated key, so WooCommerce signs only that one
    (the official Python client sends every parameter twice and works on real stores)."""
    store = _store()
    url = store.config.home_url + PRODUCTS
    now = str(int(store.now()))
    oauth = [
        ("oauth_consumer_key", DEFAULT_KEY),
        ("oauth_timestamp", now),
        ("oauth_nonce", "repeatedkeynonce"),
        ("oauth_signature_method", "HMAC-SHA256"),
    ]
    signed_over = [("per_page", "3"), *oauth]
    sig = oauth_signature("GET", url, signed_over, DEFAULT_SECRET)
    sent = [("per_page", "1"), ("per_page", "3"), *oauth, ("oauth_signature", sig)]
    async with store_client(store, auth=None) as c:
        r = await c.get(PRODUCTS, params=sent)
    assert r.status_code == 200, r.text
    assert len(r.json()) == 3
