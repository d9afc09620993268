"""The WooCommerce behaviour a cheap poll relies on, shown on the real store: trash listed
with the rest by `include_status`, sales stamping their products, writes landing at the poll
boundary, and a slow save whose data is committed after its date."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import httpx2
import pytest

from onetill.store import Database
from onetill.store.catalog import get_item
from onetill.store.sync_state import get_json, set_state
from onetill.sync import poll_shape, sale_signal
from onetill.sync.catalog import delta_sync
from onetill.sync.poll_window import SNAPSHOT
from onetill.woo import WooClient, format_gmt_cursor, parse_gmt
from onetill.woo.errors import WooAPIError
from realstore_support import RealStore

pytestmark = [pytest.mark.real, pytest.mark.anyio]

SLOW_SAVE = Path(__file__).with_name("mu-plugins") / "onetill-test-slow-save.php"


@pytest.fixture
async def client(realstore: RealStore) -> AsyncIterator[WooClient]:
    async with WooClient(
        realstore.url_https, realstore.key, realstore.secret, verify=realstore.ca_cert
    ) as c:
        yield c


async def _till(client: WooClient, tmp_path: Path, name: str = "till.db") -> Database:
    """A till whose cursor is the store's time now (no initial pull: the tests need only
    what changes from here on)."""
    now = (await client.get("products", {"per_page": 1, "_fields": "id"})).server_time
    assert now is not None
    cursor = format_gmt_cursor(now - timedelta(seconds=1))  # before the query ran
    db = Database(tmp_path / name)
    with db.write() as conn:
        set_state(conn, "catalog.cursor", cursor)
        set_state(conn, SNAPSHOT, cursor)
    return db


def _modified(data: object) -> str:
    assert isinstance(data, dict)
    return str(data["date_modified_gmt"])


async def test_include_status_lists_trash_with_the_rest_and_rejects_a_bad_value(
    client: WooClient,
) -> None:
    """One query (`include_status=any,trash`) returns what `status=any` and `status=trash`
    return together; an invalid value is a 400 naming the parameter (how support is told
    apart from a version that would ignore it)."""
    since = (await client.get("products", {"per_page": 1, "_fields": "id"})).server_time
    assert since is not None
    await asyncio.sleep(1.1)
    await client.delete("products/20")
    await client.put("products/21", json={"regular_price": "9.99"})
    window = {"modified_after": format_gmt_cursor(since - timedelta(seconds=1)),
              "dates_are_gmt": "true", "_fields": "id,status"}  # fmt: skip
    folded = (await client.get("products", {**window, "include_status": "any,trash"})).data
    default = (await client.get("products", window)).data
    trash = (await client.get("products", {**window, "status": "trash"})).data
    assert {o["id"]: o["status"] for o in folded} == {20: "trash", 21: "publish"}
    assert [o["id"] for o in default] == [21] and [o["id"] for o in trash] == [20]
    with pytest.raises(WooAPIError) as bad:
        await client.get("products", {"include_status": "onetill-probe", "_fields": "id"})
    assert bad.value.status == 400 and bad.value.code == "rest_invalid_param"
    assert "include_status" in bad.value.data["params"]


async def test_a_paid_order_stamps_what_it_sold_and_the_till_stops_reading_orders(
    client: WooClient, realstore: RealStore, tmp_path: Path
) -> None:
    """A paid order reduces stock and saves the product holding it (a simple product; a
    variation with its own stock, and its parent), then marks the line `_reduced_stock`.
    After two such web-shop orders the till's idle poll is products and taxes."""
    with await _till(client, tmp_path) as db:
        report = await delta_sync(client, db)
        assert report.requests == 3  # products (trash included) + orders + taxes
        assert get_json(db.conn, poll_shape.SUPPORT_KEY, {})["supported"] is True
        await asyncio.sleep(1.1)
        for lines in ([{"product_id": 22, "quantity": 1}],
                      [{"product_id": 310, "variation_id": 311, "quantity": 1}]):  # fmt: skip
            order = (await client.post("orders", json={"set_paid": True, "line_items": lines})).data
            created = order["date_created_gmt"]
            assert all(any(m["key"] == "_reduced_stock" for m in line["meta_data"])
                       for line in order["line_items"])  # fmt: skip
            for sold in {lines[0]["product_id"], lines[0].get("variation_id") or 22}:
                assert _modified((await client.get(f"products/{sold}")).data) >= created
        await delta_sync(client, db)
        assert sale_signal.proven(db.conn)
        stock = (await client.get("products/311", {"_fields": "stock_quantity"})).data
        item = get_item(db.conn, 311)
        assert item is not None and item.stock_quantity == stock["stock_quantity"]
        offset = realstore.access_log.stat().st_size
        await delta_sync(client, db)
        with realstore.access_log.open("rb") as log:
            log.seek(offset)
            asked = [line for line in log.read().decode().splitlines() if "OneTill/" in line]
        assert asked and not [line for line in asked if "/wc/v3/orders" in line]


