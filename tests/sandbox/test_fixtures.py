"""The shared in-process sandbox fixtures (tests/conftest.py) work as other rooms use them."""

from __future__ import annotations

import httpx2
import pytest

from onetill.sandbox.state import SandboxStore


@pytest.mark.anyio
async def test_sandbox_client_is_signed_and_talks_to_sandbox_store(
    sandbox_client: httpx2.AsyncClient, sandbox_store: SandboxStore
) -> None:
    """sandbox_client reaches the recorded store behind sandbox_store, OAuth-signed over http."""
    r = await sandbox_client.get("/wp-json/wc/v3/products/10")
    assert r.status_code == 200
    assert r.json()["sku"] == "SIMPLE-001"
    assert "oauth_signature" in str(r.request.url)
    sandbox_store.admin_update_product(10, {"stock_quantity": 3})
    again = await sandbox_client.get(
        "/wp-json/wc/v3/products/10", params={"_fields": "stock_quantity"}
    )
    assert again.json()["stock_quantity"] == 3
