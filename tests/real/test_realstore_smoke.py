"""The real store is up and our client speaks to it in both auth modes."""

from __future__ import annotations

import pytest

from onetill.woo import WooClient
from realstore_support import RealStore

pytestmark = [pytest.mark.real, pytest.mark.anyio]


async def test_oauth_over_http_reads_the_recorded_catalog(realstore: RealStore) -> None:
    """OAuth 1.0a over plain http is accepted by WooCommerce and sees the recorded catalog."""
    async with WooClient(realstore.url, realstore.key, realstore.secret) as client:
        r = await client.get("products", {"per_page": 1, "_fields": "id"})
    assert r.status == 200
    assert r.headers["X-WP-Total"] == "320"


async def test_basic_over_https_with_the_store_ca(realstore: RealStore) -> None:
    """Basic auth over https, verifying the store's own CA, reads product 10 (SIMPLE-001)."""
    async with WooClient(
        realstore.url_https, realstore.key, realstore.secret, verify=realstore.ca_cert
    ) as client:
        r = await client.get("products/10", {"_fields": "id,sku"})
    assert (r.data["id"], r.data["sku"]) == (10, "SIMPLE-001")