async def test_writes_landing_at_the_poll_boundary_reach_the_next_poll(
    client: WooClient, tmp_path: Path
) -> None:
    """A product saved right after a poll was answered, in the very second of its Date
    (strict `modified_after`, one-second stamps), is read by the next poll."""
    with await _till(client, tmp_path) as db:
        await delta_sync(client, db)
        landed = False
        for attempt in range(5):
            price = f"1.{attempt}1"
            await delta_sync(client, db)
            answered = db.conn.execute(
                "SELECT value FROM sync_state WHERE key = 'catalog.last_sync_at'"
            ).fetchone()[0]
            saved = (await client.put("products/16", json={"regular_price": price})).data
            await delta_sync(client, db)
            item = get_item(db.conn, 16)
            assert item is not None and str(item.regular_price) == price
            if _modified(saved) == answered:
                landed = True
                break
        assert landed, "no save landed in the second of a poll's Date in 5 tries"


@pytest.fixture
def slow_saves(realstore: RealStore) -> Iterator[None]:
    target = realstore.prefix / "www" / "wp-content" / "mu-plugins" / SLOW_SAVE.name
    shutil.copyfile(SLOW_SAVE, target)
    try:
        yield
    finally:
        target.unlink(missing_ok=True)


@pytest.mark.usefixtures("slow_saves")
async def test_a_slow_save_commits_its_date_first_and_the_next_poll_repairs_it(
    client: WooClient, realstore: RealStore, tmp_path: Path
) -> None:
    """A save slowed by 3 s between stamping the product and writing its price: a poll in
    between reads the new date with the old price (WooCommerce commits the date first), and
    the next poll reads the product again (the overlap covers COMMIT_LAG_S)."""
    with await _till(client, tmp_path) as db:
        await delta_sync(client, db)
        before = _modified((await client.get("products/15")).data)
        async with httpx2.AsyncClient(
            verify=ssl.create_default_context(cafile=realstore.ca_cert),
            auth=(realstore.key, realstore.secret), timeout=30,
        ) as raw:
            save = asyncio.create_task(raw.put(
                f"{realstore.url_https}/wp-json/wc/v3/products/15",
                json={"regular_price": "5.55"}, headers={"X-OneTill-Slow-Save": "3"},
            ))  # fmt: skip
            started = time.monotonic()
            while _modified((await client.get("products/15")).data) == before:
                assert time.monotonic() - started < 10, "the slow save never stamped"
                await asyncio.sleep(0.1)
            await asyncio.sleep(1.2)  # the poll's second differs from the stamp's
            await delta_sync(client, db)
            half = get_item(db.conn, 15)
            assert half is not None and str(half.regular_price) != "5.55"
            assert half.date_modified_gmt > before  # the new date, the old price
            assert (await save).status_code == 200
        await delta_sync(client, db)
        item = get_item(db.conn, 15)
        assert item is not None and str(item.regular_price) == "5.55"
        assert parse_gmt(item.date_modified_gmt) == parse_gmt(half.date_modified_gmt)


async def test_an_idle_engine_spends_no_php_request_on_connectivity(
    realstore: RealStore, tmp_path: Path
) -> None:
    """Between polls the engine checks the store with TLS handshakes only: the access log
    shows no request from the till while it sits idle, and it stays online."""
    from onetill.config import Config, save_config
    from onetill.engine.runtime import Engine, EngineSettings
    from onetill.store.db import DB_FILENAME

    home = tmp_path / "home"
    home.mkdir()
    config = Config(url=realstore.url_https, key=realstore.key, secret=realstore.secret,
                    ca_file=realstore.ca_cert, timezone="America/New_York")  # fmt: skip
    save_config(home, config)
    async with WooClient(
        realstore.url_https, realstore.key, realstore.secret, verify=realstore.ca_cert
    ) as client:
        (await _till(client, home, DB_FILENAME)).close()
    settings = EngineSettings(home=home, port=0, delta_interval_s=600, idle_probe_s=0.3)
    engine = Engine(settings, config=config)
    task = asyncio.create_task(engine.run())
    try:
        await asyncio.wait_for(engine.started.wait(), 30)
        assert engine.scheduler is not None and engine.monitor is not None
        for _ in range(300):
            if engine.scheduler.stats.deltas >= 1:
                break
            await asyncio.sleep(0.05)
        offset = realstore.access_log.stat().st_size
        reaches = engine.monitor.reaches
        await asyncio.sleep(3.0)
        with realstore.access_log.open("rb") as log:
            log.seek(offset)
            ours = [line for line in log.read().decode().splitlines() if "OneTill/" in line]
        assert ours == []
        assert engine.monitor.reaches >= reaches + 5 and engine.monitor.probes == 0
        assert engine.monitor.online
    finally:
        engine.request_stop()
        await asyncio.wait_for(task, 30)
