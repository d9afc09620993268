"""The webhook receiver at its edges: hostile JSON, slow or vanishing clients, floods, and
requests for a host that is not the engine (DNS rebinding)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest
import uvicorn

from engine.engine_support import product_row, signed
from onetill.engine.app import StatusHub, create_engine_app
from onetill.engine.apply import CatalogWebhookHandler
from onetill.engine.hosts import HostPolicy
from onetill.engine.webhooks import WebhookReceiver
from onetill.store import Database
from onetill.store.discrepancies import list_discrepancies
from onetill.woo import WooClient
from support import load_fixture

pytestmark = pytest.mark.anyio

SECRET = "edge-secret"


@pytest.fixture
async def receiver(db: Database) -> AsyncIterator[WebhookReceiver]:
    woo = WooClient("http://127.0.0.1:9", "ck_x", "cs_unused_in_these_tests", max_attempts=1)
    yield WebhookReceiver(db, lambda: SECRET, CatalogWebhookHandler(woo, db))
    await woo.aclose()


async def test_deeply_nested_signed_json_is_a_400_not_a_crash(receiver: WebhookReceiver) -> None:
    body = b'{"id": 5, "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    headers, raw = signed(body, SECRET, "product.updated", "deep-1")
    result = await receiver.receive(headers, raw)
    assert (result.status, result.outcome) == (400, "rejected")
    assert "nested" in result.detail


async def test_invalid_utf8_in_a_delivery_is_replaced_applied_and_reported(
    receiver: WebhookReceiver, db: Database
) -> None:
    product = dict(load_fixture("product-simple.json")["response"]["body"])
    product["name"] = "Caf@@ Mug"
    raw = httpx2.Request("POST", "http://x", json=product).content.replace(b"@@", b"\xe9")
    headers, raw = signed(raw, SECRET, "product.updated", "utf8-1")
    result = await receiver.receive(headers, raw)
    assert (result.status, result.outcome) == (200, "applied")
    row = product_row(db, product["id"])
    assert row is not None and row["name"] == "Caf\ufffd Mug"
    assert any(d.field == "name" and "invalid UTF-8" in d.cause
               for d in list_discrepancies(db.conn))  # fmt: skip


# --- a real server: slow bodies, disconnects, floods, Host ----------------------------


@contextlib.asynccontextmanager
async def serving(app: Any) -> AsyncIterator[int]:
    """``app`` under a real uvicorn on 127.0.0.1:0 (as the engine serves it); stopped after."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="off",
                                           access_log=False, timeout_graceful_shutdown=1))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        for _ in range(1000):  # uvicorn has no "started" event
            if server.started:
                break
            await asyncio.sleep(0.01)
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        sock.close()


def engine_app(receiver: WebhookReceiver, **kw: Any) -> Any:
    hub = StatusHub(lambda: {"state": "online"}, refresh_s=0.05)
    return create_engine_app(receiver, hub, host_allowed=HostPolicy("127.0.0.1").allows, **kw)


async def _open_delivery(port: int, declared: int, sent: bytes) -> tuple[Any, Any]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"POST /webhooks/woocommerce HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: " + str(declared).encode()
        + b"\r\n\r\n" + sent
    )  # fmt: skip
    await writer.drain()
    return reader, writer


async def test_a_body_that_trickles_in_is_cut_off(receiver: WebhookReceiver) -> None:
    async with serving(engine_app(receiver, body_timeout_s=0.5)) as port:
        reader, writer = await _open_delivery(port, 100, b'{"id"')
        answer = await asyncio.wait_for(reader.read(200), 5)
        writer.close()
    assert answer.startswith(b"HTTP/1.1 408")


async def test_too_many_deliveries_at_once_get_503(receiver: WebhookReceiver) -> None:
    async with serving(engine_app(receiver, body_timeout_s=5, max_webhook_requests=2)) as port:
        held = [await _open_delivery(port, 100, b"{") for _ in range(2)]
        await asyncio.sleep(0.2)  # both are inside the handler, waiting for their bodies
        async with httpx2.AsyncClient(trust_env=False) as http:
            response = await http.post(f"http://127.0.0.1:{port}/webhooks/woocommerce",
                                       content=b"{}")  # fmt: skip
        for _, writer in held:
            writer.close()
    assert response.status_code == 503 and response.headers["retry-after"]


async def test_a_client_that_disconnects_mid_body_is_one_log_line(
    receiver: WebhookReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with serving(engine_app(receiver, body_timeout_s=5)) as port:
        _, writer = await _open_delivery(port, 1000, b'{"id": 1')
        await asyncio.sleep(0.2)
        writer.close()
        await asyncio.sleep(0.3)
    mine = [r for r in caplog.records if "disconnected before" in r.getMessage()]
    assert len(mine) == 1 and mine[0].exc_info is None
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


@pytest.mark.parametrize(
    ("host", "status"),
    [("evil.example", 400), ("evil.example:8000", 400), ("127.0.0.1", 200),
     ("localhost:8000", 200), ("", 400)],
)  # fmt: skip
async def test_only_requests_addressed_to_the_engine_are_answered(
    receiver: WebhookReceiver, host: str, status: int
) -> None:
    """DNS rebinding: a page on evil.example pointed at 127.0.0.1 still sends its own name."""
    transport = httpx2.ASGITransport(app=engine_app(receiver))
    async with httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        response = await http.get("/api/status", headers={"host": host})
    assert response.status_code == status


def test_host_policy_follows_the_bound_address_and_the_names_it_is_given() -> None:
    assert HostPolicy("0.0.0.0").allows("192.168.1.20:8000")
    assert not HostPolicy("0.0.0.0").allows("rebind.attacker.example")
    assert not HostPolicy("192.168.1.20").allows("127.0.0.1")
    assert HostPolicy("::1").allows("[::1]:8000") and HostPolicy("::1").allows("localhost")
    tunnel = HostPolicy("127.0.0.1", lambda: ["till.example.com"])
    assert tunnel.allows("TILL.example.com") and not tunnel.allows("other.example.com")
