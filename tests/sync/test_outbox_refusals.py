"""What ended an upload is judged by status, code and what was sent, never by message text.

A translated "nonce already used", an exception nobody expected after the request
left, a 2xx without an order: each may hide an order the store made, so each is
looked up by UUID before anything is sent again.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx2
import pytest

from onetill.store.orders import get_order
from onetill.sync.outbox import drain, paused_reason
from till_support import Rig, close_rig, make_rig, order_uuid, sell

pytestmark = pytest.mark.anyio


def _copies(rig: Rig, uuid: str) -> int:
    return sum(1 for o in rig.store.list_orders() if order_uuid(o) == uuid)


class _ReplayingNetwork(httpx2.AsyncBaseTransport):
    """A network (or a proxy retrying on its own) that delivers the first order POST twice:
    the copy gets there first and creates the order; the original is then refused for its
    nonce, in the store's language."""

    def __init__(self, rig: Rig) -> None:
        self.inner = httpx2.ASGITransport(app=rig.app)
        self.replayed = False

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if not self.replayed and request.method == "POST" and request.url.path.endswith("/orders"):
            self.replayed = True
            await request.aread()
            copy = httpx2.Request(request.method, request.url, headers=request.headers,
                                  content=request.content)  # fmt: skip
            await (await self.inner.handle_async_request(copy)).aread()
        return await self.inner.handle_async_request(request)


async def test_a_replayed_post_refused_in_german_is_looked_up_not_resent(tmp_path: Path) -> None:
    """German store, OAuth: a replayed copy of the upload created the order and the original
    got 401 'Ungültige Nonce'. The till cannot tell that from refused keys by status or code,
    so the queue pauses with the order in flight; once resumed it is looked up and found:
    one order, never a resend."""
    rig = make_rig(tmp_path, locale="de_DE")  # http: OAuth, nonces checked
    try:
        sale = sell(rig.db, "SIMPLE-001")
        async with rig.client_for(_ReplayingNetwork(rig)) as client:
            first = await drain(client, rig.db, settle_s=0, refresh=False)
            assert first.paused is not None and "Nonce" in first.paused
            row = get_order(rig.db.conn, sale.uuid)
            assert row.state == "in_flight"  # its fate is unknown: looked up before any resend
            resumed = await drain(client, rig.db, settle_s=0, refresh=False, force=True)
        assert resumed.found_by_lookup == [sale.uuid]
        assert _copies(rig, sale.uuid) == 1
        assert get_order(rig.db.conn, sale.uuid).state == "synced"
        assert paused_reason(rig.db) is None
    finally:
        await close_rig(rig)


class _BreaksAfterCommit(httpx2.AsyncBaseTransport):
    """The store commits the upload, then the till sees an exception no one planned for."""

    def __init__(self, rig: Rig, error: Exception) -> None:
        self.inner = httpx2.ASGITransport(app=rig.app)
        self.error = error
        self.posts = 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self.inner.handle_async_request(request)
        if request.method == "POST":
            self.posts += 1
            if self.posts == 1:
                await response.aread()
                raise self.error
        return response


@pytest.mark.parametrize(
    "error",
    [OSError(104, "Connection reset by peer"), RuntimeError("a bug under the client")],
    ids=["OSError", "RuntimeError"],
)
async def test_an_unexpected_exception_after_a_post_is_ambiguous(
    tmp_path: Path, error: Exception
) -> None:
    """A raw OSError (or anything else unplanned) after the request left says nothing about
    its fate: the order stays in flight and is looked up, never failed (a person would then
    retry it into a second order) and never resent blindly."""
    rig = make_rig(tmp_path, home_url="https://sandbox.test")
    try:
        sale = sell(rig.db, "SIMPLE-001")
        async with rig.client_for(_BreaksAfterCommit(rig, error)) as client:
            report = await drain(client, rig.db, settle_s=0, refresh=False)
        assert report.failed == []
        assert report.found_by_lookup == [sale.uuid]
        assert _copies(rig, sale.uuid) == 1
    finally:
        await close_rig(rig)


