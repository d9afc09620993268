"""The change journal inside real WooCommerce: what writes a row, reading it, gaps, pruning, ids.

Changes are made both through WooCommerce's REST API and through PHP
(WordPress and WooCommerce functions, as wp-admin or another plugin would).
Tests share one activated store (see ``companion_store``): each reads the
journal from the head it saw first and uses products no other test touches.
"""

from __future__ import annotations

from typing import Any

import pytest

import companion_support as cs
from realstore_support import RealStore

pytestmark = [pytest.mark.real, pytest.mark.anyio]


def rows(changes: list[dict[str, Any]]) -> list[tuple[str, int, str]]:
    return [(c["type"], c["id"], c["op"]) for c in changes]


async def test_a_price_edit_writes_exactly_one_row(companion: RealStore) -> None:
    """A product save is one INSERT, through REST and through PHP; seq increases by one."""
    async with cs.client(companion) as c:
        start = await cs.head(c)
        await c.put("products/60", json={"regular_price": "6.66"})
        via_rest = await cs.changes_since(c, start)
        mid = await cs.head(c)
        cs.wp_php(
            companion,
            "$p = wc_get_product( 61 ); $p->set_regular_price( '7.77' ); $p->save(); "
            "echo wp_json_encode( 'ok' );",
        )
        via_php = await cs.changes_since(c, mid)
    assert rows(via_rest) == [("product", 60, "upsert")]
    assert rows(via_php) == [("product", 61, "upsert")]
    assert via_rest[0]["seq"] == start + 1 and mid == start + 1
    row = via_rest[0]
    assert (row["parent_id"], row["key"]) == (0, "")
    assert len(row["at"]) == 19 and row["at"][10] == "T"  # naive UTC, like date_modified_gmt


async def test_a_variation_edit_names_its_parent(companion: RealStore) -> None:
    async with cs.client(companion) as c:
        start = await cs.head(c)
        await c.put("products/315/variations/316", json={"regular_price": "12.00"})
        found = await cs.changes_since(c, start)
    variation = [ch for ch in found if ch["type"] == "variation"]
    assert [(v["id"], v["parent_id"], v["op"]) for v in variation] == [(316, 315, "upsert")]


async def test_an_online_orders_stock_change_is_journaled(companion: RealStore) -> None:
    """Orders placed online (REST checkout and PHP checkout) reduce stock: rows for what they sold.

    A variation whose stock its parent manages (VAR-20) moves the parent's stock: the parent's row.
    """
    async with cs.client(companion) as c:
        start = await cs.head(c)
        await c.post(
            "orders",
            json={
                "set_paid": True,
                "line_items": [
                    {"product_id": 62, "quantity": 2},
                    {"product_id": 405, "variation_id": 406, "quantity": 1},
                ],
            },
        )
        via_rest = await cs.changes_since(c, start)
        mid = await cs.head(c)
        cs.wp_php(
            companion,
            "$o = wc_create_order(); $o->add_product( wc_get_product( 63 ), 3 ); "
            "$o->calculate_totals(); $o->payment_complete(); echo wp_json_encode( $o->get_id() );",
        )
        via_php = await cs.changes_since(c, mid)
        stock = (
            await c.get("products", {"include": "62,63,405", "_fields": "id,stock_quantity"})
        ).data
    assert {("product", 62, "upsert"), ("product", 405, "upsert")} <= set(rows(via_rest))
    assert ("product", 63, "upsert") in rows(via_php)
    assert {s["id"]: s["stock_quantity"] for s in stock} == {62: 103 - 2, 63: 36 - 3, 405: 50 - 1}


async def test_trash_and_restore_are_journaled(companion: RealStore) -> None:
    """Trash (REST DELETE, PHP wp_trash_post) and restore are upserts: fetching shows the status."""
    async with cs.client(companion) as c:
        start = await cs.head(c)
        await c.delete("products/64")
        via_rest = await cs.changes_since(c, start)
        mid = await cs.head(c)
        cs.wp_php(companion, "wp_trash_post( 65 ); echo wp_json_encode( 'ok' );")
        via_php = await cs.changes_since(c, mid)
        mid = await cs.head(c)
        cs.wp_php(companion, "wp_untrash_post( 65 ); echo wp_json_encode( 'ok' );")
        restored = await cs.changes_since(c, mid)
        status = (await c.get("products/64", {"_fields": "status"})).data["status"]
    assert set(rows(via_rest)) == {("product", 64, "upsert")}
    assert set(rows(via_php)) == {("product", 65, "upsert")}
    assert set(rows(restored)) == {("product", 65, "upsert")}
    assert status == "trash"


