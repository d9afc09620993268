"""The OAuth nonce and timestamp windows, rule by rule (``class-wc-rest-authentication.php``).

WooCommerce checks the signature first, then the timestamp (+-15 min of the
server's ``time()``, both bounds inclusive), then the nonce: a nonce stays
used for 15 minutes per key (its list is keyed by timestamp and pruned on
each request of that key). A nonce is burnt even when the request then fails
for another reason (no write permission, a 400), so a client must sign every
retry afresh.
"""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from onetill.sandbox.config import DEFAULT_KEY, DEFAULT_SECRET, SandboxConfig
from onetill.sandbox.state import SandboxStore
from sandbox_support import Clock, oauth_signature, store_client
from support import RECORDED_STORE

pytestmark = pytest.mark.anyio
PRODUCTS = "/wp-json/wc/v3/products"
NOW = 1_795_707_684
USED = "Invalid nonce - nonce has already been used."


def _store() -> tuple[SandboxStore, Clock]:
    clock = Clock(NOW)
    config = SandboxConfig(store_dir=RECORDED_STORE, read_only_keys={"ck_ro": "cs_ro"})
    return SandboxStore.from_config(config, clock=clock), clock


async def _send(
    c: httpx2.AsyncClient,
    store: SandboxStore,
    nonce: str,
    ts: int,
    *,
    method: str = "GET",
    path: str = PRODUCTS,
    key: str = DEFAULT_KEY,
    secret: str = DEFAULT_SECRET,
    bad_signature: bool = False,
    json: Any = None,
) -> httpx2.Response:
    params = [
        ("oauth_consumer_key", key),
        ("oauth_nonce", nonce),
        ("oauth_signature_method", "HMAC-SHA256"),
        ("oauth_timestamp", str(ts)),
    ]
    url = store.config.home_url + path
    sig = oauth_signature(method, url, params, "wrong" if bad_signature else secret)
    return await c.request(method, path, params=[*params, ("oauth_signature", sig)], json=json)


async def test_a_nonce_is_used_up_for_fifteen_minutes_per_key_even_on_another_request() -> None:
    """Same nonce on another route and timestamp: refused; on another key: fine;
    once its timestamp is over 15 minutes old and an accepted request pruned it: fine again."""
    store, clock = _store()
    async with store_client(store, auth=None) as c:
        assert (await _send(c, store, "n1", NOW)).status_code == 200
        again = await _send(c, store, "n1", NOW + 5, path=f"{PRODUCTS}/10")
        assert (again.status_code, again.json()["message"]) == (401, USED)
        other_key = await _send(c, store, "n1", NOW, key="ck_ro", secret="cs_ro")
        assert other_key.status_code == 200
        clock.advance(15 * 60)  # n1's timestamp is exactly 15 min old: still remembered
        assert (await _send(c, store, "n1", NOW + 15 * 60)).json()["message"] == USED
        clock.advance(2)
        # still listed: only an accepted request of this key prunes the list
        assert (await _send(c, store, "n1", NOW + 15 * 60 + 2)).json()["message"] == USED
        assert (await _send(c, store, "fresh", NOW + 15 * 60 + 2)).status_code == 200
        assert (await _send(c, store, "n1", NOW + 15 * 60 + 3)).status_code == 200


async def test_a_bad_signature_does_not_burn_the_nonce_but_a_refused_write_does() -> None:
    """Signature first, nonce second: a forged request leaves the nonce free; a read-only
    key's write (401 after auth) and a validation 400 both use it up."""
    store, _ = _store()
    async with store_client(store, auth=None) as c:
        forged = await _send(c, store, "n2", NOW, bad_signature=True)
        assert forged.json()["message"] == "Invalid signature - provided signature does not match."
        assert (await _send(c, store, "n2", NOW)).status_code == 200
        body = {"regular_price": "1.00"}
        ro = await _send(
            c,
            store,
            "n3",
            NOW,
            method="PUT",
            path=f"{PRODUCTS}/10",
            key="ck_ro",
            secret="cs_ro",
            json=body,
        )
        assert ro.json()["message"] == "The API key provided does not have write permissions."
        retry = await _send(c, store, "n3", NOW, key="ck_ro", secret="cs_ro")
        assert retry.json()["message"] == USED
        bad = await _send(
            c, store, "n4", NOW, method="PUT", path=f"{PRODUCTS}/10", json={"regular_price": 1}
        )
        assert bad.status_code == 400
        assert (await _send(c, store, "n4", NOW)).json()["message"] == USED


@pytest.mark.parametrize(("skew", "ok"), [(-900, True), (900, True), (-901, False), (901, False)])
async def test_timestamp_bounds_are_inclusive_at_fifteen_minutes(skew: int, ok: bool) -> None:
    """|server time - oauth_timestamp| <= 900 s passes; one second more is 'Invalid timestamp.'
    (and such a request does not burn its nonce)."""
    store, _ = _store()
    async with store_client(store, auth=None) as c:
        r = await _send(c, store, "n5", NOW + skew)
        assert (r.status_code == 200) is ok
        if not ok:
            assert r.json()["message"] == "Invalid timestamp."
            assert (await _send(c, store, "n5", NOW)).status_code == 200
