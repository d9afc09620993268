"""The till screen in a real browser (Chromium), served by a real engine on a sandbox store.

One sandbox store and one engine (``onetill run`` as a process) serve the
module; the first-run and LAN tests start their own engines. Every screen is
checked with axe-core for serious or critical accessibility problems.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx2
import pytest
from playwright.sync_api import Page, expect

from onetill.sandbox.control import SandboxControl
from web.browser_support import (
    Till,
    check_accessibility,
    printed_token,
    screenshot,
    start_till,
    stop_till,
    wait_until,
)

pytestmark = pytest.mark.slow

STORE = ["--products", "40", "--variable", "4", "--seed", "11"]


@pytest.fixture(scope="module")
def till(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Till]:
    running = start_till(tmp_path_factory.mktemp("till"), STORE)
    try:
        running.engine.wait_status(lambda s: s["initial_sync_done"] and s["state"] == "online", 60)
        yield running
    finally:
        stop_till(running)


def open_till(page: Page, till: Till) -> None:
    page.goto(till.url)
    expect(page.locator("#statusbar")).to_have_attribute("data-state", "online", timeout=15000)
    expect(page.locator("#screen-sell")).to_be_visible()
    expect(page.locator("#grid .tile").first).to_be_visible()


def stocked(till: Till, n: int = 2, *, at_least: int = 20) -> list[Any]:
    """Simple products with managed stock: (id, sku, barcode, name, stock)."""
    return till.local(
        "SELECT id, sku, barcode, name, stock_quantity FROM products WHERE type = 'simple'"
        " AND sellable = 1 AND manage_stock = '1' AND stock_quantity >= ? AND barcode != sku"
        " ORDER BY id LIMIT ?", at_least, n,
    )


def money(text: str) -> Decimal:
    return Decimal(re.sub(r"[^\d.]", "", text))


def newest_order(till: Till) -> str:
    return str(till.local("SELECT uuid FROM orders ORDER BY seq DESC LIMIT 1")[0][0])


def store_copies(till: Till, uuid: str) -> int:
    assert till.store.url is not None
    orders = SandboxControl(till.store.url).orders()
    return sum(
        1 for o in orders
        if any(m.get("key") == "_onetill_order_uuid" and m.get("value") == uuid
               for m in o.get("meta_data") or [])
    )


def pay_cash(page: Page, tendered: str | None = None) -> None:
    page.keyboard.press("F2")
    expect(page.locator("#pay-dialog")).to_be_visible()
    if tendered is not None:
        page.locator("#tendered").fill(tendered)
    page.keyboard.press("Enter")
    expect(page.locator("#receipt-dialog")).to_be_visible()


def test_scan_sku_and_barcode_then_cash_sale_shows_the_change(page: Page, till: Till) -> None:
    """A scanner types fast and ends with Enter: two scans back to back, none lost or split."""
    open_till(page, till)
    check_accessibility(page, "sell")
    (_, a_sku, _, a_name, _), (_, _, b_code, b_name, _) = stocked(till)
    assert len(b_code) == 13
    page.keyboard.type(f"{a_sku}\n{b_code}\n{b_code}\n")
    lines = page.locator("#lines .line")
    expect(lines).to_have_count(2)
    expect(lines.nth(0)).to_contain_text(a_name)
    expect(lines.nth(1)).to_contain_text(b_name)
    expect(lines.nth(1).locator("input.qty")).to_have_value("2")
    expect(page.locator("#scan")).to_be_focused()
    total = money(page.locator("#totals dd.grand").inner_text())
    expect(page.locator("#totals dt")).to_contain_text([re.compile("MwSt")])
    screenshot(page, "sell")
    page.keyboard.press("F2")
    expect(page.locator("#pay-dialog")).to_be_visible()
    page.locator("#tendered").fill("500")
    expect(page.locator("#change-line")).to_contain_text(f"€{500 - total:.2f}")
    check_accessibility(page, "cash payment")
    page.keyboard.press("Enter")
    receipt = page.locator("#receipt-dialog")
    expect(receipt).to_be_visible()
    expect(page.locator("#receipt-paid")).to_contain_text(f"Change €{500 - total:.2f}")
    expect(page.locator("#receipt")).to_contain_text("€500.00")
    expect(page.locator("#receipt")).to_contain_text("Cash")
    uuid = newest_order(till)
    expect(page.locator("#receipt")).to_contain_text(uuid[:8])
    screenshot(page, "receipt")
    check_accessibility(page, "receipt")
    page.keyboard.press("Enter")
    expect(receipt).to_be_hidden()
    expect(page.locator("#lines .line")).to_have_count(0)
    # Uploaded: the orders screen shows WooCommerce's number, and reprints the receipt.
    wait_until(lambda: till.status()["pending_orders"] == 0, 20, "the sale uploaded")
    number = till.local("SELECT remote_number FROM orders WHERE uuid = ?", uuid)[0][0]
    page.keyboard.press("F7")
    expect(page.locator("#screen-orders")).to_be_visible()
    row = page.locator("#orders-body tr", has_text=uuid[:8])
    expect(row).to_contain_text(f"#{number}")
    check_accessibility(page, "orders")
    row.locator("button").click()
    expect(page.locator("#receipt")).to_contain_text(f"#{number}")
    expect(page.locator("#receipt-print")).to_be_visible()
    check_accessibility(page, "order detail")
    assert store_copies(till, uuid) == 1


def test_a_variable_product_picks_a_variation(page: Page, till: Till) -> None:
    open_till(page, till)
    tile = page.locator("#grid .tile[data-kind='variable']").first
    tile.click()
    dialog = page.locator("#variation-dialog")
    expect(dialog).to_be_visible()
    check_accessibility(page, "variation picker")
    option = dialog.locator(".options .tile").first
    sku = option.locator(".t-sku").inner_text()
    option.click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#lines .line")).to_have_count(1)
    expect(page.locator("#lines .line")).to_contain_text(sku)


def test_a_double_clicked_pay_records_one_sale(page: Page, till: Till) -> None:
    open_till(page, till)
    before = till.local("SELECT COUNT(*) FROM orders")[0][0]
    page.keyboard.type(f"{stocked(till, 1)[0][1]}\n")
    expect(page.locator("#lines .line")).to_have_count(1)
    page.keyboard.press("F2")
    page.locator("#pay-submit").dblclick()
    expect(page.locator("#receipt-dialog")).to_be_visible()
    page.wait_for_timeout(500)
    assert till.local("SELECT COUNT(*) FROM orders")[0][0] == before + 1


def test_offline_cash_sale_queues_and_reaches_the_store_once(page: Page, till: Till) -> None:
    """Store gone: offline within 10 s, card disabled, cash works, 1 pending; back: 0, once."""
    open_till(page, till)
    wait_until(lambda: till.status()["pending_orders"] == 0, 20, "an empty queue")
    till.store.stop()
    try:
        bar = page.locator("#statusbar")
        expect(bar).to_have_attribute("data-state", "offline", timeout=10000)
        expect(page.locator("#st-state")).to_have_text("Offline")
        page.keyboard.type(f"{stocked(till, 1)[0][1]}\n")
        expect(page.locator("#lines .line")).to_have_count(1)
        expect(page.locator("#pay-card")).to_be_disabled()
        expect(page.locator("#card-why")).to_contain_text("Card needs the internet")
        expect(page.locator("#st-reason")).to_contain_text("Cash sales keep working")
        screenshot(page, "offline")
        check_accessibility(page, "sell while offline")
        pay_cash(page)
        page.keyboard.press("Enter")
        expect(page.locator("#st-pending")).to_have_text("1 pending")
        uuid = newest_order(till)
    finally:
        till.store.start()
    expect(page.locator("#statusbar")).to_have_attribute("data-state", "online", timeout=20000)
    expect(page.locator("#st-pending")).to_have_text("0 pending", timeout=30000)
    assert store_copies(till, uuid) == 1


def test_an_online_order_changes_the_stock_shown_within_one_poll(page: Page, till: Till) -> None:
    open_till(page, till)
    item_id, _, _, _, _ = stocked(till, 1, at_least=30)[0]
    tile = page.locator(f"#grid .tile[data-id='{item_id}'] .stock")
    shown = int(tile.inner_text().split()[0])
    assert till.store.url is not None
    SandboxControl(till.store.url).place_online_order([{"product_id": item_id, "quantity": 3}])
    # The engine polls every second here: the next poll brings it, the screen follows.
    expect(tile).to_have_text(f"{shown - 3} in stock", timeout=5000)


def test_a_failed_order_shows_in_needs_attention_and_retry_uploads_it(
    page: Page, till: Till
) -> None:
    open_till(page, till)
    assert till.store.url is not None
    control = SandboxControl(till.store.url)
    control.add_faults("POST /orders*:status=400@count=1")
    try:
        page.keyboard.type(f"{stocked(till, 1)[0][1]}\n")
        expect(page.locator("#lines .line")).to_have_count(1)
        pay_cash(page)
        page.keyboard.press("Enter")
        uuid = newest_order(till)
        expect(page.locator("#st-failed")).to_be_visible(timeout=15000)
        page.locator("#st-failed").click()
        expect(page.locator("#screen-attention")).to_be_visible()
        issue = page.locator("#failed-list .issue", has_text=uuid[:8])
        expect(issue).to_contain_text("WooCommerce said")
        screenshot(page, "needs-attention")
        check_accessibility(page, "needs attention")
        issue.get_by_role("button", name="Retry").click()
        expect(page.locator("#failed-list")).to_contain_text("No failed orders", timeout=15000)
        wait_until(lambda: till.status()["pending_orders"] == 0, 20, "the retried order uploaded")
    finally:
        control.clear_faults()
    assert store_copies(till, uuid) == 1
    page.locator("#failed-list").wait_for()
    expect(page.locator("#st-failed")).to_be_hidden()


def test_first_run_connects_a_store_and_shows_the_sync_live(
    page: Page, tmp_path: Path
) -> None:
    # A slow host: the pull takes a few seconds, long enough to watch.
    fresh = start_till(tmp_path, ["--products", "300", "--variable", "12", "--seed", "5",
                                  "--latency", "700"], connect=False)  # fmt: skip
    try:
        page.goto(fresh.url)
        expect(page.locator("#screen-setup")).to_be_visible()
        check_accessibility(page, "connect form")
        from onetill.sandbox.config import DEFAULT_KEY, DEFAULT_SECRET

        assert fresh.store.url is not None
        page.locator("#c-url").fill(fresh.store.url)
        page.locator("#c-key").fill(DEFAULT_KEY)
        page.locator("#c-secret").fill("cs_not_the_secret")
        page.locator("#connect-submit").click()
        expect(page.locator("#connect-error")).to_contain_text("the store refused the keys",
                                                               timeout=20000)
        page.locator("#c-secret").fill(DEFAULT_SECRET)
        page.locator("#connect-submit").click()
        expect(page.locator("#screen-sync")).to_be_visible(timeout=20000)
        expect(page.locator("#sync-list")).to_contain_text(re.compile(r"of [\d,]+ products"))
        screenshot(page, "first-run-sync")
        check_accessibility(page, "initial sync")
        page.reload()  # the progress survives a reload
        expect(page.locator("#sync-list progress").first).to_be_visible()
        expect(page.locator("#screen-sell")).to_be_visible(timeout=60000)
        expect(page.locator("#grid .tile").first).to_be_visible()
    finally:
        stop_till(fresh)


def test_lan_mode_refuses_requests_without_the_token_and_cross_site_posts(
    page: Page, till: Till, tmp_path: Path
) -> None:
    from engine.engine_support import EngineProcess, connect_home
    from web.browser_support import TILL_ARGS

    home = tmp_path / "lan"
    home.mkdir()
    assert till.store.url is not None
    connect_home(home, till.store.url)
    lan = EngineProcess(home, *TILL_ARGS, "--host", "0.0.0.0")
    lan.start()
    try:
        token = printed_token(lan)
        port = lan.url.rstrip("/").rsplit(":", 1)[1]
        bare = httpx2.get(lan.url + "api/orders", timeout=5, trust_env=False)
        assert bare.status_code == 401
        page.goto(lan.url)
        expect(page).to_have_url(re.compile(r"/login$"))
        check_accessibility(page, "login")
        page.locator("#token").fill("WRONG-TOKEN")
        page.locator("button[type=submit]").click()
        expect(page.locator(".form-error")).to_contain_text("not the access token")
        page.locator("#token").fill(token.lower())
        page.locator("button[type=submit]").click()
        expect(page.locator("#screen-sell")).to_be_visible(timeout=30000)
        orders_before = lan_orders(home)
        # Pages of other origins (the store's) post a sale to the till. From 127.0.0.1 (same
        # site) the browser sends the session cookie, and the till's CSRF check refuses it;
        # from localhost (another site) the cookie stays home (SameSite=Strict): refused too.
        store_port = till.store.url.rsplit(":", 1)[1]
        for origin in (f"http://127.0.0.1:{store_port}/wp-json/",
                       f"http://localhost:{store_port}/wp-json/"):
            other = page.context.new_page()
            other.goto(origin)
            with other.expect_navigation() as navigation:
                other.evaluate(_FORGED_POST, f"http://127.0.0.1:{port}/api/sales")
            response = navigation.value
            assert response is not None, origin
            assert response.status == (403 if "127.0.0.1" in origin else 401), origin
            other.close()
        assert lan_orders(home) == orders_before
    finally:
        lan.stop()


def lan_orders(home: Path) -> int:
    import sqlite3

    with sqlite3.connect(home / "onetill.db") as conn:
        return int(conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0])


_FORGED_POST = """url => {
  const form = document.createElement('form');
  form.method = 'POST';
  form.action = url;
  form.enctype = 'text/plain';
  const field = document.createElement('input');
  field.name = '{"sale_key":"00000000-0000-4000-8000-000000000000","x":"';
  field.value = '"}';
  form.append(field);
  document.body.append(form);
  form.submit();
}"""


def test_the_demo_opens_onto_the_till_with_its_store_controls(
    page: Page, tmp_path: Path
) -> None:
    """`onetill demo`: the till URL printed, a panel to take the store offline and back and
    to place an online-shop order (a real store's till never has the panel)."""
    import signal
    import subprocess
    import sys
    import threading

    proc = subprocess.Popen(
        [sys.executable, "-m", "onetill", "demo", "--home", str(tmp_path / "demo"),
         "--products", "20", "--variable", "2", "--no-browser", "--interval", "1",
         "--probe-interval", "0.2", "--probe-max", "1", "--idle-probe", "0.5"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
    )  # fmt: skip
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout or []), daemon=True)
    reader.start()
    try:
        url = wait_until(
            lambda: next((ln.split(": ", 1)[1].strip() for ln in lines
                          if ln.startswith("Till: ")), None), 60, "the till URL printed",
        )  # fmt: skip
        page.goto(url)
        expect(page.locator("#screen-sell")).to_be_visible(timeout=60000)
        panel = page.locator("#demo-panel")
        expect(panel).to_be_visible()
        panel.get_by_role("button", name="Place an online-shop order").click()
        expect(page.locator("#demo-note")).to_contain_text("Online shop sold")
        panel.get_by_role("button", name="Take the store offline").click()
        expect(page.locator("#statusbar")).to_have_attribute("data-state", "offline",
                                                             timeout=10000)
        panel.get_by_role("button", name="Bring the store back online").click()
        expect(page.locator("#statusbar")).to_have_attribute("data-state", "online",
                                                             timeout=20000)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        reader.join(5)
        if proc.stdout is not None:
            proc.stdout.close()