async def test_force_deletes_are_journaled(companion: RealStore) -> None:
    """Permanent deletes, invisible to WooCommerce's API, are delete rows: REST force, PHP
    wp_delete_post, a WC_Product delete, and a variable product with its variations."""
    async with cs.client(companion) as c:
        start = await cs.head(c)
        await c.delete("products/66", {"force": "true"})
        via_rest = await cs.changes_since(c, start)
        mid = await cs.head(c)
        cs.wp_php(
            companion,
            "wp_delete_post( 67, true ); wc_get_product( 68 )->delete( true ); "
            "echo wp_json_encode( 'ok' );",
        )
        via_php = await cs.changes_since(c, mid)
        mid = await cs.head(c)
        await c.delete("products/321", {"force": "true"})
        variable = await cs.changes_since(c, mid)
        gone = await cs.call(c, "GET", "ids", {"type": "product", "after_id": 65, "per_page": 5})
    assert rows(via_rest) == [("product", 66, "delete")]
    assert rows(via_php) == [("product", 67, "delete"), ("product", 68, "delete")]
    deleted = {(ch["type"], ch["id"], ch["parent_id"]) for ch in variable if ch["op"] == "delete"}
    assert deleted == {
        ("product", 321, 0),
        ("variation", 322, 321),
        ("variation", 323, 321),
        ("variation", 324, 321),
    }
    assert [i["id"] for i in gone[1]["items"]][:3] == [69, 70, 71]


async def test_tax_rate_and_setting_changes_are_journaled(companion: RealStore) -> None:
    async with cs.client(companion) as c:
        start = await cs.head(c)
        rate = (
            await c.post("taxes", json={"country": "AT", "rate": "20.0000", "name": "MwSt"})
        ).data
        await c.put(f"taxes/{rate['id']}", json={"rate": "10.0000"})
        await c.delete(f"taxes/{rate['id']}", {"force": "true"})
        await c.put("settings/general/woocommerce_price_num_decimals", json={"value": "3"})
        await c.put("settings/general/woocommerce_price_num_decimals", json={"value": "2"})
        found = await cs.changes_since(c, start)
    tax = [(ch["id"], ch["op"]) for ch in found if ch["type"] == "tax_rate"]
    settings = [(ch["key"], ch["op"]) for ch in found if ch["type"] == "setting"]
    assert tax == [(rate["id"], "upsert"), (rate["id"], "upsert"), (rate["id"], "delete")]
    assert settings == [("woocommerce_price_num_decimals", "upsert")] * 2


async def test_limit_pages_the_journal(companion: RealStore) -> None:
    """limit=N gives N rows and more=true; next is the cursor for the following call."""
    async with cs.client(companion) as c:
        start = await cs.head(c)
        for pid in (70, 71, 72):
            await c.put(f"products/{pid}", json={"regular_price": "1.11"})
        status, first, _ = await cs.call(c, "GET", "changes", {"after": start, "limit": 2})
        status2, rest, _ = await cs.call(c, "GET", "changes", {"after": first["next"], "limit": 2})
    assert (status, status2) == (200, 200)
    assert [ch["id"] for ch in first["changes"]] == [70, 71] and first["more"] is True
    assert first["next"] == first["changes"][-1]["seq"]
    assert [ch["id"] for ch in rest["changes"]] == [72] and rest["more"] is False
    assert rest["head"] == rest["next"] == start + 3
    assert first["epoch"] == rest["epoch"]