class _AnswersWithoutTheOrder(httpx2.AsyncBaseTransport):
    """The store creates the order; something on the way answers 201 with ``{}``."""

    def __init__(self, rig: Rig) -> None:
        self.inner = httpx2.ASGITransport(app=rig.app)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self.inner.handle_async_request(request)
        if request.method == "POST":
            await response.aread()
            return httpx2.Response(201, content=json.dumps({}).encode(),
                                   headers={"Content-Type": "application/json",
                                            "Date": response.headers["date"]})  # fmt: skip
        return response


async def test_a_2xx_without_an_order_id_is_looked_up(tmp_path: Path) -> None:
    """201 with no order in it: the upload probably worked, but only a lookup can say; the
    order is found by UUID, recorded with the store's id, and not sent again."""
    rig = make_rig(tmp_path, home_url="https://sandbox.test")
    try:
        sale = sell(rig.db, "SIMPLE-001")
        async with rig.client_for(_AnswersWithoutTheOrder(rig)) as client:
            report = await drain(client, rig.db, settle_s=0, refresh=False)
        assert report.requests == 1 and report.found_by_lookup == [sale.uuid]
        (created,) = rig.store_orders_for(sale.uuid)
        assert get_order(rig.db.conn, sale.uuid).remote_id == created["id"]
    finally:
        await close_rig(rig)


class _BatchAnswerUnreadable(httpx2.AsyncBaseTransport):
    """The store creates the batch's orders; the answer that comes back is 200 JSON
    without the ``create`` list the API promises (an UnreadableAnswerError)."""

    def __init__(self, rig: Rig) -> None:
        self.inner = httpx2.ASGITransport(app=rig.app)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self.inner.handle_async_request(request)
        if request.method == "POST" and request.url.path.endswith("/orders/batch"):
            await response.aread()
            return httpx2.Response(200, content=b'{"update": []}',
                                   headers={"Content-Type": "application/json",
                                            "Date": response.headers["date"]})  # fmt: skip
        return response


async def test_an_unreadable_answer_to_a_post_is_looked_up_not_resent(tmp_path: Path) -> None:
    """The store's answer to an order upload cannot be read: the request reached the store,
    so the orders are looked up by UUID (found, recorded) and never sent a second time."""
    rig = make_rig(tmp_path, home_url="https://sandbox.test")
    try:
        sales = [sell(rig.db, "SIMPLE-001"), sell(rig.db, "SIMPLE-002")]
        async with rig.client_for(_BatchAnswerUnreadable(rig)) as client:
            report = await drain(client, rig.db, settle_s=0, refresh=False)
        assert report.failed == []
        assert sorted(report.found_by_lookup) == sorted(s.uuid for s in sales)
        assert [_copies(rig, s.uuid) for s in sales] == [1, 1]
    finally:
        await close_rig(rig)


async def test_our_own_invalid_payload_fails_the_order_without_sending_it(
    tmp_path: Path,
) -> None:
    """A sale whose payload does not fit the write model (a line subtotal that is not money)
    was never sent: nothing to look up, the order is failed with the reason, the store
    holds nothing, and the sale behind it still goes."""
    rig = make_rig(tmp_path, home_url="https://sandbox.test")
    try:
        broken, good = sell(rig.db, "SIMPLE-001"), sell(rig.db, "SIMPLE-002")
        with rig.db.write() as conn:
            conn.execute("UPDATE order_lines SET subtotal = 'not money' WHERE order_uuid = ?",
                         (broken.uuid,))  # fmt: skip
        report = await drain(rig.client, rig.db, settle_s=0, refresh=False)
        assert report.failed == [broken.uuid] and report.looked_up == 0
        assert get_order(rig.db.conn, broken.uuid).state == "failed"
        assert _copies(rig, broken.uuid) == 0
        assert report.synced == [good.uuid]
    finally:
        await close_rig(rig)
