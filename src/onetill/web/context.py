"""The till screen's state in one object: the backend, its own database connections, settings.

The screen opens two connections of its own to the till's SQLite file (WAL:
readers never wait for writers). Reads (scan, search, lists) run on the
event loop: they take well under a millisecond to a few. Writes (a sale,
retry, void) run in a worker thread, because a commit waits for the disk
(``synchronous=FULL``) and the event loop must keep serving the status
stream meanwhile.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

import anyio.to_thread
import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from onetill.config import Config
from onetill.pos.tender import PaymentMethods
from onetill.store.db import Database, open_database
from onetill.web.backend import TillBackend
from onetill.web.money import MoneyFormat, load_money_format
from onetill.web.payments import CardPayments
from onetill.web.receipts import store_identity
from onetill.web.sales import SaleSettings
from onetill.web.security import Guard

__all__ = ["MAX_BODY", "BadRequest", "Till", "error", "json_response"]

T = TypeVar("T")
S = TypeVar("S")

MAX_BODY = 256 * 1024  # a cart of 200 lines is a few kilobytes


class BadRequest(Exception):
    """The request body was not what the endpoint takes (message says what)."""


def _json_default(value: Any) -> Any:
    return str(value)


_encoder = msgspec.json.Encoder(enc_hook=_json_default)


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        _encoder.encode(data), status_code=status, media_type="application/json",
        headers={"cache-control": "no-store", **(headers or {})},
    )  # fmt: skip


def error(status: int, kind: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": kind, "message": message, **extra}, status_code=status)


class Till:
    """Everything the routes share."""

    def __init__(self, backend: TillBackend, card: CardPayments, guard: Guard) -> None:
        self.backend = backend
        self.card = card
        self.guard = guard
        self.reader = open_database(backend.home)
        self.writer = open_database(backend.home)

    def close(self) -> None:
        self.reader.close()
        self.writer.close()
        closer = getattr(self.card, "close", None)  # a card reader's own connections
        if closer is not None:
            closer()

    @property
    def config(self) -> Config | None:
        return self.backend.config

    @property
    def conn(self) -> sqlite3.Connection:
        return self.reader.conn

    @property
    def timezone(self) -> str:
        return self.config.timezone if self.config else "UTC"

    def setting(self, name: str, default: Any) -> Any:
        return self.config.extra.get(name, default) if self.config else default

    def fmt(self) -> MoneyFormat:
        return load_money_format(self.conn)

    def store(self) -> dict[str, Any]:
        cfg = self.config
        name = str(self.setting("store_name", "")) if cfg else ""
        return store_identity(self.conn, name, cfg.url if cfg else "")

    def methods(self) -> PaymentMethods:
        raw = self.setting("payment_methods", {})
        known = set(PaymentMethods.__dataclass_fields__)
        if not isinstance(raw, dict) or not set(raw) <= known:
            return PaymentMethods()
        return PaymentMethods(**{k: str(v) for k, v in raw.items()})

    def sale_settings(self) -> SaleSettings:
        policy = str(self.setting("out_of_stock", "warn"))
        return SaleSettings(
            till_id=self.config.till_id if self.config else "till",
            timezone=self.timezone,
            policy=policy if policy in ("warn", "block", "allow") else "warn",
            methods=self.methods(),
            fmt=self.fmt(),
        )

    async def write(self, work: Callable[[Database], T]) -> T:
        """Run ``work(writer)`` in a worker thread (one at a time)."""

        def run() -> T:
            with self.writer.lock:
                return work(self.writer)

        return await anyio.to_thread.run_sync(run)

    async def body(self, request: Request, model: type[S]) -> S:
        """The JSON body decoded into ``model``; ``BadRequest`` saying what is wrong."""
        if "json" not in request.headers.get("content-type", ""):
            raise BadRequest("send the request as JSON (Content-Type: application/json)")
        raw = b""
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > MAX_BODY:
                raise BadRequest(f"request body over {MAX_BODY // 1024} KB")
        try:
            return msgspec.json.decode(raw, type=model)
        except msgspec.ValidationError as exc:
            raise BadRequest(f"invalid request: {exc}") from None
        except msgspec.DecodeError:
            raise BadRequest("the request body is not valid JSON") from None
