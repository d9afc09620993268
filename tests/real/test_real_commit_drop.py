"""The order is saved but the answer is lost: exactly one order per sale, stock reduced once.

Between the till and the real store sits a TLS proxy written here: it
presents the store's own certificate (so the till verifies it with the
store's CA, as in a shop), forwards each request to the store's https
port, reads the store's whole answer (the order is committed by then), and
for the uploads it is told to drop, resets the till's connection instead of
answering. The till must find the orders by their UUID and never resend.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from onetill.pos.cart import Cart
from onetill.pos.sale import record_sale
from onetill.pos.tender import Payment
from onetill.store.orders import get_order
from onetill.sync.outbox import drain
from real.real_support import Admin, Till, copy_till, till_config
from realstore_support import RealStore

pytestmark = [pytest.mark.real, pytest.mark.anyio]


@dataclass
class CommitDropProxy:
    """TLS in front of the store's https port; drops the answers of the next ``drops`` POSTs
    whose path starts with ``drop_prefix`` after the store has answered them."""

    store: RealStore
    drop_prefix: str = "/wp-json/wc/v3/orders"
    drops: int = 0
    dropped: list[str] = field(default_factory=list)
    forwarded: list[str] = field(default_factory=list)
    port: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            skip = ("host:", "connection:")
            headers = [h for h in lines[1:] if h and not h.lower().startswith(skip)]
            sizes = [h.split(":", 1)[1] for h in headers if h.lower().startswith("content-length")]
            length = int(sizes[0]) if sizes else 0
            body = await reader.readexactly(length)
            upstream = self.store.url_https.removeprefix("https://")
            request = "\r\n".join(
                [f"{method} {target} HTTP/1.1", f"Host: {upstream}", "Connection: close",
                 *headers, "", ""]
            ).encode("latin-1") + body  # fmt: skip
            answer = await self.forward(request)
            self.forwarded.append(f"{method} {target.split('?')[0]}")
            if method == "POST" and target.startswith(self.drop_prefix) and self.drops > 0:
                self.drops -= 1
                self.dropped.append(target.split("?")[0])
                writer.transport.abort()  # a reset: the till never sees the answer
                return
            writer.write(answer)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def forward(self, request: bytes) -> bytes:
        host, port = self.store.url_https.removeprefix("https://").split(":")
        context = ssl.create_default_context(cafile=self.store.ca_cert)
        reader, writer = await asyncio.open_connection(host, int(port), ssl=context)
        try:
            writer.write(request)
            await writer.drain()
            return await reader.read()  # Connection: close, so until the store hangs up
        finally:
            writer.close()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[str]:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.store.env["REAL_TLS_CERT"], self.store.env["REAL_TLS_KEY"])
        server = await asyncio.start_server(self.handle, "127.0.0.1", 0, ssl=context)
        self.port = server.sockets[0].getsockname()[1]
        try:
            yield f"https://127.0.0.1:{self.port}"
        finally:
            server.close()
            await server.wait_closed()


def sell(till: Till, item_id: int, qty: int) -> str:
    with till.db.lock:
        cart = Cart(till.db.conn, timezone=till.config.timezone)
        cart.add_id(item_id, qty)
    return record_sale(till.db, cart, Payment("cash", None), till_id="till-real").uuid


async def drain_until_settled(till: Till, rounds: int = 6) -> None:
    async with till.client(timeout=20.0) as client:
        for _ in range(rounds):
            report = await drain(client, till.db, settle_s=0, min_resend_age_s=0)
            with till.db.lock:
                open_orders = till.db.conn.execute(
                    "SELECT COUNT(*) FROM orders WHERE state IN ('pending_sync', 'in_flight')"
                ).fetchone()[0]
            if open_orders == 0:
                return
            assert report.failed == [], report
            await asyncio.sleep(0.2)
    raise AssertionError("orders still unsettled after draining")


@pytest.mark.parametrize("batch", [1, 10], ids=["single-post", "batch"])
async def test_a_dropped_answer_leaves_exactly_one_order_per_sale(
    realstore: RealStore,
    admin: Admin,
    till_template: Path,
    tmp_path: Path,
    batch: int,
) -> None:
    """Three sales; the store's answer to their upload (one POST each, or one batch) is lost
    after the store committed. Each sale ends ``synced`` with the one order the store made,
    and each product's stock went down once."""
    proxy = CommitDropProxy(realstore, drops=1 if batch > 1 else 3)
    async with proxy.running() as url:
        config = till_config(realstore, https=True)
        config.url = url
        till = copy_till(till_template, tmp_path / "till", config)
        try:
            items = {23: 2, 24: 1, 313: 3}
            before = {i: admin.stock(i) for i in items}
            uuids = [sell(till, i, q) for i, q in items.items()]
            async with till.client(timeout=20.0) as client:
                first = await drain(
                    client, till.db, batch_size=batch, settle_s=0, min_resend_age_s=0
                )
            assert len(proxy.dropped) == (3 if batch == 1 else 1), proxy.forwarded
            assert sorted(first.found_by_lookup) == sorted(uuids), first
            await drain_until_settled(till)
            for uuid, (item, qty) in zip(uuids, items.items(), strict=True):
                with till.db.lock:
                    record = get_order(till.db.conn, uuid)
                found = admin.orders_with_uuid(uuid)
                assert len(found) == 1, (uuid, [o["id"] for o in found])
                assert record is not None and record.state == "synced"
                assert record.remote_id == found[0]["id"]
                assert admin.stock(item) == before[item] - qty
            creates = [
                p for p in proxy.forwarded
                if p.startswith("POST") and p.endswith(("/orders", "/orders/batch"))
            ]  # fmt: skip
            assert len(creates) == (3 if batch == 1 else 1), proxy.forwarded  # never resent
        finally:
            till.close()