async def test_a_young_gap_in_the_sequence_holds_later_rows_back(companion: RealStore) -> None:
    """A missing number may be a transaction about to commit: rows after it wait, and the head
    stays before it, until the row after the gap is older than the settle window (120 s)."""
    async with cs.client(companion) as c:
        start = await cs.head(c)
        await c.put("products/73", json={"regular_price": "2.22"})
        gap_row = cs.wp_php(
            companion,
            "global $wpdb; $t = OneTill_Companion_Install::changes_table(); "
            "$seq = 2 + (int) $wpdb->get_var( $wpdb->prepare( 'SELECT MAX(seq) FROM %i', $t ) ); "
            "$wpdb->insert( $t, array( 'seq' => $seq, 'object_type' => 'product', "
            "'object_id' => 74, 'operation' => 'upsert', "
            "'changed_gmt' => gmdate( 'Y-m-d H:i:s' ) ) ); "
            "echo wp_json_encode( $seq );",
        )
        held = await cs.changes_since(c, start)
        held_head = await cs.head(c)
        cs.wp_php(
            companion,
            "global $wpdb; $wpdb->update( OneTill_Companion_Install::changes_table(), "
            "array( 'changed_gmt' => gmdate( 'Y-m-d H:i:s', time() - 600 ) ), "
            f"array( 'seq' => {gap_row} ) ); echo wp_json_encode( 'ok' );",
        )
        settled = await cs.changes_since(c, start)
        await c.put("products/75", json={"regular_price": "2.22"})
        after = await cs.changes_since(c, gap_row)
    assert rows(held) == [("product", 73, "upsert")]
    assert held_head == start + 1
    assert rows(settled) == [("product", 73, "upsert"), ("product", 74, "upsert")]
    assert rows(after) == [("product", 75, "upsert")]


async def test_pruning_tells_a_till_behind_it_to_rebaseline(companion: RealStore) -> None:
    """Rows older than the retention are deleted (the newest kept); a cursor behind them gets
    410 onetill_journal_rebaseline (reason expired) with the head to follow after a full sync."""
    async with cs.client(companion) as c:
        start = await cs.head(c)
        for pid in (76, 77):
            await c.put(f"products/{pid}", json={"regular_price": "3.33"})
        # A retention below zero puts the cutoff in the future: every row is old enough.
        deleted = cs.wp_php(
            companion, "echo wp_json_encode( OneTill_Companion_Journal::prune( -60 ) );"
        )
        journal = (await cs.call(c, "GET", "status"))[1]["journal"]
        status, body, _ = await cs.call(c, "GET", "changes", {"after": start})
        ok, kept, _ = await cs.call(c, "GET", "changes", {"after": journal["pruned_through"]})
    assert deleted >= 1
    assert start < journal["pruned_through"] == journal["head"] - 1
    assert (status, body["code"], body["data"]["reason"]) == (
        410,
        "onetill_journal_rebaseline",
        "expired",
    )
    assert body["data"]["head"] == journal["head"]
    assert ok == 200 and rows(kept["changes"]) == [("product", 77, "upsert")]


async def test_a_cursor_ahead_of_the_journal_is_a_rebaseline(companion: RealStore) -> None:
    """A restored database can put the journal behind a till: told to re-baseline, not to wait."""
    async with cs.client(companion) as c:
        now = await cs.head(c)
        status, body, _ = await cs.call(c, "GET", "changes", {"after": now + 1000})
    assert (status, body["code"], body["data"]["reason"]) == (
        410,
        "onetill_journal_rebaseline",
        "ahead",
    )


async def test_ids_lists_every_product_and_variation_in_pages(companion: RealStore) -> None:
    """ids matches WooCommerce's own listing (any status and the trash), by page and by after_id."""
    async with cs.client(companion) as c:
        for kind, path in (("product", "products"), ("variation", "variations")):
            woo: dict[int, str] = {}
            for status in ("any", "trash"):
                async for page in c.paginate(
                    path, {"status": status}, fields=["id", "date_modified_gmt"]
                ):
                    woo.update({item["id"]: item["date_modified_gmt"] for item in page.items})
            by_page: dict[int, str] = {}
            page_no = 1
            while True:
                _, body, headers = await cs.call(
                    c, "GET", "ids", {"type": kind, "page": page_no, "per_page": 50}
                )
                by_page.update({i["id"]: i["date_modified_gmt"] for i in body["items"]})
                if page_no >= body["total_pages"]:
                    break
                page_no += 1
            by_key: list[int] = []
            after = 0
            while after is not None:
                _, body, _ = await cs.call(
                    c, "GET", "ids", {"type": kind, "after_id": after, "per_page": 50}
                )
                by_key += [i["id"] for i in body["items"]]
                after = body["next_after_id"]
            assert by_page == woo, kind
            assert by_key == sorted(woo), kind
            assert body["total"] == len(woo)
            assert headers["x-wp-total"] == str(len(woo))
