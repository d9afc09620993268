"""Test-side helpers for the sandbox store: a small, independent OAuth 1.0a signer.

Written here on purpose (not imported from ``onetill.woo``): the sandbox's
verification and the client's signing must not share code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Generator
from typing import Any
from urllib.parse import parse_qsl, quote

import httpx2

__all__ = [
    "Clock",
    "OAuthSigner",
    "Receiver",
    "oauth_signature",
    "shape_differences",
    "store_client",
]


def _enc(value: str) -> str:
    return quote(value, safe="-_.~")


def oauth_signature(
    method: str,
    url: str,
    params: list[tuple[str, str]],
    secret: str,
    sig_method: str = "HMAC-SHA256",
) -> str:
    """WooCommerce's one-legged OAuth signature over ``params`` (oauth_signature excluded)."""
    pairs = sorted((k, v) for k, v in params if k != "oauth_signature")
    query = "%26".join(_enc(f"{_enc(k)}={_enc(v)}") for k, v in pairs)
    base = f"{method.upper()}&{_enc(url)}&{query}"
    algo = hashlib.sha1 if sig_method == "HMAC-SHA1" else hashlib.sha256
    return base64.b64encode(hmac.new(f"{secret}&".encode(), base.encode(), algo).digest()).decode()


class OAuthSigner(httpx2.Auth):
    """Signs every request (fresh nonce and timestamp) with oauth_* in the query string."""

    def __init__(
        self,
        key: str,
        secret: str,
        *,
        clock: Callable[[], float] = time.time,
        sig_method: str = "HMAC-SHA256",
    ) -> None:
        self.key, self.secret, self.clock, self.sig_method = key, secret, clock, sig_method

    def auth_flow(
        self, request: httpx2.Request
    ) -> Generator[httpx2.Request, httpx2.Response, None]:
        query = parse_qsl(request.url.query.decode(), keep_blank_values=True)
        oauth = [
            ("oauth_consumer_key", self.key),
            ("oauth_nonce", secrets.token_hex(16)),
            ("oauth_signature_method", self.sig_method),
            ("oauth_timestamp", str(int(self.clock()))),
        ]
        form: list[tuple[str, str]] = []
        if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            form = parse_qsl(request.content.decode(), keep_blank_values=True)
        base_url = str(request.url.copy_with(query=None))
        sig = oauth_signature(
            request.method, base_url, query + form + oauth, self.secret, self.sig_method
        )
        request.url = request.url.copy_merge_params(dict([*oauth, ("oauth_signature", sig)]))
        yield request


class Clock:
    """A settable clock for a SandboxStore (epoch seconds)."""

    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


def store_client(
    store: object, *, auth: httpx2.Auth | str | None = "oauth", home_url: str | None = None
) -> httpx2.AsyncClient:
    """An AsyncClient over ASGITransport to ``build_api(store)``; OAuth-signed unless auth=None."""
    from onetill.sandbox.api import build_api
    from onetill.sandbox.state import SandboxStore

    assert isinstance(store, SandboxStore)
    if auth == "oauth":
        key, secret = next(iter(store.config.keys.items()))
        auth = OAuthSigner(key, secret, clock=store.now)
    return httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=build_api(store)),
        base_url=home_url or store.config.home_url,
        auth=auth if isinstance(auth, httpx2.Auth) else None,
    )


class Receiver:
    """A loopback HTTP sink on 127.0.0.1:0 that records every POST (start/stop it in the test)."""

    def __init__(self, status: int = 200) -> None:
        import asyncio

        self.status = status
        self.requests: list[dict[str, object]] = []
        self.arrived = asyncio.Event()
        self._server: asyncio.Server | None = None
        self.url = ""

    async def start(self) -> None:
        import asyncio

        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/hook"

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: object, writer: object) -> None:
        import asyncio

        assert isinstance(reader, asyncio.StreamReader) and isinstance(writer, asyncio.StreamWriter)
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                k, _, v = line.partition(":")
                headers[k.strip().lower()] = v.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        self.requests.append({"line": lines[0], "headers": headers, "body": body})
        self.arrived.set()
        writer.write(
            f"HTTP/1.1 {self.status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode()
        )
        await writer.drain()
        writer.close()


def _kind(v: Any) -> str:
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int | float):
        return "number"  # PHP prints 9.0 as 9: int and float are one JSON type here
    if v is None:
        return "null"
    return type(v).__name__


def shape_differences(recorded: Any, got: Any, path: str = "$") -> list[str]:
    """Where ``got`` differs from ``recorded`` in keys or JSON types (values ignored)."""
    if _kind(recorded) != _kind(got):
        return [f"{path}: {_kind(recorded)} recorded, {_kind(got)} from sandbox"]
    out: list[str] = []
    if isinstance(recorded, dict):
        missing = sorted(set(recorded) - set(got))
        extra = sorted(set(got) - set(recorded))
        out += [f"{path}.{k}: missing" for k in missing] + [f"{path}.{k}: extra" for k in extra]
        for k in recorded:
            if k in got:
                out += shape_differences(recorded[k], got[k], f"{path}.{k}")
    elif isinstance(recorded, list):
        if recorded and not got:
            out.append(f"{path}: empty list from sandbox")
        for i, (r, g) in enumerate(zip(recorded, got, strict=False)):
            out += shape_differences(r, g, f"{path}[{i}]")
    return out
