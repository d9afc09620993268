"""The sandbox can answer what a broken store answers: raw fields verbatim, raw bytes."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

pytestmark = pytest.mark.anyio


async def test_raw_fields_are_answered_verbatim_in_item_and_listing_and_can_be_cleared(
    sandbox_client: httpx2.AsyncClient, sandbox_store: Any
) -> None:
    before = (await sandbox_client.get("/wp-json/wc/v3/products/10")).json()
    shown = sandbox_store.set_raw_fields(10, {"stock_quantity": 2**63, "id": "ten"})
    assert shown["stock_quantity"] == 2**63 and shown["id"] == "ten"
    one = (await sandbox_client.get("/wp-json/wc/v3/products/10")).json()
    assert one["stock_quantity"] == 2**63 and one["id"] == "ten"
    assert one["date_modified_gmt"] >= before["date_modified_gmt"]  # a save
    listed = (await sandbox_client.get("/wp-json/wc/v3/products",
                                       params={"include": "10", "_fields": "id"})).json()
    assert listed == [{"id": "ten"}]
    sandbox_store.set_raw_fields(10, None)
    assert (await sandbox_client.get("/wp-json/wc/v3/products/10")).json()["id"] == 10


async def test_byte_patches_put_invalid_utf8_into_answers(
    sandbox_client: httpx2.AsyncClient, sandbox_store: Any
) -> None:
    sandbox_store.admin_update_product(10, {"name": "Caf@@BAD@@ Mug"})
    sandbox_store.add_byte_patch("@@BAD@@", b"\xe9")
    raw = (await sandbox_client.get("/wp-json/wc/v3/products/10")).content
    assert b'"Caf\xe9 Mug"' in raw
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    sandbox_store.clear_byte_patches()
    assert b"Caf@@BAD@@ Mug" in (await sandbox_client.get("/wp-json/wc/v3/products/10")).content


def test_the_control_api_sets_raw_fields_and_byte_patches(start_sandbox: Any) -> None:
    server = start_sandbox()
    shown = server.control.set_raw_fields(11, {"price": "-5.00"})
    assert shown["price"] == "-5.00"
    server.control.add_byte_patch("Sorry", b"\xff\xfe")  # in the anonymous 401's message
    with httpx2.Client() as http:
        body = http.get(f"{server.url}/wp-json/wc/v3/products").content
        server.control.clear_byte_patches()
        again = http.get(f"{server.url}/wp-json/wc/v3/products").content
    assert b"\xff\xfe, you cannot" in body and b"Sorry, you cannot" in again
